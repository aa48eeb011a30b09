"""Distances between embeddings, each named by its metric.

``euclidean``: plain L2 (dlib's convention: its 0.6 threshold is a plain L2).
``sqeuclidean``: squared L2 (FaceNet's convention: its 1.1 threshold on unit
vectors is squared). ``cosine``: 1 - cosine similarity. ``chi2``: the
chi-square distance between histograms (LBP).
"""

from __future__ import annotations

import numpy as np

from .types import Metric

METRICS: tuple[Metric, ...] = ("euclidean", "sqeuclidean", "cosine", "chi2")


def pairwise(a: np.ndarray, b: np.ndarray, metric: Metric) -> np.ndarray:
    """Distances between every row of ``a`` (``(N, D)``) and of ``b`` (``(M, D)``): ``(N, M)``."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embedding sizes differ: {a.shape[1]} and {b.shape[1]}")
    if metric in ("euclidean", "sqeuclidean"):
        sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
        sq = np.maximum(sq, 0.0)
        return sq if metric == "sqeuclidean" else np.sqrt(sq)
    if metric == "cosine":
        na = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        nb = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return 1.0 - na @ nb.T
    if metric == "chi2":
        out = np.empty((len(a), len(b)))
        for i, row in enumerate(a):
            num = (row[None, :] - b) ** 2
            den = row[None, :] + b
            out[i] = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0).sum(1)
        return out
    raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def paired(a: np.ndarray, b: np.ndarray, metric: Metric) -> np.ndarray:
    """Distances between corresponding rows of ``a`` and ``b`` (both ``(N, D)``): ``(N,)``."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    if metric in ("euclidean", "sqeuclidean"):
        sq = ((a - b) ** 2).sum(1)
        return sq if metric == "sqeuclidean" else np.sqrt(sq)
    if metric == "cosine":
        na = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        nb = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return 1.0 - (na * nb).sum(1)
    if metric == "chi2":
        den = a + b
        return np.where(den > 0, (a - b) ** 2 / np.where(den > 0, den, 1.0), 0.0).sum(1)
    raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
