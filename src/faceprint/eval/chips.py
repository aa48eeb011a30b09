"""Faces and aligned chips of evaluation images, computed once and cached.

The classical embedders are fitted per fold, so their evaluation cannot cache
embeddings; it caches what they are computed from instead: each image's face
(found by the detector, the one nearest the image centre, or LFW's centred
crop when none is found - :func:`faceprint.datasets.lfw.face_of_interest`) and
the aligned chip cut around it. Both are jobs over
:func:`faceprint.batch.map_images` (worker processes); both caches are keyed by
every setting that changes them (see :mod:`faceprint.cache`).

How each image's face is found is a :class:`~faceprint.pipeline.PipelineRecipe`:
its detector, detector options and degradation (its embedder plays no part).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..align import ChipSpec
from ..batch import Job, map_images
from ..cache import NpzCache, cache_dir, config_key
from ..datasets.lfw import face_of_interest
from ..errors import DataError
from ..pipeline import Pipeline, PipelineRecipe
from ..registry import detector_calibration, detector_defaults
from ..types import Box, Face, Landmarks

#: bump when the way faces or chips are computed changes, to invalidate caches
CHIP_CACHE_VERSION = 1
def face_recipe(recipe: PipelineRecipe, landmarks: bool = True) -> PipelineRecipe:
    """The part of ``recipe`` that finds faces (detector, its options, degradation),
    with the five landmarks of detected faces computed or not (``landmarks5`` chips
    need them; ``dlib5`` chips run dlib's own predictor on the box)."""
    options = {k: v for k, v in recipe.detector_options if k != "landmarks"}
    if not landmarks:
        options["landmarks"] = False
    return PipelineRecipe(recipe.detector, detector_options=tuple(sorted(options.items())),
                          degrade=recipe.degrade)


def faces_key(recipe: PipelineRecipe) -> str:
    """The cache key of the faces that ``recipe`` finds."""
    options = tuple((k, v) for k, v in recipe.detector_options if k != "landmarks")
    landmarks = dict(recipe.detector_options).get("landmarks", True)
    parts: list[Any] = [CHIP_CACHE_VERSION, recipe.detector, options, landmarks,
                        detector_defaults(recipe.detector)]
    if recipe.degrade is not None:
        parts.append([recipe.degrade.kind, recipe.degrade.value])
    return config_key(parts)


@dataclass(slots=True)
class ChipSet:
    """Aligned chips ``(N, S, S, 3)`` uint8 of images, row ``index[path]``."""

    chips: np.ndarray
    index: dict[str, int]
    found: np.ndarray

    def take(self, paths: Sequence[str]) -> np.ndarray:
        """The chips of ``paths`` (resolved path strings), in that order."""
        return self.chips[[self.index[p] for p in paths]]


# -- faces -------------------------------------------------------------------------
def locate_face(pipe: Pipeline, path: str) -> tuple[Face, bool]:
    """The job: an image's face of interest and whether the detector found it."""
    return face_of_interest(pipe.detector, pipe.load(path))


def _encode_faces(keys: list[str], values: list[tuple[Face, bool]]) -> dict[str, Any]:
    faces = [f for f, _ in values]
    marks = np.array([f.landmarks.as_array() if f.landmarks else np.full((5, 2), np.nan)
                      for f in faces]).reshape(-1, 5, 2)
    return {"boxes": np.array([[f.box.left, f.box.top, f.box.width, f.box.height]
                               for f in faces]).reshape(-1, 4),
            "scores": np.array([f.score for f in faces]), "landmarks": marks,
            "detectors": np.array([f.detector for f in faces]),
            "found": np.array([found for _, found in values], dtype=bool)}


def _decode_faces(z: Any) -> list[tuple[Face, bool]]:
    out = []
    for b, s, m, d, f in zip(z["boxes"], z["scores"], z["landmarks"], z["detectors"],
                             z["found"]):
        marks = None if np.isnan(m).any() else Landmarks.from_array(m)
        out.append((Face(Box(*map(float, b)), float(s), marks, None, str(d),
                         detector_calibration(str(d))), bool(f)))
    return out


def locate_faces(paths: Iterable[str | Path], recipe: PipelineRecipe, *, workers: int = 0,
                 use_cache: bool = True, progress: bool = True
                 ) -> tuple[dict[str, tuple[Face, bool]], dict[str, str]]:
    """The central face of each image (fallback: LFW's centred crop) and whether the
    detector found it, by resolved path, cached; and the errors of images that failed."""
    todo = sorted({str(Path(p).resolve()) for p in paths})
    cache = (NpzCache(cache_dir("faces") / f"{faces_key(recipe)}.npz", _encode_faces,
                      _decode_faces, save_every=2000) if use_cache else None)
    desc = f"faces {recipe.detector}{' ' + recipe.degrade.label if recipe.degrade else ''}"
    faces: dict[str, tuple[Face, bool]] = {}
    errors: dict[str, str] = {}
    for out in map_images(recipe, todo, locate_face, workers=workers, chunk_size=8,
                          cache=cache,
                          progress=progress, desc=desc):
        if out.value is None:
            errors[out.source] = out.error or "failed"
        else:
            faces[out.source] = out.value
    return faces, errors


# -- chips -------------------------------------------------------------------------
class CutChip(Job[tuple[str, Face], np.ndarray]):
    """The job: the aligned chip (``spec``) of a given face of an image."""

    def __init__(self, spec: ChipSpec) -> None:
        self.spec = spec

    def prepare(self, pipe: Pipeline, source: tuple[str, Face]) -> np.ndarray:
        from ..align import align

        path, face = source
        chip: np.ndarray = align(pipe.load(path), [face], self.spec)[0]
        return chip


def extract_chips(paths: Iterable[str | Path], recipe: PipelineRecipe, spec: ChipSpec, *,
                  workers: int = 0, use_cache: bool = True, progress: bool = True) -> ChipSet:
    """Aligned chips (``spec``) of the central face of each image, found as
    ``recipe`` says (:func:`face_recipe`), cached per (face recipe, chip spec).
    Raises DataError if an image fails."""
    todo = sorted({str(Path(p).resolve()) for p in paths})
    key = config_key([faces_key(face_recipe(recipe)), spec.size, spec.method, spec.padding,
                      spec.template])
    cache = (NpzCache(cache_dir("chips") / f"{key}.npz",
                      lambda keys, chips: {"chips": np.stack([c for c, _ in chips]),
                                           "found": np.array([f for _, f in chips],
                                                             dtype=bool)},
                      lambda z: list(zip(z["chips"], (bool(f) for f in z["found"]))))
             if use_cache else None)
    chips: dict[str, tuple[np.ndarray, bool]] = {}
    missing = todo
    if cache is not None:
        chips = {p: v for p in todo if (v := cache.get(p)) is not None}
        missing = [p for p in todo if p not in chips]
    if missing:
        finder = face_recipe(recipe, landmarks=spec.method != "dlib5")
        faces, errors = locate_faces(missing, finder, workers=workers, use_cache=use_cache,
                                     progress=progress)
        if errors:
            err = next(iter(errors.values()))
            raise DataError(f"{len(errors)} images could not be read, e.g. {err}")
        items = [(p, faces[p][0]) for p in missing]
        for out in map_images(finder, items, CutChip(spec), workers=workers, chunk_size=16,
                              progress=progress, desc=f"chips {spec.size}px"):
            path = out.source[0]
            if out.value is None:
                raise DataError(f"{path}: cannot cut the face chip ({out.error})")
            chips[path] = (out.value, faces[path][1])
            if cache is not None:
                cache.put(path, chips[path])
        if cache is not None:
            cache.flush()
    index = {p: i for i, p in enumerate(todo)}
    stacked = np.stack([chips[p][0] for p in todo]) if todo else \
        np.empty((0, spec.size, spec.size, 3), np.uint8)
    return ChipSet(stacked, index, np.array([chips[p][1] for p in todo], dtype=bool))
