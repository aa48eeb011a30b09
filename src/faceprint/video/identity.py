"""Who a track is: the one place that talks to the gallery, the quality of a face, and
the vote over a track's embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..types import Face, Match, Metric

if TYPE_CHECKING:
    from ..gallery import Gallery


def lookup(gallery: Gallery | None, embedder: str, vectors: np.ndarray, metric: Metric,
           groups: Sequence[str] | None = None) -> list[Match | None]:
    """The nearest enrolled person of each vector among ``groups`` (default: the group
    ``default``); None without a gallery. This is the only call into the gallery."""
    if gallery is None or len(vectors) == 0:
        return [None] * len(vectors)
    results = gallery.search(embedder, vectors, metric, k=1,
                             groups=list(groups) if groups else None)
    return [r[0] if r else None for r in results]


def face_quality(face: Face) -> float:
    """How much a face's embedding is worth, in [0, 1]: size x detector score x
    frontality.

    * size: the shorter box side over 80 px, at most 1 (dlib's chip is 150 px; faces
      under about 40 px lose most of their detail);
    * score: the detector's score clipped to [0.05, 1] (BlazeFace and MTCNN give
      probabilities; for HOG's margins this is coarse but monotone);
    * frontal: 1 - |yaw| / 75 degrees, at least 0.1 (pitch is left out: the
      estimate from five points is unreliable for pitch).
    """
    b = face.box
    size = min(max(min(b.width, b.height) / 80.0, 0.0), 1.0)
    score = min(max(float(face.score), 0.05), 1.0)
    frontal = 1.0
    if face.pose is not None:
        frontal = max(0.1, 1.0 - abs(face.pose.yaw) / 75.0)
    return size * score * frontal


@dataclass(frozen=True, slots=True)
class Evidence:
    """One embedding of a track's face: its frame, quality and nearest person."""

    frame: int
    vector: np.ndarray
    quality: float
    match: Match | None


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str | None
    distance: float | None
    support: float  #: the winner's share of the total quality weight


def vote(evidence: Sequence[Evidence], threshold: float, *, min_votes: int = 2,
         min_share: float = 0.5) -> Verdict:
    """The name a track's evidence supports, or None ("unknown").

    Each embedding votes for its nearest person when the distance is within
    ``threshold`` (the embedder's metric), else for "unknown"; each vote weighs its
    face's quality. A name wins when it has at least ``min_votes`` votes and more
    than ``min_share`` of the total weight. The distance is the quality-weighted mean
    of the winner's votes' distances (for unknown: the nearest distance seen).
    """
    if not evidence:
        return Verdict(None, None, 0.0)
    total = sum(max(e.quality, 1e-6) for e in evidence)
    weight: dict[str, float] = {}
    count: dict[str, int] = {}
    for e in evidence:
        if e.match is not None and e.match.distance <= threshold:
            weight[e.match.name] = weight.get(e.match.name, 0.0) + max(e.quality, 1e-6)
            count[e.match.name] = count.get(e.match.name, 0) + 1
    nearest = [e.match.distance for e in evidence if e.match is not None]
    if weight:
        best = max(weight, key=lambda n: weight[n])
        share = weight[best] / total
        if count[best] >= min_votes and share > min_share:
            mine = [e for e in evidence if e.match is not None and e.match.name == best
                    and e.match.distance <= threshold]
            w = np.array([max(e.quality, 1e-6) for e in mine])
            d = np.array([e.match.distance for e in mine if e.match is not None])
            return Verdict(best, float((w * d).sum() / w.sum()), share)
    return Verdict(None, min(nearest) if nearest else None, 0.0)
