"""LFW: the pairs protocol (View 2: 10 folds; View 1: pairsDevTrain/DevTest).

The pairs files, people files and image paths are read by
:mod:`faceprint.datasets.lfw`. Each image's face is the detected face nearest the
image centre; when the detector finds no face, the customary fallback is used:
LFW's centred crop, ``(67, 80, 109, 108)`` on 250 x 250
(:func:`faceprint.datasets.lfw.face_of_interest`). The report counts those images
and the accuracy of the pairs that use them.

Each method is a :class:`~faceprint.pipeline.PipelineRecipe`; its images are
embedded by :func:`faceprint.batch.map_images` (worker processes) and the
embeddings cached per recipe (see :mod:`faceprint.cache`), so a second evaluation
of the same set-up only recomputes distances.

The classical embedders (:mod:`faceprint.embedders.classical`) are evaluated
from cached aligned chips (:mod:`faceprint.eval.chips`) instead: those that
must be fitted are fitted once per test fold on the other nine sets of
``people.txt`` (View 2's folds are these sets), and each fold's thresholds are
chosen on the other folds' pairs scored by that fold's model
(:func:`evaluate_classical`). ``PipelineRecipe.degrade`` degrades every test
image first (robustness sweeps, :mod:`faceprint.eval.robustness`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..batch import map_images
from ..cache import NpzCache, cache_dir, config_key
from ..datasets.lfw import (
    Pair,
    face_of_interest,
    images_dir,
    pair_paths,
    person_images,
    person_of,
    read_pairs,
    read_people,
    select_pairs,
)
from ..distance import paired
from ..errors import DataError, UsageError
from ..pipeline import Pipeline, PipelineRecipe
from ..registry import detector_defaults
from .metrics import KFoldResult, kfold, kfold_models, roc

if TYPE_CHECKING:
    from ..pipeline import Pipeline

#: bump when the way embeddings are computed changes, to invalidate caches
EMBED_CACHE_VERSION = 1


def embedding_key(recipe: PipelineRecipe) -> str:
    """The cache key of the embeddings that ``recipe`` computes for evaluation images."""
    parts: list[Any] = [EMBED_CACHE_VERSION, recipe.detector, recipe.embedder,
                        recipe.detector_options, recipe.embedder_options, recipe.flip,
                        recipe.jitter, detector_defaults(recipe.detector)]
    if recipe.degrade is not None:  # absent otherwise: older caches stay valid
        parts.append([recipe.degrade.kind, recipe.degrade.value])
    if ":" in recipe.embedder:  # a model file: its content, not only its name
        parts.append(_file_stamp(recipe.embedder.partition(":")[2]))
    return config_key(parts)


def _file_stamp(path: str) -> list[object]:
    try:
        st = os.stat(path)
    except OSError:
        return [path]
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]


@dataclass(slots=True)
class EmbeddingSet:
    """Embeddings of a set of images, by path."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    found: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def embed_face(pipe: Pipeline, path: str) -> tuple[np.ndarray, bool]:
    """The job: the embedding of an image's face of interest (fallback: the centred
    crop) and whether the detector found it."""
    image = pipe.load(path)
    face, found = face_of_interest(pipe.detector, image)
    return pipe.embed_faces(image, [face])[0], found


def _encode_embeddings(keys: list[str], values: list[tuple[np.ndarray, bool]]
                       ) -> dict[str, Any]:
    return {"vectors": np.stack([v for v, _ in values]),
            "found": np.array([f for _, f in values])}


def _decode_embeddings(z: Any) -> list[tuple[np.ndarray, bool]]:
    return [(v, bool(f)) for v, f in zip(z["vectors"], z["found"])]


def embed_images(paths: Iterable[str | Path], config: PipelineRecipe, *, workers: int = 0,
                 use_cache: bool = True, progress: bool = True) -> EmbeddingSet:
    """Embed the central face of each image (fallback: the centred crop), in
    ``workers`` processes (0: one per core), reusing cached embeddings."""
    todo = sorted({str(Path(p).resolve()) for p in paths})
    if "+" in config.embedder and config.degrade is None:
        return _embed_fused(todo, config, workers=workers, use_cache=use_cache,
                            progress=progress)
    if "+" in config.detector and config.degrade is None:
        return _embed_ensemble(todo, config, workers=workers, use_cache=use_cache,
                               progress=progress)
    cache = (NpzCache(cache_dir("embeddings") / f"{embedding_key(config)}.npz",
                      _encode_embeddings, _decode_embeddings, save_every=1000)
             if use_cache else None)
    result = EmbeddingSet()
    for out in map_images(config, todo, embed_face, workers=workers, chunk_size=8,
                          cache=cache, progress=progress,
                          desc=f"{config.detector}+{config.label}"):
        if out.value is None:
            result.errors[out.source] = out.error or "failed"
        else:
            result.vectors[out.source], result.found[out.source] = out.value
    return result


def _embed_fused(paths: list[str], config: PipelineRecipe, *, workers: int,
                 use_cache: bool, progress: bool) -> EmbeddingSet:
    """A fused embedder's vectors from its parts' (each cached on its own): the same
    detector finds the same face for every part, and each part's flip/jitter
    averaging comes before the parts are combined, as in the pipeline, so the vectors
    are those :meth:`Pipeline.embed_faces` gives (tests/test_fused.py)."""
    from dataclasses import replace

    from ..embedders.fused import FusedEmbedder

    fused = config.build().embedder
    assert isinstance(fused, FusedEmbedder)
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


