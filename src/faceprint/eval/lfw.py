"""LFW: the pairs protocol (View 2: 10 folds; View 1: pairsDevTrain/DevTest).

Each image's face is the detected face nearest the image centre (LFW images
are centred on the face of interest; other people can appear beside it). When
the detector finds no face, the customary fallback is used: LFW's centred
crop, i.e. the box dlib's HOG detector draws on the median deep-funneled LFW
image, ``(67, 80, 109, 108)`` on 250 x 250 (scaled for other sizes). The
report counts those images and the accuracy of the pairs that use them.

Embeddings are cached per configuration (see :mod:`faceprint.cache`), so a
second evaluation of the same set-up only recomputes distances.

The classical embedders (:mod:`faceprint.embedders.classical`) are evaluated
from cached aligned chips (:mod:`faceprint.eval.chips`) instead: those that
must be fitted are fitted once per test fold on the other nine sets of
``people.txt`` (View 2's folds are these sets), and each fold's thresholds are
chosen on the other folds' pairs scored by that fold's model
(:func:`evaluate_classical`). ``PipelineConfig.degrade`` degrades every test
image first (robustness sweeps, :mod:`faceprint.eval.robustness`).
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
from ..models import DEFAULT_DETECTOR, detector_defaults
from ..types import Box, Face, Landmarks
from .chips import FaceConfig
from .degrade import Degradation
from .metrics import KFoldResult, kfold, kfold_models, roc

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

    detector: str = DEFAULT_DETECTOR
    embedder: str = "dlib-resnet"
    detector_options: tuple[tuple[str, Any], ...] = ()
    embedder_options: tuple[tuple[str, Any], ...] = ()
    flip: bool = False
    jitter: int = 0
    #: degrade every image before the pipeline sees it (robustness sweeps)
    degrade: Degradation | None = None

    def build(self) -> Any:
        from ..pipeline import Pipeline

        return Pipeline(self.detector, self.embedder,
                        detector_options=dict(self.detector_options),
                        embedder_options=dict(self.embedder_options),
                        flip=self.flip, jitter=self.jitter)

    def key(self) -> str:
        parts: list[Any] = [EMBED_CACHE_VERSION, self.detector, self.embedder,
                            self.detector_options, self.embedder_options, self.flip,
                            self.jitter, detector_defaults(self.detector)]
        if self.degrade is not None:  # absent otherwise: older caches stay valid
            parts.append([self.degrade.kind, self.degrade.value])
        if ":" in self.embedder:  # a model file: its content, not only its name
            parts.append(_file_stamp(self.embedder.partition(":")[2]))
        return config_key(parts)

    def face_config(self) -> FaceConfig:
        """How this configuration finds each image's face."""
        return FaceConfig(self.detector, self.detector_options, self.degrade)

    @property
    def label(self) -> str:
        """``embedder`` plus its options, for tables and legends."""
        extra = " +flip" if self.flip else ""
        extra += f" +jitter {self.jitter}" if self.jitter else ""
        extra += f" ({self.degrade.label})" if self.degrade else ""
        return f"{self.embedder}{extra}"


def _file_stamp(path: str) -> list[object]:
    try:
        st = os.stat(path)
    except OSError:
        return [path]
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]


_worker_pipeline: Any = None
_worker_degrade: Degradation | None = None


