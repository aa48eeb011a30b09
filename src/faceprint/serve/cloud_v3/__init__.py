"""The cloud face API v3 shape: request/response translation only (see routes.py)."""
