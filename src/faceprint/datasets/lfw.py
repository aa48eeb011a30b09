"""Labeled Faces in the Wild: pairs files, people files, image paths, and the face
of interest of an LFW image.

Layout: ``DATA/pairs.txt`` (View 2: 10 folds), ``DATA/pairsDevTrain.txt`` and
``DATA/pairsDevTest.txt`` (View 1), ``DATA/people.txt`` (View 2's ten sets of
people) and ``peopleDevTrain.txt``/``peopleDevTest.txt``, and the images as
identity folders, ``DATA/images/NAME/NAME_0001.jpg`` (see
:mod:`faceprint.datasets.folders`).

Each image's face of interest is the detected face nearest the image centre (LFW
images are centred on it; other people can appear beside it). When the detector
finds no face, the customary fallback is used: LFW's centred crop, i.e. the box
dlib's HOG detector draws on the median deep-funneled LFW image,
``(67, 80, 109, 108)`` on 250 x 250 (:data:`CENTRE_BOX_PIXELS`, scaled for other
sizes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from ..types import Box, Face, Landmarks
from .folders import person_of

if TYPE_CHECKING:
    from ..detectors.base import Detector

__all__ = ["CENTRE_BOX", "CENTRE_BOX_PIXELS", "Pair", "central", "centre_box", "centre_face",
           "face_of_interest", "image_path", "images_dir", "lfw_people", "pair_paths",
           "people_names", "person_images", "person_of", "read_pairs", "read_people",
           "select_pairs"]

#: LFW's centred crop on a 250 x 250 image, ``(left, top, width, height)`` in pixels
CENTRE_BOX_PIXELS = (67, 80, 109, 108)
#: the same box as fractions of the image's width and height
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


def people_names(path: str | Path) -> list[str]:
    """Every name in an LFW people file, all sets together, in file order."""
    return [name for people in read_people(path) for name, _ in people]


def person_images(images: Path, people: Iterable[tuple[str, int]]) -> list[str]:
    """Resolved paths of every image of the given ``(name, count)`` people."""
    return [str(image_path(images, name, i).resolve()) for name, n in people
            for i in range(1, n + 1)]


def pair_paths(images: Path, pairs: Sequence[Pair], pairs_file: str | Path = "pairs"
               ) -> tuple[list[str], list[str]]:
    """The resolved paths of each pair's first and second image; DataError when any
    is missing (``pairs_file`` names the file in the message)."""
    paths1 = [str(image_path(images, p.name1, p.index1).resolve()) for p in pairs]
    paths2 = [str(image_path(images, p.name2, p.index2).resolve()) for p in pairs]
    missing = [p for p in set(paths1 + paths2) if not os.path.exists(p)]
    if missing:
        raise DataError(f"{len(missing)} images of {Path(pairs_file).name} are missing "
                        f"under {images}, e.g. {sorted(missing)[0]}")
    return paths1, paths2


def lfw_people(images: Path) -> dict[str, list[str]]:
    """Every person folder of LFW and its ``.jpg`` images (resolved paths, sorted)."""
    people = {}
    for d in sorted(images.iterdir()):
        if d.is_dir():
            files = sorted(str(f.resolve()) for f in d.glob("*.jpg"))
            if files:
                people[d.name] = files
    if not people:
        raise DataError(f"{images}: no person folders with .jpg images")
    return people


# -- the face of interest -------------------------------------------------------------
def centre_box(width: int, height: int) -> Box:
    """LFW's centred crop scaled to a ``width`` x ``height`` image."""
    fx, fy, fw, fh = CENTRE_BOX
    return Box(fx * width, fy * height, fw * width, fh * height)


def centre_face(image: np.ndarray) -> Face:
    """The fallback face: LFW's centred crop, with landmarks from dlib's 68-point model."""
    from ..detectors.pose import pose_from_68
    from ..detectors.shape import five_from_68, shape68

    h, w = image.shape[:2]
    box = centre_box(w, h)
    pts = shape68(image, [box])[0]
    return Face(box, 0.0, Landmarks.from_array(five_from_68(pts)), pose_from_68(pts, w, h),
                "centre-crop", landmarks68=Landmarks.from_array(pts))


def central(faces: Sequence[Face], width: int, height: int) -> Face:
    """The face whose box centre is nearest the image centre."""
    cx, cy = width / 2.0, height / 2.0
    return min(faces, key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2)


def face_of_interest(detector: Detector, image: np.ndarray) -> tuple[Face, bool]:
    """The face an LFW image is about: the detected face nearest the centre, or the
    centred-crop fallback (:func:`centre_face`) when none is found; and whether the
    detector found it (the face without its head pose: evaluations need its box and
    five landmarks only)."""
    from ..detectors.base import BaseDetector

    faces = (detector.detect(image, pose=False) if isinstance(detector, BaseDetector)
             else detector.detect(image))
    if faces:
        return central(faces, image.shape[1], image.shape[0]), True
    return centre_face(image), False
