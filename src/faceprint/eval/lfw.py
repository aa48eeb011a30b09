"""LFW: the pairs protocol (View 2: 10 folds; View 1: pairsDevTrain/DevTest).

Each image's face is the detected face nearest the image centre (LFW images
are centred on the face of interest; other people can appear beside it). When
the detector finds no face, the customary fallback is used: LFW's centred
crop, i.e. the box dlib's HOG detector draws on the median deep-funneled LFW
image, ``(67, 80, 109, 108)`` on 250 x 250 (scaled for other sizes). The
report counts those images and the accuracy of the pairs that use them.

Embeddings are cached per configuration (see :mod:`faceprint.cache`), so a
second evaluation of the same set-up only recomputes distances.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import cache_dir, config_key
from ..distance import paired
from ..errors import DataError, FaceprintError
from ..types import Box, Face, Landmarks
from .metrics import KFoldResult, kfold, roc

#: bump when the way embeddings are computed changes, to invalidate caches
EMBED_CACHE_VERSION = 1
#: LFW's centred crop on a 250 x 250 image, as fractions of width and height
CENTRE_BOX = (67 / 250, 80 / 250, 109 / 250, 108 / 250)


@dataclass(frozen=True, slots=True)
class Pair:
    """One LFW pair: two images, whether they show the same person, and its fold."""

    name1: str
    index1: int
    name2: str
    index2: int
    same: bool
    fold: int


def read_pairs(path: str | Path) -> list[Pair]:
    """Parse an LFW pairs file: ``pairs.txt`` (header ``10 300``: folds, pairs per
    class per fold) or ``pairsDevTrain.txt``/``pairsDevTest.txt`` (header ``N``: one
    fold of N matched then N mismatched pairs)."""
    p = Path(path)
    try:
        lines = [ln.split() for ln in p.read_text().splitlines() if ln.strip()]
    except OSError as exc:
        raise DataError(f"{p}: cannot read the pairs file ({exc.strerror or exc})") from None
    try:
        header = [int(x) for x in lines[0]]
        folds, per = (header[0], header[1]) if len(header) == 2 else (1, header[0])
        pairs = []
        rows = lines[1:]
        if len(rows) != folds * per * 2:
            raise ValueError(f"expected {folds * per * 2} pairs, found {len(rows)}")
        for i, row in enumerate(rows):
            fold = i // (2 * per)
            if len(row) == 3:
                pairs.append(Pair(row[0], int(row[1]), row[0], int(row[2]), True, fold))
            elif len(row) == 4:
                pairs.append(Pair(row[0], int(row[1]), row[2], int(row[3]), False, fold))
            else:
                raise ValueError(f"line {i + 2}: expected 3 or 4 fields")
    except (ValueError, IndexError) as exc:
        raise DataError(f"{p}: not an LFW pairs file ({exc})") from None
    return pairs


def images_dir(data: str | Path) -> Path:
    """The folder of per-person image folders: ``DATA/images`` if it exists, else DATA."""
    d = Path(data)
    if (d / "images").is_dir():
        return d / "images"
    if not d.is_dir():
        raise DataError(f"{d}: LFW folder not found")
    return d


def image_path(images: Path, name: str, index: int) -> Path:
    return images / name / f"{name}_{index:04d}.jpg"


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
class PipelineConfig:
    """A picklable description of a pipeline, to rebuild it in worker processes."""

    detector: str = "hog"
    embedder: str = "dlib-resnet"
    detector_options: tuple[tuple[str, Any], ...] = ()
    embedder_options: tuple[tuple[str, Any], ...] = ()
    flip: bool = False
    jitter: int = 0

    def build(self) -> Any:
        from ..pipeline import Pipeline

        return Pipeline(self.detector, self.embedder,
                        detector_options=dict(self.detector_options),
                        embedder_options=dict(self.embedder_options),
                        flip=self.flip, jitter=self.jitter)

    def key(self) -> str:
        return config_key([EMBED_CACHE_VERSION, self.detector, self.embedder,
                           self.detector_options, self.embedder_options, self.flip,
                           self.jitter])


_worker_pipeline: Any = None


def _init_worker(config: PipelineConfig, threads: int) -> None:
    global _worker_pipeline
    # share the cores between the workers instead of each taking all of them
    os.environ["FACEPRINT_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    _worker_pipeline = config.build()


def _embed_one(path: str) -> tuple[str, np.ndarray | None, bool, str | None]:
    """(path, embedding, face found, error) for one image, in a worker."""
    pipe = _worker_pipeline
    try:
        image = pipe.load(path)
        faces = pipe.detector.detect(image)
        found = bool(faces)
        face = central(faces, image.shape[1], image.shape[0]) if faces else centre_face(image)
        return path, pipe.embed_faces(image, [face])[0], found, None
    except FaceprintError as exc:
        return path, None, False, str(exc)


@dataclass(slots=True)
class EmbeddingSet:
    """Embeddings of a set of images, by path."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    found: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def embed_images(paths: Iterable[str | Path], config: PipelineConfig, *, workers: int = 0,
                 use_cache: bool = True, progress: bool = True) -> EmbeddingSet:
    """Embed the central face of each image (fallback: the centred crop), in
    ``workers`` processes (0: one per core), reusing cached embeddings."""
    from tqdm import tqdm

    todo = sorted({str(Path(p).resolve()) for p in paths})
    cache_file = cache_dir("embeddings") / f"{config.key()}.npz"
    result = EmbeddingSet()
    if use_cache and cache_file.exists():
        _load_cache(cache_file, result)
    missing = [p for p in todo if p not in result.vectors]
    workers = workers or (os.cpu_count() or 1)
    if missing:
        done_since_save = 0
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                 initargs=(config, threads)) as pool:
            results = pool.map(_embed_one, missing, chunksize=8)
            for path, vec, found, error in tqdm(results, total=len(missing), disable=not progress,
                                                desc=f"{config.detector}+{config.embedder}",
                                                unit="img"):
                if vec is None:
                    result.errors[path] = error or "failed"
                    continue
                result.vectors[path] = vec
                result.found[path] = found
                done_since_save += 1
                if use_cache and done_since_save >= 1000:
                    _save_cache(cache_file, result)
                    done_since_save = 0
        if use_cache:
            _save_cache(cache_file, result)
    return result


