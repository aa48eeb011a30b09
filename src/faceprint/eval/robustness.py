"""Robustness sweeps: the LFW pairs protocol on degraded test images (JPEG
quality, face resolution; see :mod:`faceprint.eval.degrade`), as FaceNet's
Table 4 does on its own hold-out set.

Every image of every evaluated pair is degraded the same way; the detector,
aligner and embedder then run on the degraded image as they would on any
photo; thresholds are chosen on the other folds of the same degraded set (so
the numbers say how separable the degraded faces are, not how well a
threshold chosen on clean faces transfers). Classical methods are fitted on
clean training images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..pipeline import PipelineRecipe
from .degrade import Degradation
from .lfw import LfwReport, evaluate_method

#: the sweeps of FaceNet's Table 4
JPEG_QUALITIES = (10, 20, 30, 50, 70, 90)
FACE_PIXELS = (1_600, 6_400, 14_400, 25_600, 65_536)


def sweep(data: str | Path, config: PipelineRecipe, levels: Sequence[Degradation], *,
          baseline: LfwReport | None = None, **kwargs: Any
          ) -> tuple[LfwReport, list[LfwReport]]:
    """The undegraded baseline (computed unless given) and one LFW report per
    degradation level; ``kwargs`` go to :func:`faceprint.eval.lfw.evaluate_method`."""
    if baseline is None:
        baseline = evaluate_method(data, replace(config, degrade=None), **kwargs)
    reports = [evaluate_method(data, replace(config, degrade=level), **kwargs)
               for level in levels]
    return baseline, reports


def rows(baseline: LfwReport, reports: Sequence[LfwReport]) -> list[dict[str, object]]:
    """Table rows (JSON-ready): the degradation, accuracy mean and std, VAL at
    FAR = 1e-3 mean and std, AUC, images without a detected face."""
    out: list[dict[str, object]] = []
    for r in [baseline, *reports]:
        d = r.config.degrade
        out.append({"kind": d.kind if d else "none", "value": d.value if d else None,
                    "label": d.label if d else "original",
                    "accuracy_mean": r.result.accuracy_mean,
                    "accuracy_std": r.result.accuracy_std, "val_mean": r.result.val_mean,
                    "val_std": r.result.val_std, "auc": r.result.auc,
                    "no_face_images": r.no_face_images, "images": r.images})
    return out