def _init_worker(config: PipelineConfig, threads: int) -> None:
    global _worker_pipeline, _worker_degrade
    # share the cores between the workers instead of each taking all of them
    os.environ["FACEPRINT_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    _worker_pipeline = config.build()
    _worker_degrade = config.degrade


def _embed_one(path: str) -> tuple[str, np.ndarray | None, bool, str | None]:
    """(path, embedding, face found, error) for one image, in a worker."""
    pipe = _worker_pipeline
    try:
        image = pipe.load(path)
        if _worker_degrade is not None:
            image = _worker_degrade.apply(image)
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
    if "+" in config.embedder and config.degrade is None:
        return _embed_fused(todo, config, workers=workers, use_cache=use_cache,
                            progress=progress)
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
            desc = f"{config.detector}+{config.label}"
            for path, vec, found, error in tqdm(results, total=len(missing), disable=not progress,
                                                desc=desc, unit="img"):
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


def _embed_fused(paths: list[str], config: PipelineConfig, *, workers: int,
                 use_cache: bool, progress: bool) -> EmbeddingSet:
    """A fused embedder's vectors from its parts' (each cached on its own): the same
    detector finds the same face for every part, and each part's flip/jitter
    averaging comes before the parts are combined, as in the pipeline, so the vectors
    are those :meth:`Pipeline.embed_faces` gives (tests/test_fused.py)."""
    from dataclasses import replace

    fused = config.build().embedder
    sets = [embed_images(paths, replace(config, embedder=part), workers=workers,
                         use_cache=use_cache, progress=progress)
            for part in config.embedder.split("+")]
    result = EmbeddingSet()
    for path in paths:
        errors = [s.errors[path] for s in sets if path in s.errors]
        if errors or any(path not in s.vectors for s in sets):
            result.errors[path] = errors[0] if errors else "failed"
            continue
        result.vectors[path] = fused.combine([s.vectors[path][None] for s in sets])[0]
        result.found[path] = sets[0].found[path]
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
    #: how the method was trained or fitted, for the report
    protocol: str = ""
    #: the two image paths of each pair, in ``distances`` order
    paths: list[tuple[str, str]] = field(default_factory=list, repr=False)
    #: each pair's fold (0-based)
    folds: np.ndarray = field(default_factory=lambda: np.zeros(0, int), repr=False)
    #: the evaluated pairs
    pair_list: list[Pair] = field(default_factory=list, repr=False)

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
            "label": self.config.label,
            "protocol": self.protocol,
            "fold_far_thresholds": r.far_thresholds,
            "degrade": None if self.config.degrade is None else
            {"kind": self.config.degrade.kind, "value": self.config.degrade.value},
        }

    def roc(self) -> tuple[np.ndarray, np.ndarray]:
        far, tar, _ = roc(self.distances, self.same)
        return far, tar


def select_pairs(pairs: Sequence[Pair], folds: Sequence[int] | None = None,
                 pairs_per_fold: int | None = None) -> list[Pair]:
    """The pairs of some folds (0-based), and at most ``pairs_per_fold`` of each fold:
    its first ``pairs_per_fold // 2`` matched and mismatched pairs (a subset for quick
    runs and tests)."""
    out = list(pairs)
    if folds is not None:
        wanted = set(folds)
        out = [p for p in out if p.fold in wanted]
    if pairs_per_fold is not None:
        if pairs_per_fold < 2:
            raise DataError("--pairs-per-fold must be at least 2")
        half = pairs_per_fold // 2
        kept: list[Pair] = []
        seen: dict[tuple[int, bool], int] = {}
        for p in out:
            n = seen.get((p.fold, p.same), 0)
            if n < half:
                kept.append(p)
                seen[(p.fold, p.same)] = n + 1
        out = kept
    return out


def read_people(path: str | Path) -> list[list[tuple[str, int]]]:
    """Parse an LFW people file: ``people.txt`` (a number of sets, then for each set
    its number of people and ``NAME N`` lines) or ``peopleDevTrain.txt`` /
    ``peopleDevTest.txt`` (one set). Returns the sets' ``(name, image count)``."""
    p = Path(path)
    try:
        lines = [ln.split() for ln in p.read_text().splitlines() if ln.strip()]
    except OSError as exc:
        raise DataError(f"{p}: cannot read the people file ({exc.strerror or exc})") from None
    try:
        rows = iter(lines)
        first = next(rows)
        # people.txt starts with the number of sets, then each set's size;
        # peopleDev*.txt start with the size of their only set
        second = lines[1] if len(lines) > 1 else []
        multi = len(first) == 1 and len(second) == 1
        count = int(first[0]) if multi else 1
        sets: list[list[tuple[str, int]]] = []
        for _ in range(count):
            size = int(next(rows)[0]) if multi else int(first[0])
            people = []
            for _ in range(size):
                name, n = next(rows)
                people.append((name, int(n)))
            sets.append(people)
        if next(rows, None) is not None:
            raise ValueError("more lines than the counts say")
    except (ValueError, StopIteration, IndexError) as exc:
        raise DataError(f"{p}: not an LFW people file ({exc or 'too few lines'})") from None
    return sets


def person_images(images: Path, people: Iterable[tuple[str, int]]) -> list[str]:
    """Resolved paths of every image of the given ``(name, count)`` people."""
    return [str(image_path(images, name, i).resolve()) for name, n in people
            for i in range(1, n + 1)]


