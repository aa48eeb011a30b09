"""OpenCV's DNN module: networks it reads from ``.tflite`` files (BlazeFace's
fall-back engine when LiteRT is not installed) and Caffe files (the Levi-Hassner
age and gender nets). Importing this module does not import OpenCV."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import cv2

__all__ = ["opencv_caffe_net", "opencv_tflite_net"]


def opencv_tflite_net(path: str | Path) -> cv2.dnn.Net:
    """An OpenCV DNN network read from the ``.tflite`` file ``path`` (one forward pass
    at a time: the caller gives each thread its own)."""
    import cv2

    return cv2.dnn.readNetFromTFLite(str(path))


def opencv_caffe_net(prototxt: str | Path, weights: str | Path) -> cv2.dnn.Net:
    """An OpenCV DNN network read from a Caffe definition and its weights (one forward
    pass at a time: the caller gives each thread its own)."""
    import cv2

    return cv2.dnn.readNetFromCaffe(str(prototxt), str(weights))
