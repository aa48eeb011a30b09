"""Losses for embedding training, on L2-normalised embeddings.

Distances are squared Euclidean distances between unit vectors (FaceNet's
convention): ``d(x, y) = ||x - y||^2``, in [0, 4].

Triplet loss (Schroff et al. 2015, eq. 1)::

    L = sum over triplets (a, p, n) of [ d(a, p) - d(a, n) + alpha ]_+

with ``a`` and ``p`` the same person, ``n`` another, and the margin ``alpha``
(default 0.2). Most triplets already satisfy ``d(a, n) > d(a, p) + alpha`` and give
nothing to learn, so the triplets are *mined* online inside each batch of P people x
K images:

``semihard`` (FaceNet's choice)
    every anchor-positive pair ``(a, p)`` of the batch, with the negative ``n``
    that is *semi-hard*: farther than the positive but within the margin,
    ``d(a, p) < d(a, n) < d(a, p) + alpha`` - of those the closest. When no
    negative lies in that band, the closest negative farther than the positive is
    taken (its loss is zero); when every negative is closer than the positive, the
    farthest negative (as TensorFlow's ``triplet_semihard_loss`` does).
``batchhard`` (Hermans et al. 2017)
    for every anchor, its farthest positive and its closest negative.
``batchall``
    every valid triplet of the batch; the loss is averaged over the triplets whose
    loss is positive.

Also here: an additive angular margin classification loss (ArcFace, Deng et al.
2019) for comparison, and distillation from a teacher's unit embeddings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

MINING = ("semihard", "batchhard", "batchall")


def squared_distances(x: torch.Tensor) -> torch.Tensor:
    """``(N, N)`` squared Euclidean distances between the rows of ``x`` ``(N, D)``."""
    sq = (x * x).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * x @ x.t()
    return d.clamp_min(0.0)


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(positive, negative)`` boolean ``(N, N)`` masks: same label and not the same
    item; different labels. A label < 0 marks an item that is only ever a negative."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    valid = (labels >= 0)[:, None] & (labels >= 0)[None, :]
    return same & ~eye & valid, ~same


@dataclass(frozen=True, slots=True)
class Triplets:
    """Mined triplets: index tensors ``anchor``, ``positive``, ``negative`` (all ``(T,)``)."""

    anchor: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor

    def __len__(self) -> int:
        return len(self.anchor)


def mine_semihard(dist: torch.Tensor, labels: torch.Tensor, margin: float) -> Triplets:
    """FaceNet's semi-hard triplets: one per anchor-positive pair (see the module
    docstring). ``dist``: ``(N, N)`` squared distances; ``labels``: ``(N,)``, where
    an item labelled < 0 is used only as a negative (one image of its identity)."""
    pos, neg = _masks(labels)
    a, p = torch.nonzero(pos, as_tuple=True)
    if len(a) == 0:
        empty = torch.empty(0, dtype=torch.long, device=dist.device)
        return Triplets(empty, empty, empty)
    d_ap = dist[a, p][:, None]                    # (T, 1)
    d_an = dist[a]                                # (T, N)
    negs = neg[a]                                 # (T, N)
    inf = torch.full_like(d_an, math.inf)
    outside = negs & (d_an > d_ap)                # farther than the positive
    closest_outside = torch.where(outside, d_an, inf).argmin(1)
    farthest_inside = torch.where(negs, d_an, -inf).argmax(1)
    n = torch.where(outside.any(1), closest_outside, farthest_inside)
    keep = negs.any(1)
    return Triplets(a[keep], p[keep], n[keep])


def mine_batchhard(dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """Batch-hard triplets: each anchor with a positive, its farthest positive and its
    closest negative."""
    pos, neg = _masks(labels)
    has = pos.any(1) & neg.any(1)
    a = torch.nonzero(has, as_tuple=True)[0]
    inf = torch.tensor(math.inf, device=dist.device)
    p = torch.where(pos[a], dist[a], -inf).argmax(1)
    n = torch.where(neg[a], dist[a], inf).argmin(1)
    return Triplets(a, p, n)


def mine_batchall(labels: torch.Tensor) -> Triplets:
    """Every valid triplet ``(a, p, n)`` of the batch."""
    pos, neg = _masks(labels)
    valid = pos[:, :, None] & neg[:, None, :]
    a, p, n = torch.nonzero(valid, as_tuple=True)
    return Triplets(a, p, n)


def mine(dist: torch.Tensor, labels: torch.Tensor, strategy: str, margin: float) -> Triplets:
    """Triplets of a batch by ``strategy`` (one of :data:`MINING`)."""
    if strategy == "semihard":
        return mine_semihard(dist, labels, margin)
    if strategy == "batchhard":
        return mine_batchhard(dist, labels)
    if strategy == "batchall":
        return mine_batchall(labels)
    raise ValueError(f"unknown mining {strategy!r}; choose one of {', '.join(MINING)}")


@dataclass(frozen=True, slots=True)
class TripletStats:
    """What a triplet loss step saw: the number of triplets mined, the fraction with a
    positive loss, and the fraction that were semi-hard."""

    triplets: int
    active: float
    semihard: float


def triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, *, margin: float = 0.2,
                 mining: str = "semihard") -> tuple[torch.Tensor, TripletStats]:
    """The triplet loss of a batch of unit embeddings ``(N, D)`` with online mining:
    the mean of ``[d(a,p) - d(a,n) + margin]_+`` over the mined triplets (batch-all:
    over those with a positive loss). Labels < 0: negatives only."""
    dist = squared_distances(embeddings)
    with torch.no_grad():
        t = mine(dist.detach(), labels, mining, margin)
    if len(t) == 0:
        return embeddings.sum() * 0.0, TripletStats(0, 0.0, 0.0)
    d_ap = dist[t.anchor, t.positive]
    d_an = dist[t.anchor, t.negative]
    losses = F.relu(d_ap - d_an + margin)
    active = losses > 0
    semi = (d_an > d_ap) & (d_an < d_ap + margin)
    loss = losses.sum() / active.sum().clamp_min(1) if mining == "batchall" else losses.mean()
    return loss, TripletStats(len(t), float(active.float().mean()), float(semi.float().mean()))


class ArcFaceHead(nn.Module):
    """Additive angular margin softmax (ArcFace): logits ``s * cos(theta + m)`` for the
    true class and ``s * cos(theta)`` for the others, ``theta`` the angle between the
    unit embedding and the class's unit weight vector. ``margin`` in radians."""

    def __init__(self, dim: int, classes: int, scale: float = 30.0, margin: float = 0.3
                 ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(classes, dim))
        nn.init.xavier_uniform_(self.weight)
        self.scale, self.margin = scale, margin

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the batch; items labelled < 0 are left out."""
        keep = labels >= 0
        emb, lab = embeddings[keep], labels[keep]
        if len(lab) == 0:
            return embeddings.sum() * 0.0
        cos = F.linear(emb, F.normalize(self.weight, dim=1)).clamp(-1 + 1e-6, 1 - 1e-6)
        theta = torch.acos(cos)
        target = torch.cos(theta + self.margin)
        # keep the logit monotonic in theta past pi - m (the usual "easy margin" fix)
        target = torch.where(theta + self.margin < math.pi, target,
                             cos - self.margin * math.sin(self.margin))
        onehot = F.one_hot(lab, cos.shape[1]).bool()
        logits = self.scale * torch.where(onehot, target, cos)
        return F.cross_entropy(logits, lab)


class DistillHead(nn.Module):
    """Distillation from a teacher's unit embeddings ``(N, Dt)``.

    The student's unit embedding (``(N, Ds)``) is mapped by a linear layer to the
    teacher's size (identity-initialised when the sizes agree; dropped at export) and
    normalised; the loss is ``mean(1 - cos(student, teacher))`` plus
    ``relation`` times the mean squared difference of the two batches' cosine
    similarity matrices (which needs no mapping: it matches distances directly)."""

    def __init__(self, student_dim: int, teacher_dim: int, relation: float = 1.0) -> None:
        super().__init__()
        self.project = nn.Linear(student_dim, teacher_dim, bias=False)
        if student_dim == teacher_dim:
            with torch.no_grad():
                self.project.weight.copy_(torch.eye(student_dim))
        self.relation = relation

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        mapped = F.normalize(self.project(student), dim=1)
        direct = (1.0 - (mapped * teacher).sum(1)).mean()
        if self.relation <= 0:
            return direct
        rel = F.mse_loss(student @ student.t(), teacher @ teacher.t())
        return direct + self.relation * rel
