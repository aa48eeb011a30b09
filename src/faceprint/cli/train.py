"""The ``faceprint train`` and ``faceprint export`` commands (the work is done in
:mod:`faceprint.train`). Parsing needs no torch; running them does, and says how to
install it when it is missing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FaceprintError, UsageError
from ..train import TORCH_HINT

if TYPE_CHECKING:
    from ._common import Subparsers


def _need_torch(command: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise FaceprintError(f"faceprint {command} needs PyTorch, which is not installed; "
                             f"install the train extra: {TORCH_HINT}") from None


def cmd_train(args: argparse.Namespace) -> int:
    if not args.resume and not args.data:
        raise UsageError("faceprint train needs --data DIR (or --resume CHECKPOINT)")
    _need_torch("train")
    from ..train.loop import TrainConfig, Trainer, resume
    from ..train.nets import NetConfig
    from ..train.plot import plot_runs

    if args.resume:
        trainer = resume(args.resume, epochs=args.epochs)
    else:
        loss = args.loss
        teacher = args.teacher if "distill" in loss else None
        net = NetConfig(args.net, args.size or (96 if args.net == "nn4small" else 112),
                        args.dim, args.width, args.depth)
        config = TrainConfig(
            data=args.data, out=args.out, people=args.people, net=net, padding=args.padding,
            detector=args.detector, loss=loss, mining=args.mining, margin=args.margin,
            teacher=teacher, views=args.views, distill_weight=args.distill_weight, p=args.p,
            k=args.k,
            extra=args.extra, batch_size=args.batch_size, epochs=args.epochs or 30,
            lr=args.lr, warmup_epochs=args.warmup, init=args.init,
            weight_decay=args.weight_decay, seed=args.seed, holdout=args.holdout,
            val_pairs=args.val_pairs, test_pairs=args.test_pairs, patience=args.patience,
            max_identities=args.max_identities, augment=not args.no_augment,
            device=args.device, amp=args.amp, threads=args.threads, workers=args.workers,
            tensorboard=args.tensorboard, progress=not args.quiet)
        trainer = Trainer(config)
    last = trainer.fit()
    out = Path(trainer.config.out)
    plot = plot_runs({trainer.config.loss: out / "log.csv"}, out / "training.png",
                     title=f"{trainer.config.net.arch} {trainer.config.net.size}px, "
                           f"{trainer.config.loss}")
    print(f"trained {trainer.epoch} epochs in {trainer.seconds / 60:.1f} min; best "
          f"validation AUC at epoch {trainer.best_epoch}; wrote {out / 'best.pt'}, "
          f"{out / 'last.pt'}, {out / 'log.csv'}, {plot}")
    if args.json:
        print(json.dumps(last, indent=2))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.pairs and not args.data:
        raise UsageError("--pairs needs --data DIR (the folder its images are in)")
    _need_torch("export")
    from ..train.export import export

    result = export(args.checkpoint, args.out, pairs=args.pairs, data=args.data,
                    name=args.name, progress=not args.quiet)
    cal = json.loads(result.metadata["faceprint.calibration"])
    where = cal["source"]
    acc = f", accuracy {100 * cal['accuracy']:.2f} % there" if "accuracy" in cal else ""
    print(f"wrote {result.path} ({result.size_bytes / 1e6:.2f} MB): "
          f"{result.metadata['faceprint.name']}, {result.metadata['faceprint.dim']}-d, "
          f"threshold {float(result.metadata['faceprint.threshold']):.4f} "
          f"({result.metadata['faceprint.metric']}, calibrated on {where}{acc}); "
          f"max |ONNX - checkpoint| = {result.max_abs_diff:.1e}")
    print(f"use it with: --embedder onnx:{result.path}")
    return 0


def register(sub: Subparsers) -> None:
    """Add ``train`` and ``export`` to the top-level sub-command group."""
    from ..registry import DEFAULT_DETECTOR, list_detectors

    p = sub.add_parser("train", help="train a face embedding (triplet loss, distillation...)",
                       description="Train a face-embedding network on DIR/NAME/*.jpg "
                                   "(one folder per identity). Needs the train extra.")
    p.add_argument("--data", metavar="DIR", help="one folder per identity (LFW's layout)")
    p.add_argument("--people", metavar="FILE",
                   help="only the identities of this LFW people file (peopleDevTrain.txt)")
    p.add_argument("--out", default="runs/train", metavar="DIR",
                   help="checkpoints, log.csv and training.png go here (default %(default)s)")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue a run from its last.pt (its settings are kept)")
    p.add_argument("--init", metavar="CHECKPOINT",
                   help="warm start: this run's network begins with the weights of another "
                        "run's checkpoint (same network), then follows this run's own "
                        "settings and schedule")
    g = p.add_argument_group("network")
    g.add_argument("--net", default="mobilefacenet", choices=["mobilefacenet", "nn4small"])
    g.add_argument("--size", type=int, metavar="PX",
                   help="chip side (default 112 mobilefacenet, 96 nn4small)")
    g.add_argument("--dim", type=int, default=128, choices=[64, 128, 256, 512],
                   help="embedding length (default 128)")
    g.add_argument("--width", type=float, default=1.0, help="channel multiplier")
    g.add_argument("--depth", type=float, default=1.0, help="block-count multiplier")
    g.add_argument("--padding", type=float, default=0.25,
                   help="dlib chip padding (0.25: dlib-resnet's crop)")
    g = p.add_argument_group("loss")
    g.add_argument("--loss", default="triplet",
                   choices=["triplet", "distill", "triplet+distill", "arcface"])
    g.add_argument("--mining", default="semihard", choices=["semihard", "batchhard",
                                                            "batchall"])
    g.add_argument("--margin", type=float, default=0.2,
                   help="triplet margin alpha, squared L2 between unit vectors (default 0.2)")
    g.add_argument("--teacher", default="dlib-resnet", metavar="EMBEDDER",
                   help="teacher for distillation (default dlib-resnet)")
    g.add_argument("--distill-weight", type=float, default=1.0)
    g.add_argument("--views", type=int, default=0, metavar="V",
                   help="consistent distillation: V augmented views of every face, each "
                        "with the teacher's embedding of the same view, made once and "
                        "cached; an epoch visits every view (--loss distill; default 0: "
                        "augment on the fly against the unaugmented face's target)")
    g = p.add_argument_group("schedule")
    g.add_argument("--epochs", type=int, help="epochs (default 30; with --resume: the new "
                                              "target)")
    g.add_argument("--p", type=int, default=16, help="identities per batch (default 16)")
    g.add_argument("--k", type=int, default=4, help="images per identity (default 4)")
    g.add_argument("--extra", type=int, default=16,
                   help="extra negatives-only images per batch (default 16)")
    g.add_argument("--batch-size", type=int, default=128,
                   help="batch size of distillation/arcface alone (default 128)")
    g.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    g.add_argument("--warmup", type=float, default=1.0, metavar="EPOCHS",
                   help="linear learning-rate warm-up before the cosine decay (default 1)")
    g.add_argument("--weight-decay", type=float, default=5e-4)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--no-augment", action="store_true",
                   help="no flips, crops or colour changes")
    g.add_argument("--max-identities", type=int, metavar="N",
                   help="only the first N identities (quick trials)")
    g = p.add_argument_group("evaluation")
    g.add_argument("--holdout", type=float, default=0.1,
                   help="fraction of multi-image identities held out for validation "
                        "(default 0.1; ignored with --val-pairs)")
    g.add_argument("--val-pairs", metavar="FILE",
                   help="LFW pairs file for validation instead of held-out people")
    g.add_argument("--test-pairs", metavar="FILE",
                   help="LFW pairs file also scored each epoch (logged only)")
    g.add_argument("--patience", type=int, default=0,
                   help="stop after N epochs without a better validation AUC (0: never)")
    g.add_argument("--tensorboard", metavar="DIR", help="also log to TensorBoard")
    g = p.add_argument_group("machine")
    g.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    g.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (default: on for a GPU)")
    g.add_argument("--threads", type=int, help="torch threads (default: every core)")
    g.add_argument("--workers", type=int, default=1,
                   help="processes that detect and align the images (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the last epoch's scores as JSON")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, metavar="NAME",
                   help=f"face detector for the chips: one of {', '.join(list_detectors())} "
                        f"(default {DEFAULT_DETECTOR})")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export", help="write a training checkpoint as an ONNX embedder")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="best.pt / last.pt of a run")
    p.add_argument("out", metavar="MODEL.onnx")
    p.add_argument("--pairs", metavar="FILE",
                   help="calibrate the threshold on this LFW pairs file (default: the "
                        "threshold chosen on the validation pairs in training)")
    p.add_argument("--data", metavar="DIR", help="the folder of the pairs file's images")
    p.add_argument("--name", help="model name stored in the metadata")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_export)
