"""Fit a fused embedder ``A+B`` on LFW View 1's training pairs (``pairsDevTrain.txt``)
and store its constants in ``src/faceprint/data/fusion.json``.

For each part, the cosine similarity of the pairs' unit vectors is standardised with
its mean and standard deviation over those pairs; a logistic regression of
same/different on the standardised similarities gives the coefficients; the weights
are ``coef_i / std_i`` normalised to sum to 1 (the fused inner product is then
``sum_i w_i s_i``); the threshold (cosine distance ``1 - sum_i w_i s_i``) is the
accuracy-maximising one on the same pairs. View 2 (``pairs.txt``) is never read.

Usage::

    python benchmarks/fit_fusion.py sface dlib-resnet --detector yunet
    python benchmarks/fit_fusion.py sface dlib-resnet --detector yunet --dry-run
    python benchmarks/fit_fusion.py sface dlib-resnet --detector blazeface-onet --flip

The parts' embeddings come from (and go to) the evaluation's embedding cache.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from faceprint.datasets.lfw import pair_paths
from faceprint.embedders.base import l2_normalize
from faceprint.eval.lfw import _load_pairs, embed_images
from faceprint.eval.metrics import accuracy, best_threshold
from faceprint.pipeline import PipelineRecipe

ROOT = Path(__file__).resolve().parents[1]
FUSION_FILE = ROOT / "src" / "faceprint" / "data" / "fusion.json"


def logistic(z: np.ndarray, y: np.ndarray, iterations: int = 50, ridge: float = 1e-3
             ) -> np.ndarray:
    """Coefficients ``(b_1..b_k, c)`` of a logistic regression (Newton's method, a small
    ridge penalty on the slopes)."""
    x = np.c_[z, np.ones(len(z))]
    beta = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * ridge
    penalty[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-x @ beta))
        grad = x.T @ (p - y) + penalty @ beta
        hess = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def fusion_weights(s: np.ndarray, same: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(weights, mean, std, beta)`` for pair similarities ``s`` (``(n, parts)``):
    the logistic coefficients ``beta`` of the standardised similarities, and weights
    ``beta_i / std_i`` normalised to sum to 1 (negative when a part hurts)."""
    mean, std = s.mean(axis=0), s.std(axis=0)
    beta = logistic((s - mean) / std, np.asarray(same, dtype=np.float64))
    raw = beta[:-1] / std
    return raw / raw.sum(), mean, std, beta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="+", help="two or more registered embedders")
    parser.add_argument("--detector", default="yunet")
    parser.add_argument("--flip", action="store_true",
                        help="fit on flip-averaged embeddings (each part's own mirror)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write")
    args = parser.parse_args(argv)
    pfile = args.data / "pairsDevTrain.txt"
    images, pfile, pairs = _load_pairs(args.data, pfile, None, None)
    p1, p2 = pair_paths(images, pairs, pfile)
    same = np.array([p.same for p in pairs])
    sims = []
    for part in args.parts:
        emb = embed_images(p1 + p2, PipelineRecipe(args.detector, part, flip=args.flip),
                           workers=args.workers)
        a = l2_normalize(np.stack([emb.vectors[p] for p in p1]))
        b = l2_normalize(np.stack([emb.vectors[p] for p in p2]))
        sims.append((a.astype(np.float64) * b).sum(axis=1))
    s = np.stack(sims, axis=1)
    weights, mean, std, beta = fusion_weights(s, same)
    if (weights < 0).any():
        print(f"a part has a negative weight ({weights}); not fused", file=sys.stderr)
        return 1
    fused = s @ weights
    threshold = best_threshold(1.0 - fused, same)
    name = "+".join(args.parts)
    entry = {
        "parts": args.parts,
        "weights": [round(float(w), 6) for w in weights],
        "threshold": round(float(threshold), 6),
        "metric": "cosine",
        "similarity_mean": [round(float(m), 6) for m in mean],
        "similarity_std": [round(float(x), 6) for x in std],
        "logistic_coefficients": [round(float(x), 6) for x in beta],
        "fitted_on": "LFW View 1 pairsDevTrain.txt (2,200 pairs)",
        "detector": args.detector,
        "flip": args.flip,
        "accuracy_on_fit_pairs": round(accuracy(1.0 - fused, same, threshold), 6),
        "part_accuracy_on_fit_pairs": [
            round(accuracy(1.0 - s[:, i], same, best_threshold(1.0 - s[:, i], same)), 6)
            for i in range(len(args.parts))],
        "command": f"python benchmarks/fit_fusion.py {' '.join(args.parts)} "
                   f"--detector {args.detector}" + (" --flip" if args.flip else ""),
    }
    print(json.dumps({name: entry}, indent=2))
    if not args.dry_run:
        data = json.loads(FUSION_FILE.read_text()) if FUSION_FILE.is_file() else {}
        data[name] = entry
        FUSION_FILE.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        print(f"written to {FUSION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
