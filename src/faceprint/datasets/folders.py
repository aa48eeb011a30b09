"""The identity-folder layout: one folder per person, ``DIR/NAME/*.jpg``.

LFW's ``images/`` folder has this layout, and so can any training set: a folder
``DATA`` holds ``DATA/NAME/...`` (or ``DATA/images/NAME/...``, LFW's own layout).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError

#: the file suffixes read as images in identity folders (lower case)
IDENTITY_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def identity_dir(data: str | Path) -> Path:
    """The folder of per-identity folders: ``DATA/images`` when it exists, else DATA."""
    d = Path(data)
    if not d.is_dir():
        raise DataError(f"{d}: training data folder not found")
    return d / "images" if (d / "images").is_dir() else d


def scan_identities(data: str | Path, people: Sequence[str] | None = None
                    ) -> tuple[list[str], list[str], np.ndarray]:
    """``(paths, names, labels)`` of every image under ``DATA/NAME/``, sorted; only
    the identities in ``people`` when given. ``labels`` index ``names`` (int64)."""
    root = identity_dir(data)
    wanted = set(people) if people is not None else None
    names: list[str] = []
    paths: list[str] = []
    labels: list[int] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if wanted is not None and folder.name not in wanted:
            continue
        images = sorted(str(f) for f in folder.iterdir()
                        if f.suffix.lower() in IDENTITY_SUFFIXES and f.is_file())
        if not images:
            continue
        label = len(names)
        names.append(folder.name)
        paths += images
        labels += [label] * len(images)
    if not paths:
        raise DataError(f"{root}: no identity folders with images"
                        + (" among the listed people" if wanted is not None else ""))
    if wanted is not None and len(names) < len(wanted):
        missing = sorted(wanted - set(names))
        raise DataError(f"{len(missing)} listed people have no folder under {root}, "
                        f"e.g. {missing[0]}")
    return paths, names, np.asarray(labels, dtype=np.int64)


def person_of(path: str | Path) -> str:
    """The person of an image in an identity folder (its folder's name)."""
    return Path(path).parent.name