def person_of(path: str) -> str:
    """The person of an LFW image path (its folder's name)."""
    return Path(path).parent.name


def _pair_paths(images: Path, pairs: Sequence[Pair], pfile: Path) -> tuple[list[str], list[str]]:
    paths1 = [str(image_path(images, p.name1, p.index1).resolve()) for p in pairs]
    paths2 = [str(image_path(images, p.name2, p.index2).resolve()) for p in pairs]
    missing = [p for p in set(paths1 + paths2) if not os.path.exists(p)]
    if missing:
        raise DataError(f"{len(missing)} images of {pfile.name} are missing under {images}, "
                        f"e.g. {sorted(missing)[0]}")
    return paths1, paths2


def _load_pairs(data: str | Path, pairs_file: str | Path | None, folds: Sequence[int] | None,
                pairs_per_fold: int | None) -> tuple[Path, Path, list[Pair]]:
    images = images_dir(data)
    pfile = Path(pairs_file) if pairs_file else Path(data) / "pairs.txt"
    pairs = select_pairs(read_pairs(pfile), folds, pairs_per_fold)
    if not pairs:
        raise DataError(f"no pairs in folds {sorted(set(folds or []))} of {pfile}")
    return images, pfile, pairs


def evaluate(data: str | Path, config: PipelineConfig, *, pairs_file: str | Path | None = None,
             folds: Sequence[int] | None = None, workers: int = 0, use_cache: bool = True,
             progress: bool = True, pairs_per_fold: int | None = None) -> LfwReport:
    """Run the LFW pairs protocol. ``folds`` (0-based) restricts View 2 to some
    folds (thresholds then come from the other chosen folds); ``pairs_per_fold``
    to the first pairs of each (see :func:`select_pairs`)."""
    images, pfile, pairs = _load_pairs(data, pairs_file, folds, pairs_per_fold)
    paths1, paths2 = _pair_paths(images, pairs, pfile)
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
                     distances, same, fallback, metric, pipe.embedder.threshold,
                     protocol=_protocol_of(config.embedder),
                     paths=list(zip(paths1, paths2)), folds=fold_ids, pair_list=list(pairs))


def _protocol_of(embedder: str) -> str:
    from ..models import split_name

    base, arg = split_name(embedder)
    if base == "dlib-resnet":
        return "pretrained by dlib on about 3 million faces (outside data)"
    if arg is not None:
        return f"model file {arg}"
    return ""


def is_classical(embedder: str) -> bool:
    """Whether ``embedder`` (``NAME`` or ``NAME:ARG``) is one of the classical
    methods, evaluated from cached chips."""
    from ..embedders.classical import CLASSICAL
    from ..models import split_name

    return split_name(embedder)[0] in CLASSICAL


def embed_chip_batch(embedder: Any, chips: np.ndarray, flip: bool = False) -> np.ndarray:
    """Embeddings of chips; with ``flip``, each averaged with that of its mirror image
    (and made a unit vector again for normalised embedders), as
    :meth:`faceprint.pipeline.Pipeline.embed_chips` does, but batched."""
    vectors: np.ndarray = embedder.embed_chips(chips)
    if not flip:
        return vectors
    from ..align import mirror

    mirrored = embedder.embed_chips(mirror(embedder.chip, chips))
    mean: np.ndarray = ((vectors.astype(np.float64) + mirrored) / 2.0).astype(np.float32)
    if embedder.normalized:
        mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return mean


