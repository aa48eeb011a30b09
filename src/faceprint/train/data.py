"""Training data: one folder per identity, detected and aligned by faceprint once,
the aligned chips (and a teacher's embeddings of the same faces) cached.

Layout: ``DIR/NAME/*.jpg`` (or LFW's ``DIR/images/NAME/NAME_0001.jpg``). Each
image's face is the detected face nearest the image centre; when the detector
finds none, LFW's centred crop is used, exactly as ``faceprint eval lfw`` does
(:func:`faceprint.datasets.lfw.face_of_interest`), so the chips a model is trained
on are the chips it is evaluated on. The identity folders are read by
:mod:`faceprint.datasets.folders`; the chips are cut by a job over
:func:`faceprint.batch.map_images`.

The chips are cut with :func:`faceprint.align.align` for the student's
:class:`~faceprint.align.ChipSpec` (by default dlib's chip convention at 64 x 64,
padding 0.25: the same crop dlib's ResNet sees at 150 x 150) and cached as one
``.npz`` per image list and configuration under ``cache_dir("train")``.

This module needs no torch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..align import ChipSpec
from ..batch import Job, map_images
from ..cache import cache_dir, config_key
from ..errors import DataError
from ..pipeline import Pipeline, PipelineRecipe

#: bump when chips are cut differently, to invalidate caches
CHIP_CACHE_VERSION = 1


@dataclass(slots=True)
class FaceSet:
    """Aligned chips of a set of images and who they show.

    chips: ``(N, S, S, 3)`` uint8 RGB; labels: ``(N,)`` int64 identity index into
    ``names``; paths: image paths (strings, as given); found: whether the detector
    found the face (else LFW's centred crop was used); teacher / teacher_flip:
    ``(N, D)`` float32 unit-length teacher embeddings of each chip and of its mirror
    image, when a teacher was asked for; views / view_teacher: ``(N, V, S, S, 3)``
    augmented chips and ``(N, V, D)`` the teacher's unit embeddings of the same
    augmentations of its own chip, when views were asked for
    (:func:`teacher_views`).
    """

    chips: np.ndarray
    labels: np.ndarray
    names: list[str]
    paths: list[str]
    found: np.ndarray
    teacher: np.ndarray | None = None
    teacher_flip: np.ndarray | None = None
    views: np.ndarray | None = None
    view_teacher: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, index: np.ndarray) -> FaceSet:
        """The images at ``index`` (labels keep their meaning)."""
        return FaceSet(self.chips[index], self.labels[index], self.names,
                       [self.paths[i] for i in index], self.found[index],
                       None if self.teacher is None else self.teacher[index],
                       None if self.teacher_flip is None else self.teacher_flip[index],
                       None if self.views is None else self.views[index],
                       None if self.view_teacher is None else self.view_teacher[index])

    def counts(self) -> np.ndarray:
        """Images per identity, ``(len(names),)``."""
        return np.bincount(self.labels, minlength=len(self.names))


@dataclass(frozen=True, slots=True)
class ViewSettings:
    """How many augmented views of each face :func:`teacher_views` makes, from which
    seed, with which perturbation ranges (see :func:`faceprint.train.sampler.augment`)."""

    count: int
    seed: int = 0
    crop: float = 0.08
    rotate: float = 8.0
    colour: float = 0.25


# -- cutting chips, in worker processes ---------------------------------------------
class CutChips(Job[str, tuple[list[np.ndarray], bool]]):
    """The job: the chips of an image's central face (fallback: LFW's centred crop),
    one per spec, cut on the face's dlib-convention box; and whether a face was
    found."""

    def __init__(self, specs: tuple[ChipSpec, ...]) -> None:
        self.specs = specs

    def prepare(self, pipe: Pipeline, source: str) -> tuple[list[np.ndarray], bool]:
        from ..align import align
        from ..datasets.lfw import face_of_interest

        image = pipe.load(source)
        face, found = face_of_interest(pipe.detector, image)
        box = [face.dlib_box()]
        return [align(image, [face], spec, box)[0] for spec in self.specs], found


def cut_chips(paths: Sequence[str], specs: Sequence[ChipSpec], *, detector: str = "hog",
              workers: int = 1, progress: bool = True) -> tuple[list[np.ndarray], np.ndarray]:
    """Detect and align every image once: one ``(N, S, S, 3)`` uint8 array per spec and
    the ``(N,)`` found flags. ``workers`` processes (each one ONNX/OpenMP thread); one
    worker works in the calling process."""
    specs = tuple(specs)
    outs = [np.empty((len(paths), s.size, s.size, 3), np.uint8) for s in specs]
    found = np.zeros(len(paths), dtype=bool)
    errors: list[str] = []
    for i, out in enumerate(map_images(PipelineRecipe(detector), list(paths), CutChips(specs),
                                       workers=max(1, workers), chunk_size=16,
                                       threads_per_worker=1, progress=progress,
                                       desc=f"detect+align ({detector})")):
        if out.value is None:
            errors.append(f"{out.source}: {out.error}")
            continue
        for array, chip in zip(outs, out.value[0]):
            array[i] = chip
        found[i] = out.value[1]
    if errors:
        raise DataError(f"{len(errors)} images could not be read, e.g. {errors[0]}")
    return outs, found


def teacher_embeddings(chips: np.ndarray, teacher: Any, *, batch: int = 64,
                       progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Unit-length teacher embeddings of ``chips`` and of their mirror images, float32.

    The teacher's raw vectors are L2-normalised here (dlib-resnet's are not unit length;
    the student's are): distillation then matches directions, and the teacher's
    plain-L2 distances become distances between unit vectors."""
    from tqdm import tqdm

    from ..embedders.base import l2_normalize

    out = np.empty((len(chips), teacher.dim), np.float32)
    out_flip = np.empty_like(out)
    for start in tqdm(range(0, len(chips), batch), desc=f"teacher {teacher.name}",
                      unit="batch", disable=not progress):
        part = chips[start:start + batch]
        out[start:start + len(part)] = l2_normalize(teacher.embed_chips(part))
        flipped = np.ascontiguousarray(part[:, :, ::-1])
        out_flip[start:start + len(part)] = l2_normalize(teacher.embed_chips(flipped))
    return out, out_flip


