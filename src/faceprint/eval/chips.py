"""Faces and aligned chips of evaluation images, computed once and cached.

The classical embedders are fitted per fold, so their evaluation cannot cache
embeddings; it caches what they are computed from instead: each image's face
(found by the detector, the one nearest the image centre, or LFW's centred
crop when none is found - see :mod:`faceprint.eval.lfw`) and the aligned chip
cut around it. Both run in worker processes; both caches are keyed by every
setting that changes them (see :mod:`faceprint.cache`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..align import ChipSpec
from ..cache import cache_dir, config_key
from ..errors import FaceprintError
from ..registry import DEFAULT_DETECTOR, detector_calibration, detector_defaults
from ..types import Box, Face, Landmarks
from .degrade import Degradation

#: bump when the way faces or chips are computed changes, to invalidate caches
CHIP_CACHE_VERSION = 1
#: LFW's centred crop on a 250 x 250 image, as fractions of width and height
CENTRE_BOX = (67 / 250, 80 / 250, 109 / 250, 108 / 250)


def centre_face(image: np.ndarray) -> Face:
    """The fallback face: LFW's centred crop, with landmarks from dlib's 68-point model."""
    from ..detectors.pose import estimate_pose
    from ..detectors.shape import landmarks_from_shape

    h, w = image.shape[:2]
    fx, fy, fw, fh = CENTRE_BOX
    box = Box(fx * w, fy * h, fw * w, fh * h)
    points = landmarks_from_shape(image, [box])[0]
    return Face(box, 0.0, Landmarks.from_array(points), estimate_pose(points), "centre-crop")


def central(faces: Sequence[Face], width: int, height: int) -> Face:
    """The face whose box centre is nearest the image centre."""
    cx, cy = width / 2.0, height / 2.0
    return min(faces, key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2)


@dataclass(frozen=True, slots=True)
class FaceConfig:
    """A picklable description of how each image's face is found."""

    detector: str = DEFAULT_DETECTOR
    detector_options: tuple[tuple[str, Any], ...] = ()
    degrade: Degradation | None = None
    #: compute the five landmarks of detected faces (``landmarks5`` chips need
    #: them; ``dlib5`` chips run dlib's own predictor on the box)
    landmarks: bool = True

    def key(self) -> str:
        parts: list[Any] = [CHIP_CACHE_VERSION, self.detector, self.detector_options,
                            self.landmarks, detector_defaults(self.detector)]
        if self.degrade is not None:
            parts.append([self.degrade.kind, self.degrade.value])
        return config_key(parts)


@dataclass(slots=True)
class FaceSet:
    """The face of each image (by resolved path) and whether the detector found it."""

    faces: dict[str, Face] = field(default_factory=dict)
    found: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ChipSet:
    """Aligned chips ``(N, S, S, 3)`` uint8 of images, row ``index[path]``."""

    chips: np.ndarray
    index: dict[str, int]
    found: np.ndarray

    def take(self, paths: Sequence[str]) -> np.ndarray:
        """The chips of ``paths`` (resolved path strings), in that order."""
        return self.chips[[self.index[p] for p in paths]]