def fit_sets(data: str | Path, fit_on: str, test_folds: Sequence[int], *,
             max_images: int | None = None, seed: int = 0
             ) -> tuple[dict[int, list[str]], str]:
    """The training images of each test fold and a sentence saying what they are.

    ``fit_on="folds"``: for test fold k, every image of the people of the other nine
    sets of ``people.txt`` (LFW's unrestricted configuration; View 2's folds are
    these sets). ``fit_on="view1"``: every image of View 1's ``peopleDevTrain.txt``
    for all folds (those people also appear in View 2's folds: a looser setting).
    ``max_images``: a random sample (seeded) of at most that many images per fold.
    """
    import random

    images = images_dir(data)
    if fit_on == "folds":
        sets = read_people(Path(data) / "people.txt")
        out = {}
        for k in test_folds:
            if not 0 <= k < len(sets):
                raise DataError(f"fold {k + 1} is not one of the {len(sets)} sets of "
                                f"people.txt")
            out[k] = person_images(images, [p for j, s in enumerate(sets) if j != k
                                            for p in s])
        what = "fitted per test fold on the other nine sets of people.txt"
    elif fit_on == "view1":
        train = person_images(images, read_people(Path(data) / "peopleDevTrain.txt")[0])
        out = {k: train for k in test_folds}
        what = ("fitted once on View 1 peopleDevTrain (whose people also appear in "
                "View 2's folds)")
    else:
        raise DataError(f"--fit-on takes folds or view1, not {fit_on!r}")
    if max_images is not None:
        out = {k: sorted(random.Random(seed + k).sample(v, min(max_images, len(v))))
               for k, v in out.items()}
        what += f", at most {max_images:,} images drawn at random"
    sizes = sorted({len(v) for v in out.values()})
    what += f" ({sizes[0]:,}" + (f"-{sizes[-1]:,}" if len(sizes) > 1 else "") + " images)"
    return out, what


def evaluate_classical(data: str | Path, config: PipelineConfig, *,
                       pairs_file: str | Path | None = None,
                       folds: Sequence[int] | None = None, pairs_per_fold: int | None = None,
                       fit_on: str = "folds", fit_max_images: int | None = None,
                       workers: int = 0, use_cache: bool = True, progress: bool = True
                       ) -> LfwReport:
    """The LFW pairs protocol for a classical embedder, computed from cached chips.

    ``eigenfaces``/``fisherfaces`` without a model file are fitted for each test
    fold on training images only (see :func:`fit_sets`); fold k's thresholds come
    from the other folds' pairs scored by fold k's model (see
    :func:`faceprint.eval.metrics.kfold_models`). ``lbp`` and fitted model files
    (``eigenfaces:model.npz``) are evaluated as any embedder. Test images are
    degraded when ``config.degrade`` says so; training images never are.
    """
    from ..embedders.classical import FITTED, chip_of, fit_embedder
    from ..models import create_embedder, split_name
    from .chips import extract_chips

    if config.jitter:
        raise FaceprintError("--jitter is not supported with the classical embedders")
    base, arg = split_name(config.embedder)
    spec = chip_of(base)
    images, pfile, pairs = _load_pairs(data, pairs_file, folds, pairs_per_fold)
    paths1, paths2 = _pair_paths(images, pairs, pfile)
    pair_paths = sorted(set(paths1 + paths2))
    face_config = config.face_config()
    test = extract_chips(pair_paths, face_config, spec, workers=workers,
                         use_cache=use_cache, progress=progress)
    same = np.array([p.same for p in pairs])
    fold_ids = np.array([p.fold for p in pairs])
    i1 = [test.index[p] for p in paths1]
    i2 = [test.index[p] for p in paths2]
    test_folds = sorted(set(fold_ids.tolist()))
    if base in FITTED and arg is None:
        if pfile.name != "pairs.txt" and fit_on == "folds":
            raise DataError(f"{pfile.name} has no training folds: use --fit-on view1 (or a "
                            f"fitted model, --embedder {base}:MODEL.npz)")
        train_sets, protocol = fit_sets(data, fit_on, test_folds, max_images=fit_max_images)
        all_train = sorted({p for v in train_sets.values() for p in v})
        clean = FaceConfig(config.detector, config.detector_options)
        train = extract_chips(all_train, clean, spec, workers=workers,
                              use_cache=use_cache, progress=progress)
        models: dict[tuple[str, ...], Any] = {}
        distances: dict[int, np.ndarray] = {}
        metric = ""
        for k in tqdm_folds(test_folds, progress, f"fit {base}"):
            key = tuple(train_sets[k])
            if key not in models:
                models[key] = fit_embedder(base, train.take(train_sets[k]),
                                           [person_of(p) for p in train_sets[k]],
                                           fitted_on=protocol)
            model = models[key]
            vectors = embed_chip_batch(model, test.chips, config.flip)
            distances[k] = paired(vectors[i1], vectors[i2], model.metric)
            metric = model.metric
        result = kfold_models(distances, same, fold_ids)
        held = np.zeros(len(pairs))
        for k in test_folds:
            held[fold_ids == k] = distances[k][fold_ids == k]
        threshold = float(np.mean(result.thresholds))
    else:
        embedder = create_embedder(config.embedder, **dict(config.embedder_options))
        vectors = embed_chip_batch(embedder, test.chips, config.flip)
        held = paired(vectors[i1], vectors[i2], embedder.metric)
        result = kfold(held, same, fold_ids)
        metric, threshold = embedder.metric, float(embedder.threshold)
        protocol = (f"model file {arg}" if arg else
                    "no fitting; threshold chosen on View 1 pairsDevTrain")
    found = test.found
    fallback = ~(found[i1] & found[i2])
    return LfwReport(config, str(pfile), len(pairs), len(pair_paths), int((~found).sum()),
                     result, held, same, fallback, metric, threshold, protocol=protocol,
                     paths=list(zip(paths1, paths2)), folds=fold_ids, pair_list=list(pairs))


