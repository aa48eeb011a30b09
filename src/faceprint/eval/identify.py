"""Identification (1:N) on LFW: closed-set rank-k accuracy and open-set
detection-and-identification rate.

The protocol (all choices seeded, so every method sees the same split):

* **Enrolled people**: every LFW person with at least ``min_images`` images
  (``--min-images``, default 10: 158 people). Each one's images are shuffled;
  the first ``max(gallery_sizes)`` are gallery candidates and the rest, at
  most ``max_probes`` of them, are the *mated probes*. A gallery of g images
  per person takes the first g candidates, so every gallery size is scored on
  the same probes.
* **Unseen people** (impostors): ``impostors`` people with fewer than
  ``min_images`` images, one image each - the *non-mated probes*.
* **Training images** for the classical methods that must be fitted: every
  image of the remaining people with 2 to ``min_images - 1`` images (at most
  ``fit_max_images``), disjoint from both of the above.

A probe's distance to a person is its distance to that person's nearest
gallery image. Closed-set **rank-k** accuracy: the fraction of mated probes
whose own person is among the k nearest people. Open-set: the threshold is
set so that a fraction ``far`` of non-mated probes is (falsely) accepted - the
false alarm rate (FPIR) - and the **detection and identification rate**
(DIR) is the fraction of mated probes whose nearest person is the right one
*and* within that threshold. The threshold comes from the same non-mated
probes it is applied to (the usual way of reporting DIR at a given FPIR).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets.lfw import images_dir, lfw_people, person_of
from ..distance import pairwise
from ..errors import DataError
from ..pipeline import PipelineRecipe
from .lfw import embed_method


@dataclass(frozen=True, slots=True)
class IdentifyProtocol:
    """The choices of the identification benchmark (see the module docstring)."""

    min_images: int = 10
    gallery_sizes: tuple[int, ...] = (1, 2, 3, 4, 5)
    max_probes: int = 20
    max_people: int | None = None
    impostors: int = 1000
    far: float = 0.01
    fit_max_images: int | None = 6000
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.gallery_sizes or min(self.gallery_sizes) < 1:
            raise DataError("gallery sizes must be at least 1")
        if self.min_images <= max(self.gallery_sizes):
            raise DataError(f"--min-images ({self.min_images}) must exceed the largest "
                            f"gallery size ({max(self.gallery_sizes)}) to leave probes")
        if not 0 < self.far < 1:
            raise DataError("the false alarm rate must lie between 0 and 1")


@dataclass(slots=True)
class IdentifySplit:
    """Which images are gallery candidates, probes and training images."""

    gallery: dict[str, list[str]]  # person -> gallery candidates, in order
    probes: list[str]  # mated probes
    impostors: list[str]  # non-mated probes
    fit: list[str]  # training images for classical methods


def make_split(data: str | Path, protocol: IdentifyProtocol) -> IdentifySplit:
    """The seeded split of LFW into gallery, probes, impostors and training images."""
    people = lfw_people(images_dir(data))
    rng = random.Random(protocol.seed)
    enrolled = [n for n, f in people.items() if len(f) >= protocol.min_images]
    if len(enrolled) < 2:
        raise DataError(f"fewer than two people have {protocol.min_images} images or more")
    if protocol.max_people is not None:
        enrolled = sorted(rng.sample(enrolled, min(protocol.max_people, len(enrolled))))
    k = max(protocol.gallery_sizes)
    gallery: dict[str, list[str]] = {}
    probes: list[str] = []
    for name in enrolled:
        files = list(people[name])
        rng.shuffle(files)
        gallery[name] = files[:k]
        probes += files[k:k + protocol.max_probes]
    others = sorted(n for n, f in people.items() if len(f) < protocol.min_images)
    rng.shuffle(others)
    unseen = others[:protocol.impostors]
    impostors = [people[n][rng.randrange(len(people[n]))] for n in unseen]
    fit = [f for n in others[protocol.impostors:] if len(people[n]) >= 2 for f in people[n]]
    if protocol.fit_max_images is not None and len(fit) > protocol.fit_max_images:
        fit = sorted(rng.sample(fit, protocol.fit_max_images))
    return IdentifySplit(gallery, probes, impostors, fit)


@dataclass(slots=True)
class GalleryResult:
    """Scores for one gallery size."""

    gallery_size: int
    rank1: float
    rank5: float
    dir_at_far: float
    threshold: float
    cmc: list[float]  # rank-1 .. rank-10 accuracy
    dir_curve: tuple[np.ndarray, np.ndarray] = field(repr=False)  # (far, dir)
    failures: list[tuple[str, str, str, float]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"gallery_size": self.gallery_size, "rank1": self.rank1, "rank5": self.rank5,
                "dir_at_far": self.dir_at_far, "threshold": self.threshold, "cmc": self.cmc}


@dataclass(slots=True)
class IdentifyReport:
    """Identification results of one method."""

    config: PipelineRecipe
    protocol: IdentifyProtocol
    people: int
    probes: int
    impostors: int
    fit_images: int
    method_protocol: str
    metric: str
    results: list[GalleryResult]
    no_face_images: int

    def to_dict(self) -> dict[str, object]:
        p = self.protocol
        return {"embedder": self.config.embedder, "detector": self.config.detector,
                "label": self.config.label, "people": self.people,
                "mated_probes": self.probes, "non_mated_probes": self.impostors,
                "fit_images": self.fit_images, "fitting": self.method_protocol,
                "metric": self.metric, "far": p.far, "min_images": p.min_images,
                "max_probes": p.max_probes, "seed": p.seed, "no_face_images":
                self.no_face_images, "galleries": [r.to_dict() for r in self.results]}


def score(probe_vectors: np.ndarray, probe_people: Sequence[str],
          impostor_vectors: np.ndarray, gallery_vectors: np.ndarray,
          gallery_people: Sequence[str], metric: Any, far: float, gallery_size: int,
          probe_paths: Sequence[str] = (), gallery_paths: Sequence[str] = (),
          search: Callable[[np.ndarray, list[str]], np.ndarray] | None = None
          ) -> GalleryResult:
    """Rank-k and DIR at ``far`` for probes against a gallery (see the module
    docstring); ``failures`` lists up to 12 rank-1 errors as (probe, wrongly
    chosen gallery image, a gallery image of the right person, distance).
    ``search(vectors, names)``, when given, answers each vector's distance to each
    person of ``names`` (``(N, len(names))``) instead of numpy here: a gallery's
    search, scored the same way (then without ``failures``)."""
    names = sorted(set(gallery_people))
    col = {n: i for i, n in enumerate(names)}
    owner = np.array([col[n] for n in gallery_people])

    def per_person(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if search is not None:
            return search(vectors, names), np.zeros((len(vectors), len(names)), dtype=int)
        d = pairwise(vectors, gallery_vectors, metric)
        best = np.full((len(vectors), len(names)), np.inf)
        arg = np.zeros((len(vectors), len(names)), dtype=int)
        for j in range(len(names)):
            cols = np.flatnonzero(owner == j)
            sub = d[:, cols]
            k = sub.argmin(axis=1)
            best[:, j] = sub[np.arange(len(vectors)), k]
            arg[:, j] = cols[k]
        return best, arg

    dist, nearest = per_person(probe_vectors)
    truth = np.array([col[n] for n in probe_people])
    own = dist[np.arange(len(truth)), truth]
    rank = (dist < own[:, None]).sum(axis=1)  # 0 = first
    cmc = [float((rank < k).mean()) for k in range(1, 11)]
    top = dist.argmin(axis=1)
    top_d = dist.min(axis=1)
    imp_d = per_person(impostor_vectors)[0].min(axis=1) if len(impostor_vectors) else \
        np.zeros(0)
    correct = top == truth
    # threshold: the largest distance accepting at most `far` of the impostors
    if len(imp_d):
        srt = np.sort(imp_d)
        k = int(np.floor(far * len(srt) + 1e-9))
        threshold = float(srt[0] - 1e-9) if k == 0 else float((srt[k - 1] + srt[k]) / 2.0) \
            if k < len(srt) else float(srt[-1])
        levels = np.r_[srt[0] - 1e-9, srt]
        fars = np.array([(imp_d <= t).mean() for t in levels])
        dirs = np.array([(correct & (top_d <= t)).mean() for t in levels])
    else:
        threshold, fars, dirs = float("inf"), np.zeros(1), np.array([correct.mean()])
    dir_at = float((correct & (top_d <= threshold)).mean())
    failures = []
    if probe_paths and gallery_paths and search is None:
        for i in np.flatnonzero(~correct)[:12]:
            wrong = gallery_paths[nearest[i, top[i]]]
            right = gallery_paths[nearest[i, truth[i]]]
            failures.append((probe_paths[i], wrong, right, float(top_d[i])))
    return GalleryResult(gallery_size, cmc[0], cmc[4], dir_at, threshold, cmc,
                         (fars, dirs), failures)


def evaluate_identification(data: str | Path, config: PipelineRecipe,
                            protocol: IdentifyProtocol | None = None, *, workers: int = 0,
                            use_cache: bool = True, progress: bool = True
                            ) -> IdentifyReport:
    """Run the identification benchmark for one method."""
    protocol = protocol or IdentifyProtocol()
    split = make_split(data, protocol)
    gallery_paths = [p for files in split.gallery.values() for p in files]
    paths = gallery_paths + split.probes + split.impostors
    emb = embed_method(config, paths, fit_paths=split.fit,
                       fit_description=(f"fitted on {len(split.fit):,} images of LFW people "
                                        f"with 2-{protocol.min_images - 1} images, none of "
                                        f"them enrolled or impostors"),
                       workers=workers, use_cache=use_cache, progress=progress)
    vec = {p: v for p, v in zip(paths, emb.vectors)}
    probe_vectors = np.stack([vec[p] for p in split.probes])
    probe_people = [person_of(p) for p in split.probes]
    impostor_vectors = np.stack([vec[p] for p in split.impostors]) if split.impostors else \
        np.zeros((0, emb.vectors.shape[1]), np.float32)
    results = []
    for g in sorted(protocol.gallery_sizes):
        gpaths = [p for files in split.gallery.values() for p in files[:g]]
        results.append(score(probe_vectors, probe_people, impostor_vectors,
                             np.stack([vec[p] for p in gpaths]),
                             [person_of(p) for p in gpaths], emb.metric, protocol.far, g,
                             split.probes, gpaths))
    uses_fit = "fitted on" in emb.protocol
    return IdentifyReport(config, protocol, len(split.gallery), len(split.probes),
                          len(split.impostors), len(split.fit) if uses_fit else 0,
                          emb.protocol, str(emb.metric), results, int((~emb.found).sum()))