def _workers(workers: int) -> tuple[int, int]:
    n = workers or (os.cpu_count() or 1)
    return n, max(1, (os.cpu_count() or 1) // n)


# -- faces -------------------------------------------------------------------------
_detector: Any = None
_degrade: Degradation | None = None


def _init_face_worker(config: FaceConfig, threads: int) -> None:
    global _detector, _degrade
    os.environ["FACEPRINT_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from ..registry import create_detector

    options = dict(config.detector_options)
    options["landmarks"] = config.landmarks
    _detector = create_detector(config.detector, **options)
    _degrade = config.degrade


def load_for_eval(path: str, degrade: Degradation | None) -> np.ndarray:
    """An evaluation image, degraded when asked."""
    from ..image import load_image

    image = load_image(path)
    return degrade.apply(image) if degrade is not None else image


def _locate_one(path: str) -> tuple[str, Face | None, bool, str | None]:
    try:
        image = load_for_eval(path, _degrade)
        faces = _detector.detect(image)
        face = central(faces, image.shape[1], image.shape[0]) if faces else centre_face(image)
        return path, face, bool(faces), None
    except FaceprintError as exc:
        return path, None, False, str(exc)


def locate_faces(paths: Iterable[str | Path], config: FaceConfig, *, workers: int = 0,
                 use_cache: bool = True, progress: bool = True) -> FaceSet:
    """The central face of each image (fallback: LFW's centred crop), cached."""
    from tqdm import tqdm

    todo = sorted({str(Path(p).resolve()) for p in paths})
    cache_file = cache_dir("faces") / f"{config.key()}.npz"
    result = FaceSet()
    if use_cache and cache_file.exists():
        _load_faces(cache_file, result)
    missing = [p for p in todo if p not in result.faces]
    if missing:
        n, threads = _workers(workers)
        with ProcessPoolExecutor(max_workers=n, initializer=_init_face_worker,
                                 initargs=(config, threads)) as pool:
            it = pool.map(_locate_one, missing, chunksize=8)
            for i, (path, face, found, error) in enumerate(tqdm(
                    it, total=len(missing), disable=not progress, unit="img",
                    desc=f"faces {config.detector}"
                         f"{' ' + config.degrade.label if config.degrade else ''}")):
                if face is None:
                    result.errors[path] = error or "failed"
                    continue
                result.faces[path] = face
                result.found[path] = found
                if use_cache and (i + 1) % 2000 == 0:
                    _save_faces(cache_file, result)
        if use_cache:
            _save_faces(cache_file, result)
    return result


def _save_faces(path: Path, data: FaceSet) -> None:
    keys = sorted(data.faces)
    faces = [data.faces[k] for k in keys]
    marks = np.array([f.landmarks.as_array() if f.landmarks else np.full((5, 2), np.nan)
                      for f in faces]).reshape(-1, 5, 2)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, paths=np.array(keys),
             boxes=np.array([[f.box.left, f.box.top, f.box.width, f.box.height]
                             for f in faces]).reshape(-1, 4),
             scores=np.array([f.score for f in faces]), landmarks=marks,
             detectors=np.array([f.detector for f in faces]),
             found=np.array([data.found[k] for k in keys], dtype=bool))
    os.replace(tmp, path)


def _load_faces(path: Path, into: FaceSet) -> None:
    try:
        with np.load(path) as z:
            for p, b, s, m, d, f in zip(z["paths"], z["boxes"], z["scores"], z["landmarks"],
                                        z["detectors"], z["found"]):
                marks = None if np.isnan(m).any() else Landmarks.from_array(m)
                into.faces[str(p)] = Face(Box(*map(float, b)), float(s), marks, None, str(d),
                                          detector_calibration(str(d)))
                into.found[str(p)] = bool(f)
    except (OSError, ValueError, KeyError):
        into.faces.clear()
        into.found.clear()  # a damaged cache is recomputed


# -- chips -------------------------------------------------------------------------
_spec: ChipSpec | None = None


def _init_chip_worker(spec: ChipSpec, degrade: Degradation | None, threads: int) -> None:
    global _spec, _degrade
    os.environ["OMP_NUM_THREADS"] = str(threads)
    _spec, _degrade = spec, degrade


def _chip_one(item: tuple[str, Face]) -> tuple[str, np.ndarray | None, str | None]:
    from ..align import align

    path, face = item
    assert _spec is not None
    try:
        image = load_for_eval(path, _degrade)
        return path, align(image, [face], _spec)[0], None
    except FaceprintError as exc:
        return path, None, str(exc)


def extract_chips(paths: Iterable[str | Path], config: FaceConfig, spec: ChipSpec, *,
                  workers: int = 0, use_cache: bool = True, progress: bool = True) -> ChipSet:
    """Aligned chips (``spec``) of the central face of each image, cached per
    (face configuration, chip spec). Raises DataError if an image fails."""
    from tqdm import tqdm

    from ..errors import DataError

    todo = sorted({str(Path(p).resolve()) for p in paths})
    key = config_key([config.key(), spec.size, spec.method, spec.padding, spec.template])
    cache_file = cache_dir("chips") / f"{key}.npz"
    chips: dict[str, np.ndarray] = {}
    found: dict[str, bool] = {}
    if use_cache and cache_file.exists():
        try:
            with np.load(cache_file) as z:
                for p, c, f in zip(z["paths"], z["chips"], z["found"]):
                    chips[str(p)] = c
                    found[str(p)] = bool(f)
        except (OSError, ValueError, KeyError):
            chips.clear()
            found.clear()
    missing = [p for p in todo if p not in chips]
    if missing:
        if spec.method == "dlib5" and config.landmarks:
            from dataclasses import replace

            config = replace(config, landmarks=False)  # dlib5 needs only the box
        faces = locate_faces(missing, config, workers=workers, use_cache=use_cache,
                             progress=progress)
        if faces.errors:
            err = next(iter(faces.errors.items()))
            raise DataError(f"{len(faces.errors)} images could not be read, e.g. {err[1]}")
        n, threads = _workers(workers)
        with ProcessPoolExecutor(max_workers=n, initializer=_init_chip_worker,
                                 initargs=(spec, config.degrade, threads)) as pool:
            items = [(p, faces.faces[p]) for p in missing]
            for path, chip, error in tqdm(pool.map(_chip_one, items, chunksize=16),
                                          total=len(items), disable=not progress,
                                          unit="img", desc=f"chips {spec.size}px"):
                if chip is None:
                    raise DataError(f"{path}: cannot cut the face chip ({error})")
                chips[path] = chip
                found[path] = faces.found[path]
        if use_cache:
            keys = sorted(chips)
            tmp = cache_file.with_name(f"{cache_file.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, paths=np.array(keys), chips=np.stack([chips[k] for k in keys]),
                     found=np.array([found[k] for k in keys], dtype=bool))
            os.replace(tmp, cache_file)
    index = {p: i for i, p in enumerate(todo)}
    stacked = np.stack([chips[p] for p in todo]) if todo else \
        np.empty((0, spec.size, spec.size, 3), np.uint8)
    return ChipSet(stacked, index, np.array([found[p] for p in todo], dtype=bool))
