"""The ``faceprint eval ...`` commands (benchmarks), registered by :mod:`faceprint.cli`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..cli import (
    add_detector_args,
    add_embedder_args,
    add_subcommands,
    detector_options,
    embedder_options,
)
from ..errors import FaceprintError


def cmd_lfw(args: argparse.Namespace) -> int:
    from ..viz import plot_roc
    from .lfw import PipelineConfig, evaluate

    folds = None
    if args.folds:
        try:
            folds = [int(x) - 1 for x in args.folds.split(",")]
        except ValueError:
            raise FaceprintError(f"--folds takes numbers like 1,2,3; got {args.folds!r}") \
                from None
    config = PipelineConfig(args.detector, args.embedder,
                            tuple(sorted(detector_options(args).items())),
                            tuple(sorted(embedder_options(args).items())), args.flip,
                            args.jitter)
    report = evaluate(args.data, config, pairs_file=args.pairs, folds=folds,
                      workers=args.workers, use_cache=not args.no_cache)
    d = report.to_dict()
    r = report.result
    with_fb, without = report.fallback_accuracy()
    print(f"LFW {Path(report.pairs_file).name}: {report.pairs} pairs, {len(r.accuracies)} "
          f"folds, {args.detector} + {args.embedder}{' +flip' if args.flip else ''}"
          f"{f' +jitter {args.jitter}' if args.jitter else ''}")
    print(f"  accuracy       {100 * r.accuracy_mean:.2f} % +- {100 * r.accuracy_std:.2f} "
          f"(std over folds; standard error {100 * r.accuracy_sem:.2f})")
    print(f"  VAL @ FAR=1e-3 {100 * r.val_mean:.1f} % +- {100 * r.val_std:.1f} "
          f"(FAR achieved {100 * float(sum(r.fars) / len(r.fars)):.3f} %)")
    print(f"  ROC AUC        {r.auc:.5f}")
    print(f"  EER            {100 * r.eer:.2f} %")
    print(f"  thresholds     {min(r.thresholds):.4f} .. {max(r.thresholds):.4f} "
          f"({report.metric})")
    print(f"  no face found in {report.no_face_images} of {report.images} images: LFW's "
          f"centred crop used instead")
    if with_fb is not None:
        print(f"  pairs using the fallback: {int(report.fallback_pair.sum())}, accuracy "
              f"{100 * with_fb:.2f} %; other pairs {100 * without:.2f} %")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(d, indent=2) + "\n")
        print(f"  wrote {args.json}")
    if args.plot:
        far, tar = report.roc()
        label = f"{args.detector} + {args.embedder} ({100 * r.accuracy_mean:.2f} %)"
        plot_roc({label: (far, tar)}, args.plot, title=f"LFW {Path(report.pairs_file).name}")
        print(f"  wrote {args.plot}")
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``eval`` and its benchmarks to the top-level sub-command group."""
    p = sub.add_parser("eval", help="benchmarks: eval lfw ...")
    esub = add_subcommands(p, "benchmark", "BENCHMARK")
    e = esub.add_parser("lfw", help="LFW pairs: 10-fold accuracy, VAL@FAR=1e-3, ROC")
    e.add_argument("--data", required=True, metavar="DIR",
                   help="LFW folder (with images/ and pairs.txt)")
    e.add_argument("--pairs", metavar="FILE", help="pairs file (default DIR/pairs.txt)")
    e.add_argument("--folds", metavar="LIST", help="only these folds, e.g. 1,2,3")
    e.add_argument("--workers", type=int, default=0, help="processes (default: one per core)")
    e.add_argument("--no-cache", action="store_true", help="recompute every embedding")
    e.add_argument("--json", metavar="OUT", help="write the results as JSON")
    e.add_argument("--plot", metavar="OUT.png", help="draw the ROC curve")
    add_detector_args(e)
    add_embedder_args(e)
    e.set_defaults(func=cmd_lfw)
