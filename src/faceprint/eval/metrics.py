"""Verification metrics over pair distances.

``distances``: one distance per pair (smaller = more alike); ``same``: True for
same-person pairs. A pair is accepted when its distance is <= the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def roc(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(far, tar, thresholds)`` for every distinct threshold, from accepting nothing
    to accepting everything. far: fraction of different-person pairs accepted; tar:
    fraction of same-person pairs accepted."""
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    order = np.argsort(d, kind="stable")
    d, s = d[order], s[order]
    # accept the first i pairs; only thresholds at the end of runs of equal distances
    last = np.r_[np.nonzero(np.diff(d))[0], len(d) - 1]
    tp = np.cumsum(s)[last]
    fp = np.cumsum(~s)[last]
    n_same, n_diff = max(int(s.sum()), 1), max(int((~s).sum()), 1)
    far = np.r_[0.0, fp / n_diff]
    tar = np.r_[0.0, tp / n_same]
    thresholds = np.r_[-np.inf, d[last]]
    return far, tar, thresholds


def auc(far: np.ndarray, tar: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids)."""
    return float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2.0))


def eer(distances: np.ndarray, same: np.ndarray) -> float:
    """Equal error rate: where the false accept rate equals the false reject rate
    (linear interpolation between ROC points)."""
    far, tar, _ = roc(distances, same)
    frr = 1.0 - tar
    diff = far - frr  # rises from -1 to +1
    i = int(np.searchsorted(diff, 0.0))
    if i == 0:
        return float(far[0])
    x0, x1 = diff[i - 1], diff[i]
    w = 0.0 if x1 == x0 else -x0 / (x1 - x0)
    return float(far[i - 1] + w * (far[i] - far[i - 1]))


def accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    d = np.asarray(distances)
    return float(np.mean((d <= threshold) == np.asarray(same, dtype=bool)))


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The threshold of highest accuracy; among ties, the middle of the best run.
    Candidates lie halfway between consecutive sorted distances."""
    d = np.sort(np.asarray(distances, dtype=np.float64))
    candidates = np.r_[d[0] - 1e-6, (d[1:] + d[:-1]) / 2.0, d[-1] + 1e-6]
    s = np.asarray(same, dtype=bool)
    order = np.argsort(distances, kind="stable")
    ss = s[order]
    # accuracy when accepting the first i sorted pairs, i = 0..n
    correct = np.r_[0, np.cumsum(ss)] + (int((~ss).sum()) - np.r_[0, np.cumsum(~ss)])
    best = np.flatnonzero(correct == correct.max())
    return float(candidates[best[len(best) // 2]])


def threshold_at_far(distances: np.ndarray, same: np.ndarray, target: float) -> float:
    """The largest threshold whose false accept rate is at most ``target``: halfway
    between the k-th and (k+1)-th smallest different-person distances, k =
    floor(target * number of different-person pairs)."""
    diff = np.sort(np.asarray(distances, dtype=np.float64)[~np.asarray(same, dtype=bool)])
    k = int(np.floor(target * len(diff) + 1e-9))
    if k >= len(diff):
        return float(diff[-1])
    if k == 0:
        return float(diff[0] - 1e-9)
    return float((diff[k - 1] + diff[k]) / 2.0)


@dataclass(slots=True)
class KFoldResult:
    """Results of the k-fold protocol (thresholds chosen on the other folds)."""

    accuracies: list[float]
    thresholds: list[float]
    vals: list[float]
    fars: list[float]
    auc: float
    eer: float
    far_target: float
    fold_of_pair: np.ndarray = field(repr=False)
    correct: np.ndarray = field(repr=False)
    #: each fold's FAR-``far_target`` threshold (chosen on the other folds)
    far_thresholds: list[float] = field(default_factory=list)

    @property
    def accuracy_mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def accuracy_std(self) -> float:
        """Sample standard deviation over folds."""
        return float(np.std(self.accuracies, ddof=1)) if len(self.accuracies) > 1 else 0.0

    @property
    def accuracy_sem(self) -> float:
        """Standard error of the mean (what LFW's README asks for)."""
        return self.accuracy_std / float(np.sqrt(len(self.accuracies)))

    @property
    def val_mean(self) -> float:
        return float(np.mean(self.vals))

    @property
    def val_std(self) -> float:
        return float(np.std(self.vals, ddof=1)) if len(self.vals) > 1 else 0.0


def kfold(distances: np.ndarray, same: np.ndarray, folds: np.ndarray,
          far_target: float = 1e-3) -> KFoldResult:
    """The standard LFW protocol: for each fold, the accuracy threshold and the
    FAR-``far_target`` threshold are chosen on the other folds and applied to it.
    With a single fold, thresholds are chosen on that fold itself (say so when
    reporting)."""
    d = np.asarray(distances, dtype=np.float64)
    ids = sorted(set(np.asarray(folds).tolist()))
    return kfold_models({fold: d for fold in ids}, same, folds, far_target)


def kfold_models(distances: dict[int, np.ndarray], same: np.ndarray, folds: np.ndarray,
                 far_target: float = 1e-3) -> KFoldResult:
    """The LFW protocol for a method fitted once per test fold: ``distances[k]``
    holds the distances of *every* pair under the model fitted without fold
    ``k``. Fold ``k``'s thresholds are chosen on the other folds' pairs scored by
    that same model, then applied to fold ``k``'s pairs; ROC, AUC and EER use each
    pair's distance under the model that did not see its fold."""
    s = np.asarray(same, dtype=bool)
    f = np.asarray(folds)
    ids = sorted(set(f.tolist()))
    missing = [k for k in ids if k not in distances]
    if missing:
        raise ValueError(f"no distances for folds {missing}")
    accs, ths, vals, fars, fths = [], [], [], [], []
    correct = np.zeros(len(s), dtype=bool)
    held_out = np.zeros(len(s))
    for fold in ids:
        d = np.asarray(distances[fold], dtype=np.float64)
        test = f == fold
        train = ~test if len(ids) > 1 else test
        held_out[test] = d[test]
        t = best_threshold(d[train], s[train])
        accs.append(accuracy(d[test], s[test], t))
        ths.append(t)
        correct[test] = (d[test] <= t) == s[test]
        tf = threshold_at_far(d[train], s[train], far_target)
        fths.append(tf)
        acc_same = d[test][s[test]] <= tf
        acc_diff = d[test][~s[test]] <= tf
        vals.append(float(acc_same.mean()) if len(acc_same) else 0.0)
        fars.append(float(acc_diff.mean()) if len(acc_diff) else 0.0)
    far, tar, _ = roc(held_out, s)
    return KFoldResult(accs, ths, vals, fars, auc(far, tar), eer(held_out, s), far_target, f,
                       correct, fths)
