"""Fitting a classical embedder (Eigenfaces, Fisherfaces) on LFW people, with its
verification threshold calibrated on pairs of people it was not fitted on: what
``faceprint eval fit`` runs."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError


@dataclass
class FitReport:
    """What :func:`fit_classical` fitted and how its threshold was chosen."""

    #: the fitted model (a :class:`~faceprint.embedders.classical.SubspaceEmbedder`)
    model: Any
    images: int
    people: int
    people_file: Path
    #: the pairs file the threshold was chosen on (None: it was missing)
    calibration: Path | None
    calibration_accuracy: float | None = None
    #: people of the calibration pairs that the model was fitted on
    seen_in_calibration: int = 0
    check_accuracy: float | None = None


def fit_classical(data: str | Path, name: str, detector: str,
                  detector_options: tuple[tuple[str, Any], ...] = (), *,
                  people: str | Path | None = None, pairs: str | Path | None = None,
                  check: str | Path | None = None, max_images: int | None = None,
                  workers: int = 0, use_cache: bool = True,
                  announce: Callable[[FitReport], None] | None = None) -> FitReport:
    """Fit ``name`` on the images of the people of ``people`` (default
    ``data/peopleDevTrain.txt``; at most ``max_images``, a seeded random choice),
    then set its threshold to the best accuracy on ``pairs`` (default
    ``data/pairsDevTest.txt``: distances between training people are smaller than
    between new people). ``check``: also score another pairs file at that threshold.
    ``announce(report)`` is called once the model is fitted, before calibrating."""
    from ..datasets.lfw import (
        image_path,
        images_dir,
        person_images,
        person_of,
        read_pairs,
        read_people,
    )
    from ..distance import paired
    from ..embedders.classical import CLASSICAL_CHIP, FITTED, fit_embedder
    from ..pipeline import PipelineRecipe
    from .chips import extract_chips
    from .metrics import accuracy, best_threshold

    if name not in FITTED:
        raise UsageError(f"only {', '.join(FITTED)} are fitted (lbp needs no fitting); "
                         f"got {name!r}")
    images = images_dir(data)
    people_file = Path(people) if people else Path(data) / "peopleDevTrain.txt"
    sets = read_people(people_file)
    paths = person_images(images, [p for s in sets for p in s])
    if max_images and len(paths) > max_images:
        paths = sorted(random.Random(0).sample(paths, max_images))
    config = PipelineRecipe(detector, detector_options=detector_options)
    chips = extract_chips(paths, config, CLASSICAL_CHIP, workers=workers, use_cache=use_cache)
    model = fit_embedder(name, chips.take(paths), [person_of(p) for p in paths],
                         fitted_on=f"{len(paths):,} images of {people_file.name}")
    fitted_people = {person_of(p) for p in paths}
    calib = Path(pairs) if pairs else Path(data) / "pairsDevTest.txt"
    report = FitReport(model, len(paths), len(fitted_people), people_file,
                       calib if calib.exists() else None)
    if announce is not None:
        announce(report)

    def pair_distances(pairs_path: Path) -> tuple[np.ndarray, np.ndarray]:
        pairs = read_pairs(pairs_path)
        p1 = [str(image_path(images, p.name1, p.index1).resolve()) for p in pairs]
        p2 = [str(image_path(images, p.name2, p.index2).resolve()) for p in pairs]
        cs = extract_chips(p1 + p2, config, CLASSICAL_CHIP, workers=workers,
                           use_cache=use_cache)
        d = paired(model.embed_chips(cs.take(p1)), model.embed_chips(cs.take(p2)),
                   model.metric)
        return d, np.array([p.same for p in pairs])

    if report.calibration is not None:
        d, same = pair_distances(calib)
        model.threshold = best_threshold(d, same)
        model.info["threshold_from"] = calib.name
        report.seen_in_calibration = len(
            {n for p in read_pairs(calib) for n in (p.name1, p.name2)} & fitted_people)
        report.calibration_accuracy = accuracy(d, same, model.threshold)
    if check:
        d, same = pair_distances(Path(check))
        report.check_accuracy = accuracy(d, same, model.threshold)
    return report
