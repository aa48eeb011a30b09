"""Face attributes computed on request: age, gender, emotion, quality, liveness and
the 468-point mesh (one module per model; :mod:`.base` ties them)."""

from .base import ATTRIBUTE_NAMES, compute_attributes, parse_attributes

__all__ = ["ATTRIBUTE_NAMES", "compute_attributes", "parse_attributes"]
