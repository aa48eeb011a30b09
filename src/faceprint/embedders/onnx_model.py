"""Embedders exported by ``faceprint export`` (or any ONNX model carrying the same
metadata), run with ONNX Runtime - no PyTorch needed.

The model file says everything faceprint needs in its metadata (ONNX
``metadata_props``, all strings):

``faceprint.format``         "1"
``faceprint.name``           a human name for the model
``faceprint.dim``            embedding length
``faceprint.metric``         "sqeuclidean", "euclidean" or "cosine"
``faceprint.threshold``      same-person distance threshold, in ``metric`` units
``faceprint.chip``           JSON ChipSpec: ``{"size", "method", "padding", "template"}``
``faceprint.normalisation``  JSON: ``{"scale", "mean", "std", "layout": "NCHW",
                             "channels": "RGB"}``: input = (chip * scale - mean) / std
``faceprint.calibration``    JSON (optional): where the threshold comes from

Input: one float32 tensor ``(N, 3, S, S)``; output ``(N, dim)`` embeddings, which are
L2-normalised here (they already are for faceprint's exports).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..align import ChipSpec
from ..errors import ImageError, ModelError
from ..runtime.onnxrt import (
    default_threads,
    model_metadata,
    open_session,
    resolve_providers,
    run_batches,
)
from ..types import Metric
from .base import l2_normalize

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

METADATA_FORMAT = "1"
REQUIRED = ("faceprint.dim", "faceprint.metric", "faceprint.threshold", "faceprint.chip",
            "faceprint.normalisation")
METRICS = ("sqeuclidean", "euclidean", "cosine")
#: the model shipped inside the package as embedder ``faceprint-small``
SMALL_MODEL = "faceprint-small.onnx"


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (ModelError when it cannot be read)."""
    return model_metadata(path)


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """The typed fields of faceprint's ONNX metadata (see the module docstring)."""

    name: str
    dim: int
    metric: Metric
    threshold: float
    chip: ChipSpec
    scale: float
    mean: np.ndarray  # (1, 3, 1, 1) float32
    std: np.ndarray  # (1, 3, 1, 1) float32
    calibration: Any  # JSON: where the threshold comes from (None when not given)


def parse_metadata(meta: dict[str, str], where: str) -> ModelMetadata:
    """The typed fields of faceprint's ONNX metadata; ModelError names what is missing."""
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise ModelError(f"{where}: not a faceprint embedding model: its ONNX metadata "
                         f"lacks {', '.join(missing)} (export models with `faceprint export`)")
    try:
        chip = json.loads(meta["faceprint.chip"])
        norm = json.loads(meta["faceprint.normalisation"])
        template = chip.get("template")
        spec = ChipSpec(size=int(chip["size"]), method=chip.get("method", "dlib5"),
                        padding=float(chip.get("padding", 0.25)),
                        template=tuple((float(pt[0]), float(pt[1])) for pt in template)
                        if template else None)
        metric = meta["faceprint.metric"]
        if metric not in METRICS:
            raise ValueError(f"metric {metric!r} is not one of {', '.join(METRICS)}")
        if norm.get("layout", "NCHW") != "NCHW" or norm.get("channels", "RGB") != "RGB":
            raise ValueError("only NCHW RGB input is supported")
        return ModelMetadata(
            name=meta.get("faceprint.name", "onnx"),
            dim=int(meta["faceprint.dim"]),
            metric=cast("Metric", metric),
            threshold=float(meta["faceprint.threshold"]),
            chip=spec,
            scale=float(norm.get("scale", 1.0 / 255.0)),
            mean=np.asarray(norm["mean"], np.float32).reshape(1, 3, 1, 1),
            std=np.asarray(norm["std"], np.float32).reshape(1, 3, 1, 1),
            calibration=json.loads(meta.get("faceprint.calibration", "null")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelError(f"{where}: faceprint metadata is malformed ({exc})") from None


class OnnxEmbedder:
    """An embedding model exported to ONNX with faceprint's metadata.

    path: the ``.onnx`` file (``--embedder onnx:PATH``).
    threads: ONNX Runtime threads (default ``$FACEPRINT_THREADS`` or every core).
    providers: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
    batch_size: chips per ONNX Runtime call.
    """

    #: the name when the model's metadata gives none (``faceprint.name`` does)
    name: str = "onnx"
    normalized = True

    def __init__(self, path: str | Path, threads: int | None = None,
                 providers: str | None = None, batch_size: int = 64) -> None:
        self.path = Path(path)
        info = parse_metadata(read_metadata(self.path), str(self.path))
        self.name = info.name
        self.dim: int = info.dim
        self.metric: Metric = info.metric
        self.threshold: float = info.threshold
        self.chip: ChipSpec = info.chip
        self.calibration: Any = info.calibration
        self._scale: float = info.scale
        self._mean: np.ndarray = info.mean
        self._std: np.ndarray = info.std
        self.batch_size = batch_size
        self.threads = threads or default_threads()
        self._providers = resolve_providers(providers)
        self._session: InferenceSession | None = None

    @property
    def session(self) -> InferenceSession:
        """The ONNX Runtime session (shared per file, thread count and providers)."""
        return self.session_for(None)

    def session_for(self, batch: int | None) -> InferenceSession:
        """The session, or on CUDA the session for batches of size ``batch`` alone
        (:func:`faceprint.runtime.run_batches`)."""
        if batch is None:
            if self._session is None:
                self._session = open_session(self.path, self.threads, self._providers)
            return self._session
        return open_session(self.path, self.threads, self._providers, batch)

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB chips -> ``(N, dim)`` float32 unit embeddings."""
        chips = np.asarray(chips)
        s = self.chip.size
        if chips.ndim != 4 or chips.shape[1:] != (s, s, 3) or chips.dtype != np.uint8:
            raise ImageError(f"{self.name} takes (N, {s}, {s}, 3) uint8 chips, got "
                             f"{chips.shape} {chips.dtype}")
        if len(chips) == 0:
            return np.empty((0, self.dim), np.float32)

        def prepare(batch: np.ndarray) -> np.ndarray:
            x = (batch.transpose(0, 3, 1, 2).astype(np.float32) * self._scale - self._mean)
            return (x / self._std).astype(np.float32, copy=False)

        y = run_batches(self.session_for, self.session.get_inputs()[0].name, chips,
                        self.batch_size, prepare)
        return l2_normalize(y).astype(np.float32, copy=False)


def small_model_path() -> Path:
    """The model shipped in the package as ``faceprint-small``."""
    return Path(__file__).resolve().parents[1] / "data" / SMALL_MODEL


class FaceprintSmallEmbedder(OnnxEmbedder):
    """``faceprint-small``: the distilled MobileFaceNet-style model shipped in the
    package (see docs/training.md for how it was trained and what it scores)."""

    name = "faceprint-small"

    def __init__(self, threads: int | None = None, providers: str | None = None,
                 batch_size: int = 64) -> None:
        path = small_model_path()
        if not path.is_file():
            raise ModelError(f"the faceprint-small model is missing from the installed "
                             f"package ({path}); reinstall faceprint")
        super().__init__(path, threads=threads, providers=providers, batch_size=batch_size)
        self.name = "faceprint-small"