def _embed_ensemble(paths: list[str], config: PipelineRecipe, *, workers: int,
                    use_cache: bool, progress: bool) -> EmbeddingSet:
    """A detector ensemble's vectors (``yunet+blazeface-onet``) from each detector's
    (each cached on its own): the average of the views, as
    :meth:`Pipeline.embed_chips` averages them. Each view is its detector's face of
    interest; where the first detector finds no face, the centred crop alone (as in
    the pipeline), and where another finds none, the first detector's view in its
    place. The pipeline matches the other detectors' faces to the first's by IoU
    instead: the same faces unless two detectors' central faces differ
    (tests/test_fused.py checks the equality on LFW images)."""
    from ..registry import embedder_class

    normalized = bool(getattr(embedder_class(config.embedder), "normalized", False))
    sets = [embed_images(paths, replace(config, detector=name), workers=workers,
                         use_cache=use_cache, progress=progress)
            for name in config.detector.split("+")]
    first = sets[0]
    result = EmbeddingSet()
    for path in paths:
        errors = [s.errors[path] for s in sets if path in s.errors]
        if errors or any(path not in s.vectors for s in sets):
            result.errors[path] = errors[0] if errors else "failed"
            continue
        found = first.found[path]
        views = [s.vectors[path] if found and s.found[path] else first.vectors[path]
                 for s in sets]
        mean = np.mean(np.stack(views).astype(np.float64), axis=0).astype(np.float32)
        if normalized:
            mean /= max(float(np.linalg.norm(mean)), 1e-12)
        result.vectors[path], result.found[path] = mean, found
    return result


@dataclass(slots=True)
class LfwReport:
    """The outcome of an LFW pairs evaluation."""

    config: PipelineRecipe
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


def _load_pairs(data: str | Path, pairs_file: str | Path | None, folds: Sequence[int] | None,
                pairs_per_fold: int | None) -> tuple[Path, Path, list[Pair]]:
    images = images_dir(data)
    pfile = Path(pairs_file) if pairs_file else Path(data) / "pairs.txt"
    pairs = select_pairs(read_pairs(pfile), folds, pairs_per_fold)
    if not pairs:
        raise DataError(f"no pairs in folds {sorted(set(folds or []))} of {pfile}")
    return images, pfile, pairs


def evaluate(data: str | Path, config: PipelineRecipe, *, pairs_file: str | Path | None = None,
             folds: Sequence[int] | None = None, workers: int = 0, use_cache: bool = True,
             progress: bool = True, pairs_per_fold: int | None = None) -> LfwReport:
    """Run the LFW pairs protocol. ``folds`` (0-based) restricts View 2 to some
    folds (thresholds then come from the other chosen folds); ``pairs_per_fold``
    to the first pairs of each (see :func:`select_pairs`)."""
    images, pfile, pairs = _load_pairs(data, pairs_file, folds, pairs_per_fold)
    paths1, paths2 = pair_paths(images, pairs, pfile)
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
    from ..registry import split_name

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
    from ..registry import split_name

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


def evaluate_classical(data: str | Path, config: PipelineRecipe, *,
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
    from ..registry import create_embedder, split_name
    from .chips import extract_chips

    if config.jitter:
        raise UsageError("--jitter is not supported with the classical embedders")
    base, arg = split_name(config.embedder)
    spec = chip_of(base)
    images, pfile, pairs = _load_pairs(data, pairs_file, folds, pairs_per_fold)
    paths1, paths2 = pair_paths(images, pairs, pfile)
    unique_paths = sorted(set(paths1 + paths2))
    test = extract_chips(unique_paths, config, spec, workers=workers,
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
        train = extract_chips(all_train, replace(config, degrade=None), spec, workers=workers,
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
    return LfwReport(config, str(pfile), len(pairs), len(unique_paths), int((~found).sum()),
                     result, held, same, fallback, metric, threshold, protocol=protocol,
                     paths=list(zip(paths1, paths2)), folds=fold_ids, pair_list=list(pairs))


def tqdm_folds(folds: Sequence[int], progress: bool, desc: str) -> Iterable[int]:
    from tqdm import tqdm

    bar: Iterable[int] = tqdm(folds, desc=desc, unit="fold", disable=not progress or len(folds) < 2)
    return bar


def evaluate_method(data: str | Path, config: PipelineRecipe, *,
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


def embed_method(config: PipelineRecipe, paths: Sequence[str], *,
                 fit_paths: Sequence[str] | None = None, fit_description: str = "",
                 workers: int = 0, use_cache: bool = True, progress: bool = True
                 ) -> MethodEmbeddings:
    """Embed ``paths`` (resolved path strings) with any method. A classical
    embedder that needs fitting is fitted on ``fit_paths`` (each image's person
    is its folder's name) and never sees ``paths`` while fitting."""
    from ..embedders.classical import FITTED, chip_of, fit_embedder
    from ..registry import create_embedder, split_name
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
    chips = extract_chips(paths, config, spec, workers=workers,
                          use_cache=use_cache, progress=progress)
    if base in FITTED and arg is None:
        if not fit_paths:
            raise DataError(f"{base} must be fitted, and no training images were given")
        overlap = set(fit_paths) & set(paths)
        if overlap:
            raise DataError(f"{len(overlap)} images are both fitted on and evaluated")
        train = extract_chips(fit_paths, replace(config, degrade=None), spec, workers=workers,
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
