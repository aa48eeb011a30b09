"""Small shared helpers around dlib: cached model loading and box conversion.

dlib is imported only inside these functions, so importing faceprint stays
cheap; each model file is read once per process.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import numpy as np

from .types import Box
from .weights import weight_path

_lock = threading.Lock()


@cache
def shape_predictor(key: str) -> Any:
    """dlib's shape predictor for weight key ``dlib-sp5`` or ``dlib-sp68``."""
    import dlib

    with _lock:
        return dlib.shape_predictor(str(weight_path(key)))


def to_rectangle(box: Box) -> Any:
    """A faceprint box as a dlib integer rectangle (inclusive right/bottom, as dlib's
    detectors report them)."""
    import dlib

    left, top = round(box.left), round(box.top)
    return dlib.rectangle(left, top, left + round(box.width) - 1, top + round(box.height) - 1)


def from_rectangle(rect: Any) -> Box:
    """A dlib rectangle (inclusive corners) as a faceprint box."""
    return Box(float(rect.left()), float(rect.top()), float(rect.width()),
               float(rect.height()))


def shape_points(shape: Any) -> np.ndarray:
    """The parts of a dlib full_object_detection as an ``(N, 2)`` float64 array."""
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
