"""Evaluation: protocols (LFW), metrics, and reports."""
