"""Face detectors. Each module holds one detector; :mod:`.base` defines what they share.

Create them by name with :func:`faceprint.registry.create_detector`.
"""

from .base import BaseDetector, Detector, DetectorOptions, RawFace

__all__ = ["BaseDetector", "Detector", "DetectorOptions", "RawFace"]