def _save_cache(path: Path, data: EmbeddingSet) -> None:
    keys = sorted(data.vectors)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, paths=np.array(keys), vectors=np.stack([data.vectors[k] for k in keys]),
             found=np.array([data.found[k] for k in keys]))
    os.replace(tmp, path)


def _load_cache(path: Path, into: EmbeddingSet) -> None:
    try:
        with np.load(path) as z:
            for p, v, f in zip(z["paths"], z["vectors"], z["found"]):
                into.vectors[str(p)] = v
                into.found[str(p)] = bool(f)
    except (OSError, ValueError, KeyError):
        pass  # a damaged cache is recomputed


@dataclass(slots=True)
class LfwReport:
    """The outcome of an LFW pairs evaluation."""

    config: PipelineConfig
    pairs_file: str
    pairs: int
    images: int
    no_face_images: int
    result: KFoldResult
    distances: np.ndarray = field(repr=False)
    same: np.ndarray = field(repr=False)
    fallback_pair: np.ndarray = field(repr=False)
    metric: str = "euclidean"
    threshold_default: float = 0.0

    def fallback_accuracy(self) -> tuple[float | None, float]:
        """Accuracy of the pairs that used the centred-crop fallback, and of the rest."""
        c = self.result.correct
        fb = self.fallback_pair
        with_fb = float(c[fb].mean()) if fb.any() else None
        return with_fb, float(c[~fb].mean())

    def to_dict(self) -> dict[str, object]:
        with_fb, without = self.fallback_accuracy()
        r = self.result
        return {
            "accuracy_mean": r.accuracy_mean,
            "accuracy_std": r.accuracy_std,
            "accuracy_sem": r.accuracy_sem,
            "val_at_far_1e-3": r.val_mean,
            "val_std": r.val_std,
            "far_at_val": float(np.mean(r.fars)),
            "auc": r.auc,
            "eer": r.eer,
            "no_face_images": self.no_face_images,
            "images": self.images,
            "pairs": self.pairs,
            "folds": len(r.accuracies),
            "fold_accuracies": r.accuracies,
            "fold_thresholds": r.thresholds,
            "fallback": "LFW centred crop (67, 80, 109, 108) on 250x250",
            "fallback_pairs": int(self.fallback_pair.sum()),
            "fallback_pairs_accuracy": with_fb,
            "other_pairs_accuracy": without,
            "detector": self.config.detector,
            "embedder": self.config.embedder,
            "flip": self.config.flip,
            "jitter": self.config.jitter,
            "metric": self.metric,
            "pairs_file": self.pairs_file,
        }

    def roc(self) -> tuple[np.ndarray, np.ndarray]:
        far, tar, _ = roc(self.distances, self.same)
        return far, tar


def evaluate(data: str | Path, config: PipelineConfig, *, pairs_file: str | Path | None = None,
             folds: Sequence[int] | None = None, workers: int = 0, use_cache: bool = True,
             progress: bool = True) -> LfwReport:
    """Run the LFW pairs protocol. ``folds`` (0-based) restricts View 2 to some
    folds (thresholds then come from the other chosen folds)."""
    images = images_dir(data)
    pfile = Path(pairs_file) if pairs_file else Path(data) / "pairs.txt"
    pairs = read_pairs(pfile)
    if folds is not None:
        wanted = set(folds)
        pairs = [p for p in pairs if p.fold in wanted]
        if not pairs:
            raise DataError(f"no pairs in folds {sorted(wanted)} of {pfile}")
    paths1 = [str(image_path(images, p.name1, p.index1).resolve()) for p in pairs]
    paths2 = [str(image_path(images, p.name2, p.index2).resolve()) for p in pairs]
    missing = [p for p in set(paths1 + paths2) if not os.path.exists(p)]
    if missing:
        raise DataError(f"{len(missing)} images of {pfile.name} are missing under {images}, "
                        f"e.g. {sorted(missing)[0]}")
    emb = embed_images(paths1 + paths2, config, workers=workers, use_cache=use_cache,
                       progress=progress)
    if emb.errors:
        err = next(iter(emb.errors.values()))
        raise DataError(f"{len(emb.errors)} images could not be processed, e.g. {err}")
    pipe = config.build()
    metric = pipe.embedder.metric
    a = np.stack([emb.vectors[p] for p in paths1])
    b = np.stack([emb.vectors[p] for p in paths2])
    distances = paired(a, b, metric)
    same = np.array([p.same for p in pairs])
    fold_ids = np.array([p.fold for p in pairs])
    fallback = np.array([not emb.found[p1] or not emb.found[p2]
                         for p1, p2 in zip(paths1, paths2)])
    used = set(paths1 + paths2)
    return LfwReport(config, str(pfile), len(pairs), len(used),
                     sum(1 for p in used if not emb.found[p]), kfold(distances, same, fold_ids),
                     distances, same, fallback, metric, pipe.embedder.threshold)