def teacher_views(chips: np.ndarray, teacher_chips: np.ndarray, teacher: Any, views: int,
                  seed: int, *, crop: float, rotate: float, colour: float, batch: int = 64,
                  progress: bool = True, made: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``views`` augmented copies of every face for *consistent* distillation:
    ``(N, V, S, S, 3)`` student chips and ``(N, V, D)`` the teacher's unit embeddings
    of the very same augmentation (flip, crop, rotation, colour) applied to the
    teacher's own chip of that face.

    Augmenting the student's input while keeping the teacher's embedding of the
    unaugmented face asks the student to map different inputs to one target; with
    the teacher's embedding of the same view, the student learns the teacher's
    function on many more inputs than there are photos (Beyer et al. 2022, "a good
    teacher is patient and consistent"). The augmentations are drawn in
    size-free units (:class:`~faceprint.train.sampler.Augmentation`), so one draw
    perturbs both chips alike; seeded by ``seed``.

    ``made``: the first views of these faces, made before with the same seed and
    settings (a cached smaller ``views``): they are kept and their draws replayed
    without being applied, so that only the new views cost teacher time and the
    result equals making all ``views`` at once."""
    from tqdm import tqdm

    from ..embedders.base import l2_normalize
    from .sampler import apply_augmentation, draw_augmentation

    n = len(chips)
    out = np.empty((n, views, *chips.shape[1:]), np.uint8)
    targets = np.empty((n, views, teacher.dim), np.float32)
    have = 0 if made is None else min(views, made[0].shape[1])
    if made is not None:
        out[:, :have], targets[:, :have] = made[0][:, :have], made[1][:, :have]
    rng = np.random.default_rng([seed, 13])
    with tqdm(total=n * (views - have), desc=f"views for {teacher.name}", unit="face",
              disable=not progress) as bar:
        for v in range(views):
            for start in range(0, n, batch):
                part = slice(start, min(n, start + batch))
                aug = draw_augmentation(part.stop - start, rng, crop=crop, rotate=rotate,
                                        colour=colour)
                if v < have:
                    continue  # made before: only the draw is replayed
                out[part, v] = apply_augmentation(chips[part], aug)
                targets[part, v] = l2_normalize(
                    teacher.embed_chips(apply_augmentation(teacher_chips[part], aug)))
                bar.update(part.stop - start)
    return out, targets


def _cache_files(paths: Sequence[str], spec: ChipSpec, detector: str, teacher: str | None
                 ) -> tuple[Path, Path | None]:
    """The chips' cache file, and the teacher embeddings' (keyed by the same images,
    detector with its default settings, and chip; plus the teacher)."""
    from ..registry import detector_defaults

    key = config_key([CHIP_CACHE_VERSION, sorted(str(Path(p).resolve()) for p in paths),
                      detector, detector_defaults(detector), spec.size, spec.method,
                      spec.padding, spec.template])
    folder = cache_dir("train")
    return (folder / f"chips-{key}.npz",
            folder / f"teacher-{key}-{config_key(teacher)}.npz" if teacher else None)


def _read_cache(path: Path, order: dict[str, int], names: Sequence[str]
                ) -> list[np.ndarray] | None:
    """Arrays ``names`` of a cache file, in the order of ``order`` (None if unusable)."""
    try:
        with np.load(path) as z:
            idx = np.array([order[str(p)] for p in z["paths"]])
            if len(idx) != len(order) or set(idx.tolist()) != set(range(len(order))):
                return None
            inv = np.argsort(idx)
            return [z[n][inv] for n in names]
    except (OSError, ValueError, KeyError):
        return None  # damaged or foreign: rebuilt


def _write_cache(path: Path, paths: Sequence[str], **arrays: np.ndarray) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    data: dict[str, Any] = {"paths": np.array([str(Path(p).resolve()) for p in paths]),
                            **arrays}
    np.savez(tmp, **data)
    os.replace(tmp, path)


def _views_file(teacher_file: Path, views: ViewSettings) -> Path:
    return teacher_file.with_name(f"{teacher_file.stem}-views-{config_key(asdict(views))}.npz")


def _fewer_views(teacher_file: Path, views: ViewSettings, order: dict[str, int]
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """The largest cached set of fewer views with the same seed and settings (its views
    are the first ones of ``views``), if there is one."""
    for count in range(views.count - 1, 0, -1):
        path = _views_file(teacher_file, replace(views, count=count))
        got = _read_cache(path, order, ["views", "view_teacher"]) if path.is_file() else None
        if got is not None:
            return got[0], got[1]
    return None


def load_faces(paths: Sequence[str], labels: np.ndarray, names: list[str], spec: ChipSpec,
               *, detector: str = "hog", teacher: str | None = None, workers: int = 1,
               use_cache: bool = True, progress: bool = True,
               views: ViewSettings | None = None) -> FaceSet:
    """The :class:`FaceSet` of ``paths``: chips cut once and cached (with the teacher's
    embeddings when ``teacher`` names an embedder, e.g. ``"dlib-resnet"``, cached
    beside them, and the teacher's augmented views when ``views`` asks for some)."""
    chips_file, teacher_file = _cache_files(paths, spec, detector, teacher)
    views_file = None
    if teacher_file is not None and views is not None and views.count > 0:
        views_file = _views_file(teacher_file, views)
    order = {str(Path(p).resolve()): i for i, p in enumerate(paths)}
    got = _read_cache(chips_file, order, ["chips", "found"]) if use_cache else None
    got_t = (_read_cache(teacher_file, order, ["teacher", "teacher_flip"])
             if use_cache and teacher_file is not None else None)
    got_v = (_read_cache(views_file, order, ["views", "view_teacher"])
             if use_cache and views_file is not None else None)
    if got is not None and (teacher is None or got_t is not None) \
            and (views_file is None or got_v is not None):
        t, tf = got_t if got_t is not None else (None, None)
        v, vt = got_v if got_v is not None else (None, None)
        return FaceSet(got[0], labels, names, list(paths), got[1], t, tf, v, vt)
    specs = [spec]
    teacher_model = None
    if teacher:
        from ..registry import create_embedder

        options: dict[str, Any] = {"threads": 1} if teacher == "dlib-resnet" else {}
        teacher_model = create_embedder(teacher, **options)
        specs.append(teacher_model.chip)
    outs, found = cut_chips(list(paths), specs, detector=detector, workers=workers,
                            progress=progress)
    t = tf = v = vt = None
    if teacher_model is not None:
        t, tf = teacher_embeddings(outs[1], teacher_model, progress=progress)
        if views_file is not None and views is not None:
            made = (_fewer_views(teacher_file, views, order)
                    if use_cache and teacher_file is not None else None)
            v, vt = teacher_views(outs[0], outs[1], teacher_model, views.count, views.seed,
                                  crop=views.crop, rotate=views.rotate, colour=views.colour,
                                  progress=progress, made=made)
    if use_cache:
        _write_cache(chips_file, paths, chips=outs[0], found=found)
        if teacher_file is not None and t is not None and tf is not None:
            _write_cache(teacher_file, paths, teacher=t, teacher_flip=tf)
        if views_file is not None and v is not None and vt is not None:
            _write_cache(views_file, paths, views=v, view_teacher=vt)
    return FaceSet(outs[0], labels, names, list(paths), found, t, tf, v, vt)


# -- validation pairs ---------------------------------------------------------------
@dataclass(slots=True)
class PairSet:
    """Verification pairs over the chips of a :class:`FaceSet`: indices ``(M, 2)`` and
    ``same`` ``(M,)`` bool."""

    faces: FaceSet
    index: np.ndarray
    same: np.ndarray
    name: str = "pairs"


def lfw_pairs(data: str | Path, pairs_file: str | Path, spec: ChipSpec, *,
              detector: str = "hog", workers: int = 1, use_cache: bool = True,
              progress: bool = True) -> PairSet:
    """The pairs of an LFW pairs file (``pairsDevTest.txt``...) with their chips."""
    from ..datasets.lfw import image_path, images_dir, read_pairs

    images = images_dir(data)
    pairs = read_pairs(pairs_file)
    p1 = [str(image_path(images, p.name1, p.index1)) for p in pairs]
    p2 = [str(image_path(images, p.name2, p.index2)) for p in pairs]
    unique = sorted(set(p1 + p2))
    missing = [p for p in unique if not os.path.exists(p)]
    if missing:
        raise DataError(f"{len(missing)} images of {pairs_file} are missing, e.g. {missing[0]}")
    where = {p: i for i, p in enumerate(unique)}
    faces = load_faces(unique, np.zeros(len(unique), np.int64), [], spec, detector=detector,
                       workers=workers, use_cache=use_cache, progress=progress)
    index = np.array([[where[a], where[b]] for a, b in zip(p1, p2)], dtype=np.int64)
    return PairSet(faces, index, np.array([p.same for p in pairs]), Path(pairs_file).name)


def holdout_split(faces: FaceSet, fraction: float, seed: int, max_pairs: int = 300
                  ) -> tuple[FaceSet, PairSet | None]:
    """Hold out ``fraction`` of the identities with two or more images for validation:
    ``(training faces, validation pairs)``. The validation pairs are up to
    ``max_pairs`` same-person and as many different-person pairs among the held-out
    identities, drawn with ``seed``. The held-out people are never trained on."""
    if fraction <= 0:
        return faces, None
    rng = np.random.default_rng([seed, 7])
    counts = faces.counts()
    multi = np.flatnonzero(counts >= 2)
    n_out = max(2, round(fraction * len(multi)))
    if n_out >= len(multi):
        raise DataError("too few identities with two or more images to hold some out "
                        "for validation; use --holdout 0 and --val-pairs")
    held = set(rng.choice(multi, size=n_out, replace=False).tolist())
    is_held = np.array([lab in held for lab in faces.labels])
    train = faces.subset(np.flatnonzero(~is_held))
    val = faces.subset(np.flatnonzero(is_held))
    by_id: dict[int, list[int]] = {}
    for i, lab in enumerate(val.labels):
        by_id.setdefault(int(lab), []).append(i)
    same_pairs = [(a, b) for idx in by_id.values() for j, a in enumerate(idx)
                  for b in idx[j + 1:]]
    rng.shuffle(same_pairs)
    same_pairs = same_pairs[:max_pairs]
    diff_pairs: set[tuple[int, int]] = set()
    while len(diff_pairs) < len(same_pairs):
        a, b = rng.integers(0, len(val), size=2)
        if val.labels[a] != val.labels[b]:
            diff_pairs.add((int(min(a, b)), int(max(a, b))))
    index = np.array(same_pairs + sorted(diff_pairs), dtype=np.int64)
    same = np.r_[np.ones(len(same_pairs), bool), np.zeros(len(diff_pairs), bool)]
    return train, PairSet(val, index, same, f"holdout {n_out} people")
