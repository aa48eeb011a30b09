"""LFW View 2 (10 folds) of a fused embedder with weights given on the command line,
for weights that are not (yet) in ``src/faceprint/data/fusion.json``: e.g. those that
``benchmarks/fusion_variants.py`` fitted on View 1 for one detector. The parts'
vectors come from the evaluation's embedding cache (``faceprint eval lfw`` computes
them); the folds' thresholds are chosen as the evaluation chooses them.

Usage::

    python benchmarks/lfw_fused_weights.py --detector yunet+mtcnn --weights 0.229911 0.770089
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from faceprint.datasets.lfw import pair_paths
from faceprint.embedders.fused import fused_vector
from faceprint.eval.lfw import _load_pairs, embed_images
from faceprint.eval.metrics import kfold
from faceprint.pipeline import PipelineRecipe

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--detector", required=True)
    parser.add_argument("--parts", nargs="+", default=["sface", "dlib-resnet"])
    parser.add_argument("--weights", nargs="+", type=float, required=True)
    parser.add_argument("--flip", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if len(args.weights) != len(args.parts) or not np.isclose(sum(args.weights), 1):
        parser.error("one weight per part, summing to 1")
    images, pfile, pairs = _load_pairs(args.data, args.data / "pairs.txt", None, None)
    p1, p2 = pair_paths(images, pairs, pfile)
    p1 = [str(Path(p).resolve()) for p in p1]
    p2 = [str(Path(p).resolve()) for p in p2]
    sets = [embed_images(p1 + p2, PipelineRecipe(args.detector, part, flip=args.flip),
                         progress=False) for part in args.parts]
    a = fused_vector([np.stack([s.vectors[p] for p in p1]) for s in sets], args.weights)
    b = fused_vector([np.stack([s.vectors[p] for p in p2]) for s in sets], args.weights)
    distances = 1.0 - (a.astype(np.float64) * b).sum(axis=1)
    same = np.array([p.same for p in pairs])
    r = kfold(distances, same, np.array([p.fold for p in pairs]))
    out = {"detector": args.detector, "flip": args.flip, "weights": args.weights,
           "accuracy_mean": r.accuracy_mean, "accuracy_std": r.accuracy_std,
           "wrong": int((~r.correct).sum()), "val_at_far_1e-3": r.val_mean, "auc": r.auc,
           "eer": r.eer, "fold_thresholds": r.thresholds}
    print(f"{args.detector} flip={args.flip} weights={args.weights}: accuracy "
          f"{100 * r.accuracy_mean:.2f} % +- {100 * r.accuracy_std:.2f} "
          f"({out['wrong']} wrong), VAL@1e-3 {100 * r.val_mean:.1f} %, AUC {r.auc:.5f}, "
          f"EER {100 * r.eer:.2f} %")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
