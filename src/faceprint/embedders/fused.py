"""Fused embedders ``A+B``: two registered embedders as one vector.

Each part's similarity of two faces is the cosine of its unit vectors, ``s_i``. On LFW
View 1's training pairs (``pairsDevTrain.txt``, never View 2), each ``s_i`` is
standardised, ``z_i = (s_i - mean_i) / std_i``, and a logistic regression of
same/different on the ``z_i`` gives coefficients ``b_i``. The fused score
``sum_i b_i z_i`` orders pairs exactly as ``sum_i w_i s_i`` with ``w_i = b_i / std_i``
normalised to sum to 1, so the fused vector is the concatenation of each part's unit
vector scaled by ``sqrt(w_i)``: its inner product with another fused vector is
``sum_i w_i s_i`` (a unit vector itself, since the weights sum to 1), and the gallery,
clustering and the service keep one vector per face with the cosine metric. The
threshold (cosine distance ``1 - sum_i w_i s_i``) is the accuracy-maximising one on
the same training pairs.

The fitted constants are stored in ``faceprint/data/fusion.json`` with the command that
made them (``benchmarks/fit_fusion.py``). Flip and jitter averaging are applied to each
part on its own chips before the parts are combined (:meth:`Pipeline.embed_chips`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..align import ChipSpec, unpack
from ..errors import ModelError
from ..types import Metric
from .base import Embedder, l2_normalize

FUSION_FILE = Path(__file__).resolve().parents[1] / "data" / "fusion.json"


@cache
def fusion_constants() -> dict[str, Any]:
    """The fitted fusions by name (empty when the file is missing)."""
    if not FUSION_FILE.is_file():
        return {}
    data: dict[str, Any] = json.loads(FUSION_FILE.read_text())
    return data


def fused_vector(parts: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """``(N, sum dims)``: each part's rows made unit vectors, scaled by ``sqrt(w_i)``,
    concatenated."""
    return np.concatenate([l2_normalize(p) * np.float32(np.sqrt(w))
                           for p, w in zip(parts, weights)], axis=1).astype(np.float32)


class FusedEmbedder:
    """The fusion of the embedders ``parts``, registered as ``names``
    (``"sface+dlib-resnet"`` is ``("sface", "dlib-resnet")``; the registry builds the
    parts), with the weights and threshold fitted for that name (``weights``/
    ``threshold`` override them, e.g. while fitting)."""

    metric: Metric = "cosine"
    normalized = True

    def __init__(self, names: tuple[str, ...], parts: tuple[Embedder, ...], *,
                 weights: list[float] | None = None, threshold: float | None = None) -> None:
        self.name = "+".join(names)
        fitted = fusion_constants().get(self.name)
        if weights is None or threshold is None:
            if fitted is None:
                raise ModelError(
                    f"no fitted weights for the fused embedder {self.name!r} (fitted: "
                    f"{', '.join(fusion_constants()) or 'none'}); fit them on LFW View 1 "
                    f"with: python benchmarks/fit_fusion.py {' '.join(names)}")
            weights = weights if weights is not None else list(fitted["weights"])
            threshold = threshold if threshold is not None else float(fitted["threshold"])
        if len(weights) != len(names) or min(weights) < 0 or not np.isclose(sum(weights), 1):
            raise ModelError(f"{self.name}: weights must be {len(names)} non-negative numbers "
                             f"summing to 1, got {weights}")
        self.weights = [float(w) for w in weights]
        self.threshold = float(threshold)
        self.parts = parts
        self.dim = sum(p.dim for p in self.parts)
        self.chip = ChipSpec.of_parts(tuple(p.chip for p in self.parts))

    @property
    def providers(self) -> list[str]:
        """Where the parts run (their providers, in order, without repeats)."""
        out: list[str] = []
        for p in self.parts:
            for name in getattr(p, "providers", []):
                if name not in out:
                    out.append(name)
        return out

    def combine(self, vectors: list[np.ndarray]) -> np.ndarray:
        """The fused vectors of the parts' embeddings of the same faces."""
        return fused_vector(vectors, self.weights)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Packed chips (:func:`faceprint.align.pack`) -> ``(N, dim)`` unit vectors."""
        split = unpack(self.chip, np.asarray(chips))
        return self.combine([p.embed_chips(c) for p, c in zip(self.parts, split)])
