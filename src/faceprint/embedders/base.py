"""The Embedder protocol: what an embedder tells the rest of faceprint about itself."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..align import ChipSpec
from ..types import Metric


@runtime_checkable
class Embedder(Protocol):
    """Turns aligned face chips into embeddings.

    name: registry name (``"dlib-resnet"``).
    dim: embedding length.
    metric: how two embeddings are compared (see :mod:`faceprint.distance`).
    threshold: distances at or below it mean "same person", in ``metric`` units.
    chip: the aligned chip the embedder takes.
    normalized: whether outputs are unit vectors (all faceprint embedders but
        ``dlib-resnet``, which keeps dlib's own vectors so that they equal dlib's).
    """

    name: str
    dim: int
    metric: Metric
    threshold: float
    chip: ChipSpec
    normalized: bool

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB chips -> ``(N, dim)`` float32 embeddings."""
        ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm (float32); zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)