def tqdm_folds(folds: Sequence[int], progress: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(folds, desc=desc, unit="fold", disable=not progress or len(folds) < 2)


def evaluate_method(data: str | Path, config: PipelineConfig, *,
                    pairs_file: str | Path | None = None, folds: Sequence[int] | None = None,
                    pairs_per_fold: int | None = None, fit_on: str = "folds",
                    fit_max_images: int | None = None, workers: int = 0,
                    use_cache: bool = True, progress: bool = True) -> LfwReport:
    """:func:`evaluate_classical` for the classical embedders, :func:`evaluate` for
    the others."""
    if is_classical(config.embedder):
        return evaluate_classical(data, config, pairs_file=pairs_file, folds=folds,
                                  pairs_per_fold=pairs_per_fold, fit_on=fit_on,
                                  fit_max_images=fit_max_images, workers=workers,
                                  use_cache=use_cache, progress=progress)
    return evaluate(data, config, pairs_file=pairs_file, folds=folds, workers=workers,
                    use_cache=use_cache, progress=progress, pairs_per_fold=pairs_per_fold)


@dataclass(slots=True)
class MethodEmbeddings:
    """Embeddings of a list of images by one method, in the list's order."""

    vectors: np.ndarray
    found: np.ndarray
    metric: Any
    protocol: str


def embed_method(config: PipelineConfig, paths: Sequence[str], *,
                 fit_paths: Sequence[str] | None = None, fit_description: str = "",
                 workers: int = 0, use_cache: bool = True, progress: bool = True
                 ) -> MethodEmbeddings:
    """Embed ``paths`` (resolved path strings) with any method. A classical
    embedder that needs fitting is fitted on ``fit_paths`` (each image's person
    is its folder's name) and never sees ``paths`` while fitting."""
    from ..embedders.classical import FITTED, chip_of, fit_embedder
    from ..models import create_embedder, split_name
    from .chips import extract_chips

    base, arg = split_name(config.embedder)
    if not is_classical(config.embedder):
        emb = embed_images(paths, config, workers=workers, use_cache=use_cache,
                           progress=progress)
        if emb.errors:
            err = next(iter(emb.errors.values()))
            raise DataError(f"{len(emb.errors)} images could not be processed, e.g. {err}")
        pipe = config.build()
        return MethodEmbeddings(np.stack([emb.vectors[p] for p in paths]),
                                np.array([emb.found[p] for p in paths]), pipe.embedder.metric,
                                _protocol_of(config.embedder))
    spec = chip_of(base)
    chips = extract_chips(paths, config.face_config(), spec, workers=workers,
                          use_cache=use_cache, progress=progress)
    if base in FITTED and arg is None:
        if not fit_paths:
            raise DataError(f"{base} must be fitted, and no training images were given")
        overlap = set(fit_paths) & set(paths)
        if overlap:
            raise DataError(f"{len(overlap)} images are both fitted on and evaluated")
        clean = FaceConfig(config.detector, config.detector_options)
        train = extract_chips(fit_paths, clean, spec, workers=workers,
                              use_cache=use_cache, progress=progress)
        embedder = fit_embedder(base, train.take(list(fit_paths)),
                                [person_of(p) for p in fit_paths], fitted_on=fit_description)
        protocol = fit_description
    else:
        embedder = create_embedder(config.embedder, **dict(config.embedder_options))
        protocol = f"model file {arg}" if arg else "no fitting"
    vectors = embed_chip_batch(embedder, chips.take(list(paths)), config.flip)
    found = np.array([chips.found[chips.index[p]] for p in paths])
    return MethodEmbeddings(vectors, found, embedder.metric, protocol)
