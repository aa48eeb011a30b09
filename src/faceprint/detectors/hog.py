"""dlib's HOG + linear SVM face detector (Dalal & Triggs features, King's
max-margin training), the detector face_recognition uses by default."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np

from .._dlib import from_rectangle
from .base import BaseDetector, RawFace


class HogDetector(BaseDetector):
    """Frontal faces of about 80 pixels and up; each ``upsample`` halves that size.

    Scores are dlib's SVM margins. The default threshold, -0.2, is a little
    below dlib's 0: it is the lowest (in steps of 0.1) that still gives no
    false positive on the training photos of ../shared/data/photos
    (``training.xml``) and none on ``dogs.jpg``; at -0.3 one appears in each.
    It finds a face in more LFW images (99.78 % instead of 99.49 %, see
    README). Raise it to trade recall for precision.
    """

    name: ClassVar[str] = "hog"
    default_upsample: ClassVar[int] = 1
    default_threshold: ClassVar[float] = -0.2
    #: one dlib detector per thread: dlib's object detector keeps scratch buffers
    #: inside, and two threads running one of them at once crash the process
    _local = threading.local()

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        model: Any = getattr(HogDetector._local, "model", None)
        if model is None:
            import dlib

            model = HogDetector._local.model = dlib.get_frontal_face_detector()
        rects, scores, _ = model.run(image, self.upsample, self.threshold)
        return [RawFace(from_rectangle(r), float(s)) for r, s in zip(rects, scores)]
