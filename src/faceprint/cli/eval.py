"""The ``faceprint eval ...`` commands (benchmarks); the work is done in :mod:`faceprint.eval`.

``eval lfw``        LFW pairs: one or several methods, one table, one ROC chart
``eval fit``        fit a classical embedder (eigenfaces, fisherfaces) and save it
``eval robustness`` LFW under JPEG re-encoding and reduced face resolution
``eval identify``   closed- and open-set identification on LFW
``eval detection``  detectors against hand-drawn boxes (dlib XML, FDDB ellipses)
``eval bias``       LFW accuracy split by a user-supplied group per identity
``eval report``     all of the above in one Markdown + HTML report
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UnknownNameError, UsageError
from ..registry import (
    DEFAULT_EMBEDDER,
    default_detectors,
    default_embedders,
    list_embedders,
    robustness_embedders,
)
from ._common import (
    add_detector_args,
    add_embedder_args,
    add_subcommands,
    detector_options,
    embedder_options,
    int_list,
    names,
    print_table,
    write_json,
)

if TYPE_CHECKING:
    from ..eval.identify import IdentifyProtocol
    from ..eval.lfw import LfwReport
    from ..pipeline import PipelineRecipe
    from ._common import Subparsers


# -- argument helpers ----------------------------------------------------------------
def _configs(args: argparse.Namespace, flip: bool | None = None) -> list[PipelineRecipe]:
    from ..pipeline import PipelineRecipe
    from ..registry import check_embedder_name

    out = []
    for emb in names(args.embedder):
        check_embedder_name(emb)
        out.append(PipelineRecipe(args.detector, emb,
                                  tuple(sorted(detector_options(args).items())),
                                  tuple(sorted(embedder_options(args).items())),
                                  flip=args.flip if flip is None else flip,
                                  jitter=getattr(args, "jitter", 0)))
    return out


def _lfw_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"pairs_file": args.pairs, "folds": int_list(args.folds, "--folds", True),
            "pairs_per_fold": args.pairs_per_fold, "fit_on": args.fit_on,
            "fit_max_images": args.fit_max_images, "workers": args.workers,
            "use_cache": not args.no_cache}


# -- eval lfw ------------------------------------------------------------------------
def _print_lfw(report: LfwReport, args: argparse.Namespace) -> None:
    r = report.result
    with_fb, without = report.fallback_accuracy()
    print(f"LFW {Path(report.pairs_file).name}: {report.pairs} pairs, {len(r.accuracies)} "
          f"folds, {args.detector} + {report.config.label}")
    if report.protocol:
        print(f"  training       {report.protocol}")
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


def cmd_lfw(args: argparse.Namespace) -> int:
    from ..eval.lfw import evaluate_method
    from ..eval.report import HISTORY_HEADERS, history_rows, method_name, quoted_results
    from ..viz import plot_roc

    reports = []
    for config in _configs(args):
        report = evaluate_method(args.data, config, **_lfw_kwargs(args))
        _print_lfw(report, args)
        reports.append(report)
    if len(reports) > 1:
        print()
        print_table(HISTORY_HEADERS, history_rows(reports))
    if args.json:
        if len(reports) == 1:
            write_json(args.json, reports[0].to_dict())
        else:
            write_json(args.json, {
                "methods": [r.to_dict() for r in reports],
                "quoted": quoted_results()})
    if args.plot:
        curves = {}
        for r in reports:
            name = f"{args.detector} + {r.config.label}" if len(reports) == 1 else \
                method_name(r.config.label)
            curves[f"{name} ({100 * r.result.accuracy_mean:.2f} %)"] = r.roc()
        low = min(float(r.result.val_mean) for r in reports)
        plot_roc(curves, args.plot, title=f"LFW {Path(reports[0].pairs_file).name}",
                 ylim=(0.5, 1.0) if low > 0.6 else (0.0, 1.0))
        print(f"  wrote {args.plot}")
    return 0


# -- eval fit ------------------------------------------------------------------------
def cmd_fit(args: argparse.Namespace) -> int:
    from ..embedders.classical import default_model_path
    from ..eval.fit import FitReport, fit_classical

    def fitted(r: FitReport) -> None:
        print(f"fitted {args.name} on {r.images:,} images of {r.people:,} people "
              f"({r.people_file.name}): {r.model.dim} dimensions, {r.model.metric} distance")

    report = fit_classical(args.data, args.name, args.detector,
                           tuple(sorted(detector_options(args).items())), people=args.people,
                           pairs=args.pairs, check=args.check, max_images=args.max_images,
                           workers=args.workers, use_cache=not args.no_cache,
                           announce=fitted)
    model = report.model
    if report.calibration is not None and report.calibration_accuracy is not None:
        seen = report.seen_in_calibration
        note = (f"; {seen} of its people were fitted on: optimistic" if seen else
                "; none of its people were fitted on")
        print(f"  threshold {model.threshold:.4f} ({model.metric}): best accuracy on "
              f"{report.calibration.name}, {100 * report.calibration_accuracy:.2f} %{note}")
    else:
        calib = Path(args.pairs) if args.pairs else Path(args.data) / "pairsDevTest.txt"
        print(f"  no threshold set ({calib} not found): pass --pairs FILE")
    if args.check and report.check_accuracy is not None:
        print(f"  {Path(args.check).name}: accuracy "
              f"{100 * report.check_accuracy:.2f} % at that threshold")
    out = Path(args.out) if args.out else default_model_path(args.name)
    model.save(out)
    print(f"  wrote {out}; use it with --embedder {args.name}:{out}")
    return 0


# -- eval robustness -----------------------------------------------------------------
def cmd_robustness(args: argparse.Namespace) -> int:
    from ..eval.degrade import parse_levels
    from ..eval.robustness import rows, sweep
    from ..viz import plot_curves

    levels = (parse_levels("jpeg", args.jpeg) if args.jpeg else []) + \
        (parse_levels("pixels", args.pixels) if args.pixels else [])
    if not levels:
        raise UsageError("give --jpeg and/or --pixels levels")
    out: dict[str, Any] = {}
    for config in _configs(args):
        baseline, reports = sweep(args.data, config, levels, **_lfw_kwargs(args))
        table = rows(baseline, reports)
        print(f"LFW robustness, {args.detector} + {config.label}, "
              f"{len(baseline.result.accuracies)} folds")
        print_table(["images", "accuracy", "VAL @ FAR=1e-3", "AUC", "no face"],
                     [[r.config.degrade.label if r.config.degrade else "original",
                       f"{100 * r.result.accuracy_mean:.2f} +- "
                       f"{100 * r.result.accuracy_std:.2f} %",
                       f"{100 * r.result.val_mean:.1f} +- {100 * r.result.val_std:.1f} %",
                       f"{r.result.auc:.4f}", f"{r.no_face_images}/{r.images}"]
                      for r in [baseline, *reports]])
        out[config.label] = table
        if args.plot_dir:
            for kind in ("jpeg", "pixels"):
                chosen = [r for r in reports if r.config.degrade
                          and r.config.degrade.kind == kind]
                if not chosen:
                    continue
                xs = [float(r.config.degrade.value) for r in chosen if r.config.degrade]
                path = Path(args.plot_dir) / f"robustness-{kind}.png"
                plot_curves({"accuracy": (xs, [r.result.accuracy_mean for r in chosen]),
                             "VAL @ FAR=1e-3": (xs, [r.result.val_mean for r in chosen])},
                            path, xlabel="JPEG quality" if kind == "jpeg" else
                            "pixels on the face (log scale)", ylabel="rate",
                            xlog=kind == "pixels", xticks=xs,
                            title=f"{config.label} on LFW",
                            reference={"original accuracy": (
                                [xs[0], xs[-1]], [baseline.result.accuracy_mean] * 2)})
                print(f"  wrote {path}")
    write_json(args.json, out)
    return 0


# -- eval identify -------------------------------------------------------------------
def _identify_protocol(args: argparse.Namespace) -> IdentifyProtocol:
    from ..eval.identify import IdentifyProtocol

    gallery = int_list(args.gallery, "--gallery") or [1, 2, 3, 4, 5]
    return IdentifyProtocol(min_images=args.min_images, gallery_sizes=tuple(gallery),
                            max_probes=args.max_probes, max_people=args.max_people,
                            impostors=args.impostors, far=args.far,
                            fit_max_images=args.fit_max_images or None, seed=args.seed)


def cmd_identify(args: argparse.Namespace) -> int:
    from ..eval.identify import evaluate_identification

    protocol = _identify_protocol(args)
    out = []
    for config in _configs(args):
        rep = evaluate_identification(args.data, config, protocol, workers=args.workers,
                                      use_cache=not args.no_cache)
        print(f"LFW identification, {args.detector} + {config.label}: {rep.people} people "
              f"enrolled, {rep.probes} mated probes, {rep.impostors} impostors")
        if rep.method_protocol:
            print(f"  training  {rep.method_protocol}")
        print_table(["gallery", "rank-1", "rank-5", f"DIR @ FAR={protocol.far:g}"],
                     [[g.gallery_size, f"{100 * g.rank1:.2f} %", f"{100 * g.rank5:.2f} %",
                       f"{100 * g.dir_at_far:.2f} %"] for g in rep.results])
        out.append(rep.to_dict())
    write_json(args.json, out[0] if len(out) == 1 else out)
    return 0


# -- eval detection ------------------------------------------------------------------
def cmd_detection(args: argparse.Namespace) -> int:
    from ..eval.detection import benchmark, read_annotations
    from ..registry import list_detectors
    from ..viz import plot_curves

    detectors = names(args.detectors) if args.detectors else default_detectors()
    known = list_detectors()
    for d in detectors:
        if d not in known:
            raise UnknownNameError(f"unknown detector {d!r}; choose from {', '.join(known)}")
    truth = read_annotations(args.annotations, args.images_root, args.negatives or [])
    results = benchmark(detectors, truth, min_iou=args.iou, repeats=args.repeats)
    print(f"{len(truth)} images, {sum(len(v) for v in truth.values())} faces, IoU >= "
          f"{args.iou}")
    print_table(["detector", "AP", "AP dlib boxes", "precision", "recall", "count right",
                  "ms/image"],
                 [[r.detector, f"{100 * r.ap:.1f} %", f"{100 * r.ap_dlib_boxes:.1f} %",
                   f"{100 * r.precision:.1f} %", f"{100 * r.recall:.1f} %",
                   f"{100 * r.count_accuracy:.0f} %", f"{r.ms_per_image:.0f}"]
                  for r in results])
    write_json(args.json, [r.to_dict() for r in results])
    if args.plot:
        plot_curves({f"{r.detector} (AP {100 * r.ap:.1f} %)": (r.pr_curve[1].tolist(),
                                                              r.pr_curve[0].tolist())
                     for r in results}, args.plot, xlabel="recall", ylabel="precision",
                    title=f"Precision-recall, IoU >= {args.iou}", markers=False,
                    ylim=(0.0, 1.02))
        print(f"  wrote {args.plot}")
    return 0


# -- eval bias -----------------------------------------------------------------------
def cmd_bias(args: argparse.Namespace) -> int:
    from ..eval.bias import by_group, read_groups, read_image_labels
    from ..eval.lfw import evaluate_method

    if args.gender:
        groups, dropped = read_image_labels(args.gender)
        source = f"{Path(args.gender).name} labels per image, {dropped} in both lists left out"
    else:
        groups, source = read_groups(args.groups), Path(args.groups).name

    def pct(x: float, ci: tuple[float, float], digits: int = 1) -> str:
        if x != x:  # no pairs of that kind in the group
            return "-"
        return f"{100 * x:.{digits}f} % ({100 * ci[0]:.{digits}f}-{100 * ci[1]:.{digits}f})"

    out = {}
    for config in _configs(args):
        report = evaluate_method(args.data, config, **_lfw_kwargs(args))
        rows = by_group(report, groups, per_image=bool(args.gender))
        print(f"LFW by group ({source}), {args.detector} + {config.label}: "
              f"overall accuracy {100 * report.result.accuracy_mean:.2f} %; 95 % Wilson "
              f"intervals in brackets")
        print_table(["group", "pairs", "same/diff", "accuracy", "VAL@1e-3",
                      "FAR at FAR-1e-3 thr.", "FAR at acc. thr.", "FRR at acc. thr."],
                     [[g.group, g.pairs, f"{g.matched}/{g.mismatched}",
                       pct(g.accuracy, g.accuracy_ci, 2), pct(g.val, g.val_ci),
                       pct(g.far, g.far_ci, 2), pct(g.far_at_threshold, g.far_at_threshold_ci, 2),
                       pct(g.frr_at_threshold, g.frr_at_threshold_ci, 2)] for g in rows])
        out[config.label] = [g.to_dict() for g in rows]
    write_json(args.json, out)
    return 0


# -- eval report ---------------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    from ..eval.report import ReportOptions, photos_annotations, write_report

    annotations = [Path(a) for a in args.annotations or []]
    negatives = [Path(n) for n in args.negatives or []]
    if args.photos:
        more, face_free = photos_annotations(args.photos)
        annotations += more
        negatives += face_free
    options = ReportOptions(
        data=Path(args.data), embedders=names(args.embedder), detector=args.detector,
        folds=int_list(args.folds, "--folds", True), pairs_per_fold=args.pairs_per_fold,
        fit_on=args.fit_on, fit_max_images=args.fit_max_images, flip=not args.no_flip,
        robustness_embedders=names(args.robustness_embedders)
        if args.robustness_embedders else [],
        jpeg=int_list(args.jpeg, "--jpeg") or [],
        pixels=int_list(args.pixels, "--pixels") or [],
        identify=False if args.no_identify else _identify_protocol(args),
        annotations=annotations, negatives=negatives,
        detectors=names(args.detectors) if args.detectors else [],
        groups=Path(args.groups) if args.groups else None, workers=args.workers,
        use_cache=not args.no_cache)
    command = "faceprint " + " ".join(shlex.quote(a) for a in sys.argv[1:]) \
        if Path(sys.argv[0]).name in ("faceprint", "__main__.py") else ""
    written = write_report(args.out_dir, options, command=command)
    for path in written.values():
        print(f"  wrote {path}")
    return 0


# -- the parsers ---------------------------------------------------------------------
def _add_lfw_args(p: argparse.ArgumentParser, embedder_help: str | None = None) -> None:
    p.add_argument("--data", required=True, metavar="DIR",
                   help="LFW folder (with images/, pairs.txt, people.txt)")
    p.add_argument("--pairs", metavar="FILE", help="pairs file (default DIR/pairs.txt)")
    p.add_argument("--folds", metavar="LIST", help="only these folds, e.g. 1,2,3")
    p.add_argument("--pairs-per-fold", type=int, metavar="N",
                   help="only the first N/2 matched and N/2 mismatched pairs of each fold "
                        "(a quick subset)")
    p.add_argument("--fit-on", choices=("folds", "view1"), default="folds",
                   help="classical methods: fit per test fold on the other nine sets of "
                        "people.txt (default), or once on View 1 peopleDevTrain")
    p.add_argument("--fit-max-images", type=int, metavar="N",
                   help="classical methods: fit on at most N images (random, seeded)")
    p.add_argument("--workers", type=int, default=0, help="processes (default: one per core)")
    p.add_argument("--no-cache", action="store_true", help="recompute every embedding")
    add_detector_args(p)
    add_embedder_args(p)
    if embedder_help:
        for action in p._actions:
            if action.dest == "embedder":
                action.help = embedder_help


def _multi() -> str:
    """The help of an option that takes several embedders (read from the registry)."""
    return (f"one name or several, comma-separated ({', '.join(list_embedders())}, "
            f"NAME:MODEL); default {DEFAULT_EMBEDDER}")


def _add_identify_args(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument(f"--{prefix}min-images", dest="min_images", type=int, default=10,
                   metavar="N", help="enrol the people with at least N images (default 10)")
    p.add_argument(f"--{prefix}gallery", dest="gallery", metavar="LIST", default="1,2,3,4,5",
                   help="gallery sizes, images per person (default 1,2,3,4,5)")
    p.add_argument(f"--{prefix}max-probes", dest="max_probes", type=int, default=20,
                   metavar="N", help="at most N probes per person (default 20)")
    p.add_argument(f"--{prefix}max-people", dest="max_people", type=int, metavar="N",
                   help="enrol at most N people (random, seeded; default all)")
    p.add_argument(f"--{prefix}impostors", dest="impostors", type=int, default=1000,
                   metavar="N", help="unseen people, one probe each (default 1000)")
    p.add_argument(f"--{prefix}far", dest="far", type=float, default=0.01, metavar="RATE",
                   help="false alarm rate for DIR (default 0.01)")
    p.add_argument(f"--{prefix}seed", dest="seed", type=int, default=0,
                   help="seed of the split (default 0)")


def register(sub: Subparsers) -> None:
    """Add ``eval`` and its benchmarks to the top-level sub-command group."""
    p = sub.add_parser("eval", help="benchmarks: eval lfw | fit | robustness | identify | "
                                    "detection | bias | report")
    esub = add_subcommands(p, "benchmark", "BENCHMARK")

    e = esub.add_parser("lfw", help="LFW pairs: 10-fold accuracy, VAL@FAR=1e-3, ROC; several "
                                    "methods side by side")
    _add_lfw_args(e, _multi())
    e.add_argument("--json", metavar="OUT", help="write the results as JSON")
    e.add_argument("--plot", metavar="OUT.png", help="draw the ROC curves in one chart")
    e.set_defaults(func=cmd_lfw)

    e = esub.add_parser("fit", help="fit eigenfaces or fisherfaces on LFW people and save it")
    e.add_argument("name", metavar="NAME", help="eigenfaces or fisherfaces")
    e.add_argument("--data", required=True, metavar="DIR", help="LFW folder")
    e.add_argument("--people", metavar="FILE",
                   help="people whose images to fit on (default DIR/peopleDevTrain.txt)")
    e.add_argument("--pairs", metavar="FILE",
                   help="pairs that set the model's threshold, best of people it was not "
                        "fitted on (default DIR/pairsDevTest.txt: View 1's test people)")
    e.add_argument("--check", metavar="FILE",
                   help="also print the accuracy at that threshold on these pairs")
    e.add_argument("--max-images", type=int, metavar="N",
                   help="fit on at most N images (random, seeded)")
    e.add_argument("--out", metavar="MODEL.npz",
                   help="where to write the model (default: faceprint's cache, used by "
                        "--embedder NAME)")
    e.add_argument("--workers", type=int, default=0, help="processes (default: one per core)")
    e.add_argument("--no-cache", action="store_true", help="recompute every chip")
    add_detector_args(e)
    e.set_defaults(func=cmd_fit)

    e = esub.add_parser("robustness", help="LFW accuracy and VAL under JPEG re-encoding and "
                                           "lower face resolution")
    _add_lfw_args(e, _multi())
    e.add_argument("--jpeg", metavar="LIST", help="JPEG qualities, e.g. 10,20,30,50,70,90")
    e.add_argument("--pixels", metavar="LIST",
                   help="pixels on the face, e.g. 1600,6400,14400,25600,65536")
    e.add_argument("--json", metavar="OUT", help="write the tables as JSON")
    e.add_argument("--plot-dir", metavar="DIR", help="draw robustness-{jpeg,pixels}.png there")
    e.set_defaults(func=cmd_robustness)

    e = esub.add_parser("identify", help="1:N identification on LFW: rank-1/5, DIR at a "
                                         "false alarm rate")
    e.add_argument("--data", required=True, metavar="DIR", help="LFW folder")
    _add_identify_args(e)
    e.add_argument("--fit-max-images", type=int, default=6000, metavar="N",
                   help="classical methods: fit on at most N images (default 6000; 0 = all)")
    e.add_argument("--workers", type=int, default=0, help="processes (default: one per core)")
    e.add_argument("--no-cache", action="store_true", help="recompute every embedding")
    e.add_argument("--json", metavar="OUT", help="write the results as JSON")
    add_detector_args(e)
    add_embedder_args(e)
    for action in e._actions:
        if action.dest == "embedder":
            action.help = _multi()
    e.set_defaults(func=cmd_identify)

    e = esub.add_parser("detection", help="detectors side by side on hand-boxed photos")
    e.add_argument("--annotations", nargs="+", required=True, metavar="FILE",
                   help="dlib/imglab .xml files or FDDB ellipse lists")
    e.add_argument("--images-root", metavar="DIR",
                   help="folder FDDB image names are relative to (default: the list's)")
    e.add_argument("--negatives", nargs="+", metavar="IMG",
                   help="images with no face (every detection is a false positive)")
    e.add_argument("--detectors", metavar="LIST",
                   help=f"comma-separated (default {','.join(default_detectors())})")
    e.add_argument("--iou", type=float, default=0.5, help="IoU for a match (default 0.5)")
    e.add_argument("--repeats", type=int, default=1,
                   help="time the best of N passes (default 1)")
    e.add_argument("--json", metavar="OUT", help="write the results as JSON")
    e.add_argument("--plot", metavar="OUT.png", help="draw the precision-recall curves")
    e.set_defaults(func=cmd_detection)

    e = esub.add_parser("bias", help="LFW accuracy, VAL and FAR by a group label per identity")
    _add_lfw_args(e, _multi())
    labels = e.add_mutually_exclusive_group(required=True)
    labels.add_argument("--groups", metavar="CSV",
                        help="identity,group per line (LFW names, e.g. Aaron_Eckhart)")
    labels.add_argument("--gender", metavar="DIR",
                        help="per-image labels: a folder with female_names.txt and "
                             "male_names.txt (e.g. ../shared/data/lfw/gender)")
    e.add_argument("--json", metavar="OUT", help="write the results as JSON")
    e.set_defaults(func=cmd_bias)

    e = esub.add_parser("report", help="every benchmark in one Markdown + HTML report")
    e.add_argument("out_dir", metavar="OUT_DIR")
    _add_lfw_args(e, "methods for the history table and identification (default "
                     f"{','.join(default_embedders())})")
    for action in e._actions:
        if action.dest == "embedder":
            action.default = ",".join(default_embedders())
    e.add_argument("--no-flip", action="store_true", help="skip the flip comparison")
    e.add_argument("--robustness-embedders", default=",".join(robustness_embedders()),
                   metavar="LIST", help="methods for the robustness sweeps (default "
                                        f"{','.join(robustness_embedders())}; '' = none)")
    e.add_argument("--jpeg", default="10,20,30,50,70,90", metavar="LIST",
                   help="JPEG qualities (default 10,20,30,50,70,90; '' = none)")
    e.add_argument("--pixels", default="1600,6400,14400,25600,65536", metavar="LIST",
                   help="face pixels (default 1600,6400,14400,25600,65536; '' = none)")
    e.add_argument("--no-identify", action="store_true", help="skip identification")
    _add_identify_args(e, prefix="identify-")
    e.add_argument("--photos", metavar="DIR",
                   help="folder with training.xml, testing.xml (and dogs.jpg as a negative)")
    e.add_argument("--annotations", nargs="+", metavar="FILE", help="more annotation files")
    e.add_argument("--negatives", nargs="+", metavar="IMG", help="more face-free images")
    e.add_argument("--detectors", default=",".join(default_detectors()),
                   metavar="LIST", help="detectors to compare (default "
                                        f"{','.join(default_detectors())})")
    e.add_argument("--groups", metavar="CSV", help="identity,group file for the bias section")
    e.set_defaults(func=cmd_report)
