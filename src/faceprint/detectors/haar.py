"""OpenCV's Viola-Jones Haar cascade (Lienhart's ``haarcascade_frontalface_alt.xml``).

Needs opencv-python-headless 4.x: OpenCV 5 dropped ``CascadeClassifier`` and
the cascade files. Scores are the cascade's final-stage level weights.

Why ``alt`` with 4 neighbours: on the 43 hand-boxed faces of the PASCAL
photos in ../shared/data/photos, OpenCV's ``default`` cascade finds 3 "faces"
in the dogs photo with any grouping setting that keeps its recall; ``alt``
with ``minNeighbors=4`` finds 38 of 43 faces, 2 false positives, and nothing
on the dogs (measured with ``benchmarks/haar_settings.py``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..errors import ModelError
from ..image import to_gray
from ..types import Box
from .base import BaseDetector, RawFace

if TYPE_CHECKING:
    import cv2


class HaarDetector(BaseDetector):
    """Fast, frontal faces only, more false positives than the learned detectors.

    ``upsample`` doubles the image before the search; ``threshold`` applies to
    the level weight (by default every window that survives the
    ``min_neighbors`` grouping is kept).
    """

    name: ClassVar[str] = "haar"
    cascade_file: ClassVar[str] = "haarcascade_frontalface_alt.xml"
    #: every window that survives the neighbour grouping is kept by default
    default_threshold: ClassVar[float] = float("-inf")
    #: cascade window grouping: how many overlapping hits make a face
    min_neighbors: ClassVar[int] = 4
    #: medians over 504 faces matched with HOG on 500 LFW peopleDevTrain images
    #: (mean IoU with HOG 0.765 -> 0.856), from
    #: ``python benchmarks/calibrate_boxes.py --detector haar`` (seed 0, 500 images)
    dlib_box_calibration: ClassVar[tuple[float, float, float, float]] = (
        0.0000, 0.1111, 0.9416, 0.9391)
    scale_factor: ClassVar[float] = 1.1
    #: one cascade per thread: a CascadeClassifier must not run in two threads at once
    _local = threading.local()

    @classmethod
    def _cascade(cls) -> cv2.CascadeClassifier:
        model = getattr(cls._local, "model", None)
        if model is None:
            import cv2

            if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
                raise ModelError("this OpenCV has no Haar cascades (OpenCV 5 dropped them); "
                                 "install opencv-python-headless<5")
            path = Path(cv2.data.haarcascades) / cls.cascade_file  # type: ignore[attr-defined]
            model = cv2.CascadeClassifier(str(path))
            if model.empty():
                raise ModelError(f"cannot load the Haar cascade {path}")
            cls._local.model = model
        return model

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        import cv2

        gray = cv2.equalizeHist(to_gray(image))
        factor = 2 ** self.upsample
        if factor > 1:
            gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        min_size = max(int(self.options.min_face_size * factor), 20)
        rects, _levels, weights = self._cascade().detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(min_size, min_size), outputRejectLevels=True)
        out = []
        for (x, y, w, h), score in zip(np.asarray(rects).reshape(-1, 4),
                                       np.asarray(weights).reshape(-1)):
            if score > self.threshold:
                out.append(RawFace(Box(float(x) / factor, float(y) / factor, float(w) / factor,
                                       float(h) / factor),
                                   float(score)))
        return out
