"""Batches of P identities x K images (plus extra negatives), and the augmentation.

Online triplet mining needs positives in every batch: each batch holds ``P``
identities with two or more images, ``K`` images of each (drawn without
replacement when the identity has K or more, else with repeats, which the
augmentation makes differ), and ``extra`` images of other identities - the
identities with a single image, which can only serve as negatives, are drawn
here. Every epoch visits the multi-image identities in a new random order.

Everything is driven by a ``numpy.random.Generator`` seeded from ``(seed, epoch)``,
so an epoch's batches and augmentations are the same whether the run went straight
through or was resumed at that epoch. No torch here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: label given to images that may only serve as negatives in a batch
NEGATIVE_ONLY = -1


class PKSampler:
    """P identities x K images per batch, plus ``extra`` negatives-only images.

    labels: ``(N,)`` identity of each image. ``epoch_batches(rng)`` yields
    ``(index, batch_labels)``: image indices ``(B,)`` and the labels to mine with
    (the identity, or :data:`NEGATIVE_ONLY` for the extra images).
    """

    def __init__(self, labels: np.ndarray, p: int, k: int, extra: int = 0) -> None:
        if p < 2 or k < 2:
            raise ValueError("a P x K batch needs P >= 2 identities and K >= 2 images each")
        self.labels = np.asarray(labels)
        self.p, self.k, self.extra = p, k, extra
        counts = np.bincount(self.labels)
        self.multi = np.flatnonzero(counts >= 2)
        if len(self.multi) < p:
            raise ValueError(f"only {len(self.multi)} identities have two or more images; "
                             f"P = {p} needs at least that many")
        order = np.argsort(self.labels, kind="stable")
        starts = np.r_[0, np.cumsum(counts)]
        self.members = {int(i): order[starts[i]:starts[i + 1]] for i in self.multi}
        self.singles = np.flatnonzero(counts[self.labels] == 1)

    @property
    def batch_size(self) -> int:
        return self.p * self.k + self.extra

    def __len__(self) -> int:
        """Batches per epoch: every multi-image identity once."""
        return math.ceil(len(self.multi) / self.p)

    def epoch_batches(self, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ids = rng.permutation(self.multi)
        if len(ids) % self.p:
            pad = rng.choice(self.multi, self.p - len(ids) % self.p, replace=False)
            ids = np.r_[ids, pad]
        pool = self.singles if len(self.singles) else np.arange(len(self.labels))
        for b in range(len(ids) // self.p):
            chosen = ids[b * self.p:(b + 1) * self.p]
            index, labels = [], []
            for ident in chosen:
                members = self.members[int(ident)]
                pick = rng.choice(members, self.k, replace=len(members) < self.k)
                index.append(pick)
                labels.append(np.full(self.k, ident))
            if self.extra:
                taken = set(chosen.tolist())
                extra = rng.choice(pool, self.extra, replace=len(pool) < self.extra)
                extra = extra[~np.isin(self.labels[extra], list(taken))]
                index.append(extra)
                labels.append(np.full(len(extra), NEGATIVE_ONLY))
            yield np.concatenate(index), np.concatenate(labels).astype(np.int64)


class ShuffleSampler:
    """Every image once per epoch in random order, ``batch_size`` at a time (for
    distillation alone, where every image - single or not - carries a target).
    Labels are the identities (singletons: :data:`NEGATIVE_ONLY`)."""

    def __init__(self, labels: np.ndarray, batch_size: int) -> None:
        self.labels = np.asarray(labels)
        self.batch_size = batch_size
        counts = np.bincount(self.labels)
        self.mine_labels = np.where(counts[self.labels] >= 2, self.labels, NEGATIVE_ONLY)

    def __len__(self) -> int:
        return len(self.labels) // self.batch_size

    def epoch_batches(self, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = rng.permutation(len(self.labels))
        for b in range(len(self)):
            index = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield index, self.mine_labels[index]


@dataclass(frozen=True, slots=True)
class Augmentation:
    """Random perturbations of ``n`` chips, in units that do not depend on the chip's
    size, so that the same draw can be applied to a chip at any resolution (the
    student's and the teacher's chip of one face: see
    :func:`faceprint.train.data.teacher_views`).

    flipped ``(n,)`` bool; angle ``(n,)`` degrees; scale ``(n,)``; shift ``(n, 2)``
    fractions of the chip side; bright, contrast, sat ``(n,)`` factors, or None when
    colour is left alone."""

    flipped: np.ndarray
    angle: np.ndarray | None
    scale: np.ndarray | None
    shift: np.ndarray | None
    bright: np.ndarray | None = None
    contrast: np.ndarray | None = None
    sat: np.ndarray | None = None


def draw_augmentation(n: int, rng: np.random.Generator, *, flip: bool = True,
                      crop: float = 0.08, rotate: float = 8.0, colour: float = 0.25
                      ) -> Augmentation:
    """Draw the perturbations of ``n`` chips (see :func:`augment` for the ranges)."""
    flipped = rng.random(n) < 0.5 if flip else np.zeros(n, bool)
    angle = scale = shift = None
    if crop > 0 or rotate > 0:
        angle, scale, shift = np.empty(n), np.empty(n), np.empty((n, 2))
        for i in range(n):  # one chip's draws together, in a fixed order
            angle[i] = rng.uniform(-rotate, rotate)
            scale[i] = rng.uniform(1 - crop, 1 + crop)
            shift[i] = rng.uniform(-crop, crop, size=2)
    if colour <= 0:
        return Augmentation(flipped, angle, scale, shift)
    bright, contrast, sat = (rng.uniform(1 - colour, 1 + colour, n).astype(np.float32)
                             for _ in range(3))
    return Augmentation(flipped, angle, scale, shift, bright, contrast, sat)


def apply_augmentation(chips: np.ndarray, aug: Augmentation) -> np.ndarray:
    """``chips`` ``(n, S, S, 3)`` uint8 perturbed by ``aug`` (at any S)."""
    import cv2

    out = np.empty_like(chips)
    size = chips.shape[1]
    for i in range(len(chips)):
        chip = chips[i]
        if aug.angle is not None and aug.scale is not None and aug.shift is not None:
            m = cv2.getRotationMatrix2D((size / 2.0, size / 2.0), float(aug.angle[i]),
                                        float(aug.scale[i]))
            m[:, 2] += aug.shift[i] * size
            chip = cv2.warpAffine(chip, m, (size, size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT)
        out[i] = chip[:, ::-1] if aug.flipped[i] else chip
    if aug.bright is not None and aug.contrast is not None and aug.sat is not None:
        x = out.astype(np.float32)
        grey = x.mean(axis=3, keepdims=True)
        x = grey + (x - grey) * aug.sat[:, None, None, None]
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        x = (x - mean) * aug.contrast[:, None, None, None] + mean
        x = x * aug.bright[:, None, None, None]
        out = np.clip(x, 0, 255).astype(np.uint8)
    return out


def augment(chips: np.ndarray, rng: np.random.Generator, *, flip: bool = True,
            crop: float = 0.08, rotate: float = 8.0, colour: float = 0.25
            ) -> tuple[np.ndarray, np.ndarray]:
    """Randomly perturbed copies of uint8 chips ``(B, S, S, 3)`` and which were mirrored.

    flip: mirror half of them; crop: random scale within ``1 +- crop`` and shift
    within ``+- crop`` of the chip side (a random crop, resampled to the chip size);
    rotate: degrees, uniform in ``+- rotate``; colour: brightness, contrast and
    saturation factors within ``1 +- colour``. Returns ``(chips, flipped)``."""
    aug = draw_augmentation(len(chips), rng, flip=flip, crop=crop, rotate=rotate,
                            colour=colour)
    return apply_augmentation(chips, aug), aug.flipped
