"""The plain functions: load an image, find its faces, embed them, compare two.

Each call reuses one :class:`~faceprint.pipeline.Pipeline` per configuration,
so models load once, on the first call that needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from .image import ImageInput, load_image
from .pipeline import Pipeline
from .registry import DEFAULT_DETECTOR, DEFAULT_EMBEDDER
from .types import Comparison, Face

__all__ = ["compare", "detect", "embed", "load_image"]


@lru_cache(maxsize=16)
def _pipeline(detector: str, embedder: str, options: tuple[tuple[str, Any], ...]) -> Pipeline:
    return Pipeline(detector, embedder, detector_options=dict(options))


def detect(image: ImageInput, detector: str = DEFAULT_DETECTOR, *,
           attributes: str | Sequence[str] | None = None, **options: Any) -> list[Face]:
    """Faces in ``image``, highest score first. ``attributes``: what to compute for each
    face beyond box, landmarks and pose (``("age", "gender")``; the names are
    :data:`faceprint.attributes.ATTRIBUTE_NAMES`), in ``Face.attributes``. ``options``:
    ``min_face_size``, ``upsample``, ``threshold``, ``max_faces``, ``landmarks``."""
    return _pipeline(detector, DEFAULT_EMBEDDER, tuple(sorted(options.items()))).detect(
        image, attributes=attributes)


def embed(image: ImageInput, faces: list[Face] | None = None, *,
          detector: str = DEFAULT_DETECTOR, embedder: str = DEFAULT_EMBEDDER) -> np.ndarray:
    """``(N, D)`` embeddings of the faces of ``image`` (found with ``detector`` unless
    ``faces`` are given), in the order of ``faces``."""
    pipe = _pipeline(detector, embedder, ())
    array = pipe.load(image)
    if faces is None:
        faces = pipe.detector.detect(array)
    return pipe.embed_faces(array, faces)


def compare(a: ImageInput, b: ImageInput, *, detector: str = DEFAULT_DETECTOR,
            embedder: str = DEFAULT_EMBEDDER) -> Comparison:
    """Are the largest faces of two images the same person? NoFaceError if either has none."""
    return _pipeline(detector, embedder, ()).compare(a, b)
