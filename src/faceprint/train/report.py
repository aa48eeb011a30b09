"""Scoring an exported model on an LFW pairs file the honest way: through
``faceprint eval lfw``'s own path (detection, alignment, the ``onnx:PATH`` embedder),
reporting the accuracy at the threshold stored in the model - calibrated on other
pairs - beside the accuracy at the threshold the pairs file chooses for itself
(which is what a single-fold ``eval lfw`` prints). Needs no torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def pairs_report(model: str | Path, data: str | Path, pairs_file: str | Path, *,
                 detector: str = "hog", workers: int = 0, flip: bool = False,
                 use_cache: bool = False, progress: bool = True) -> dict[str, Any]:
    """Accuracy of ``onnx:model`` on ``pairs_file`` at its stored threshold and at the
    file's own best threshold, with VAL at FAR = 1e-3 and the AUC. Embeddings are cached
    only with ``use_cache`` (``eval lfw``'s cache is keyed by the embedder's name, so a
    retrained model at the same path would reuse the old model's embeddings)."""
    from ..embedders.onnx_model import OnnxEmbedder
    from ..eval.lfw import evaluate
    from ..eval.metrics import accuracy
    from ..pipeline import PipelineRecipe

    embedder = OnnxEmbedder(model, threads=1)
    config = PipelineRecipe(detector, f"onnx:{model}", flip=flip)
    report = evaluate(data, config, pairs_file=pairs_file, workers=workers, use_cache=use_cache,
                      progress=progress)
    d, same = report.distances, report.same
    r = report.result
    return {
        "model": str(model),
        "pairs_file": Path(pairs_file).name,
        "pairs": len(d),
        "metric": embedder.metric,
        "stored_threshold": embedder.threshold,
        "calibration": embedder.calibration,
        "accuracy_at_stored_threshold": accuracy(d, same, embedder.threshold),
        "accuracy_at_own_best_threshold": r.accuracy_mean,
        "own_best_threshold": r.thresholds[0] if len(r.thresholds) == 1 else None,
        "val_at_far_1e-3": r.val_mean,
        "auc": r.auc,
        "no_face_images": report.no_face_images,
        "same_mean_distance": float(np.mean(d[same])),
        "different_mean_distance": float(np.mean(d[~same])),
        "detector": detector,
        "flip": flip,
    }
