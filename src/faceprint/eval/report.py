"""``faceprint eval report``: every benchmark in one Markdown and HTML report.

The report runs (or, through the caches, reuses) the LFW verification history
table with its ROC chart, distance histograms and the course's pair figure,
the flip test-time augmentation effect, the robustness sweeps, the
identification benchmark with example failures, the detection benchmark with
example detections, and - when a groups file is given - the bias report. It
writes ``report.md``, ``report.html``, ``results.json`` and the PNGs they show
into one folder. Every option that shrinks the work (folds, pairs per fold,
sweep levels, people) is printed in the report, so a subset run says so.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..pipeline import PipelineRecipe
from ..registry import default_detectors, default_embedders, robustness_embedders
from .degrade import Degradation
from .lfw import LfwReport, evaluate_method

#: published LFW accuracies the course quotes (not measured here)
QUOTED: tuple[tuple[str, str, float, str], ...] = (
    ("Joint Bayesian", "Chen et al. 2012", 92.4, "unrestricted, outside data"),
    ("High-dim LBP", "Chen et al. 2013", 95.17, "unrestricted, outside data (WDRef)"),
    ("DeepFace", "Taigman et al. 2014", 97.35, "4.4 M outside images, 3-D alignment"),
    ("FaceNet", "Schroff et al. 2015", 99.63, "200 M outside images"),
)

# -- a tiny document model rendered to Markdown and HTML -----------------------------
@dataclass(slots=True)
class Doc:
    """Blocks of a report: headings, paragraphs, tables, images."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.blocks.append(("table", (list(headers), [[str(c) for c in r] for r in rows])))

    def img(self, path: str, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "h":
                out += ["#" * value[0] + " " + value[1], ""]
            elif kind == "p":
                out += [value, ""]
            elif kind == "code":
                out += ["```", value, "```", ""]
            elif kind == "table":
                headers, rows = value
                out.append("| " + " | ".join(headers) + " |")
                out.append("|" + "|".join("---" for _ in headers) + "|")
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |"
                        for r in rows]
                out.append("")
            elif kind == "img":
                out += [f"![{value[1]}]({value[0]})", ""]
        return "\n".join(out)

    def html(self) -> str:
        e = html.escape
        out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
               f"<title>{e(self.title)}</title>",
               "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;"
               "padding:0 1em}table{border-collapse:collapse;margin:1em 0}"
               "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
               "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
               "img{max-width:100%}pre{background:#f6f6f6;padding:.6em;overflow:auto}"
               "</style></head><body>", f"<h1>{e(self.title)}</h1>"]
        for kind, value in self.blocks:
            if kind == "h":
                out.append(f"<h{value[0]}>{e(value[1])}</h{value[0]}>")
            elif kind == "p":
                out.append(f"<p>{_inline_html(value)}</p>")
            elif kind == "code":
                out.append(f"<pre>{e(value)}</pre>")
            elif kind == "table":
                headers, rows = value
                out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers)
                           + "</tr>")
                out += ["<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in r) + "</tr>"
                        for r in rows]
                out.append("</table>")
            elif kind == "img":
                out.append(f"<p><img src='{e(value[0])}' alt='{e(value[1])}'></p>")
        out.append("</body></html>")
        return "\n".join(out)


def _inline_html(text: str) -> str:
    """Escape, then render Markdown's ``code`` and **bold** spans."""
    import re

    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)


def pct(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) \
        else f"{100 * x:.{digits}f} %"


def pm(mean: float, std: float, digits: int = 2) -> str:
    return f"{100 * mean:.{digits}f} ± {100 * std:.{digits}f} %"


def method_name(embedder: str) -> str:
    from ..registry import EMBEDDERS, split_name

    entry = EMBEDDERS.get(split_name(embedder)[0])
    if entry is None or not entry.title:
        return embedder
    return f"{entry.title} ({entry.reference})" if entry.reference else entry.title


# -- options ------------------------------------------------------------------------
@dataclass(slots=True)
class ReportOptions:
    """What the report runs. Defaults are the full runs of docs/evaluation.md."""

    data: Path
    embedders: list[str] = field(default_factory=default_embedders)
    detector: str = "hog"
    folds: list[int] | None = None
    pairs_per_fold: int | None = None
    fit_on: str = "folds"
    fit_max_images: int | None = None
    flip: bool = True
    robustness_embedders: list[str] = field(default_factory=robustness_embedders)
    jpeg: list[int] = field(default_factory=lambda: [10, 20, 30, 50, 70, 90])
    pixels: list[int] = field(default_factory=lambda: [1_600, 6_400, 14_400, 25_600,
                                                       65_536])
    identify: Any = None  # IdentifyProtocol; None = its defaults; False = skip
    annotations: list[Path] = field(default_factory=list)
    negatives: list[Path] = field(default_factory=list)
    detectors: list[str] = field(default_factory=default_detectors)
    groups: Path | None = None
    workers: int = 0
    use_cache: bool = True
    progress: bool = True


def quoted_results() -> list[dict[str, object]]:
    """:data:`QUOTED` as JSON: the published LFW accuracies (a rate, not a percentage)."""
    return [{"method": n, "paper": p, "accuracy": a / 100, "setting": s}
            for n, p, a, s in QUOTED]


def photos_annotations(photos: str | Path) -> tuple[list[Path], list[Path]]:
    """The detection benchmark's files in a folder of hand-boxed photos (the layout
    of ``../shared/data/photos``): ``training.xml`` and ``testing.xml``, and
    ``dogs.jpg`` as a face-free image when it is there."""
    folder = Path(photos)
    negatives = [folder / "dogs.jpg"] if (folder / "dogs.jpg").is_file() else []
    return [folder / "training.xml", folder / "testing.xml"], negatives


def _lfw_kwargs(o: ReportOptions) -> dict[str, Any]:
    return {"folds": o.folds, "pairs_per_fold": o.pairs_per_fold, "fit_on": o.fit_on,
            "fit_max_images": o.fit_max_images, "workers": o.workers,
            "use_cache": o.use_cache, "progress": o.progress}


# -- sections -----------------------------------------------------------------------
def history_rows(reports: Sequence[LfwReport], quoted: bool = True) -> list[list[object]]:
    """The history table: measured methods, then the published numbers."""
    rows: list[list[object]] = []
    for r in reports:
        res = r.result
        rows.append([method_name(r.config.label), pm(res.accuracy_mean, res.accuracy_std),
                     pm(res.val_mean, res.val_std, 1), f"{res.auc:.4f}", pct(res.eer),
                     r.protocol or "-", "measured"])
    if quoted:
        for name, paper, acc, setting in QUOTED:
            rows.append([f"{name} ({paper})", f"{acc:.2f} %", "-", "-", "-", setting,
                         "quoted, not measured"])
    return rows


HISTORY_HEADERS = ["method", "accuracy (mean ± std, folds)", "VAL @ FAR=1e-3", "AUC",
                   "EER", "training / fitting", "source"]


def _face_crop(path: str, size: int = 150) -> np.ndarray:
    """The centre of an LFW image (where its face is), for figures."""
    from ..image import load_image

    img = load_image(path)
    h, w = img.shape[:2]
    s = min(size, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top:top + s, left:left + s]


def pair_examples(report: LfwReport, count: int = 6) -> list[tuple[np.ndarray, np.ndarray,
                                                                    str, bool | None]]:
    """Pairs for the course's figure: right and wrong verdicts of both kinds, each
    captioned with its distance and the truth."""
    r = report.result
    d, same, correct = report.distances, report.same, r.correct
    picks: list[int] = []
    for want_same, want_correct, n in ((True, True, 2), (False, True, 2), (True, False, 1),
                                       (False, False, 1)):
        idx = np.flatnonzero((same == want_same) & (correct == want_correct))
        if len(idx):
            order = idx[np.argsort(d[idx])]
            if want_same == want_correct:  # the clearest right verdicts, hardest wrong
                order = order if want_same else order[::-1]
            picks += order[:n].tolist()
    picks = picks[:count]
    out: list[tuple[np.ndarray, np.ndarray, str, bool | None]] = []
    for i in picks:
        a, b = report.paths[i]
        truth = "same person" if same[i] else "different people"
        out.append((_face_crop(a), _face_crop(b), f"Distance = {d[i]:.2f} ({truth})",
                    bool(correct[i])))
    return out


def _verification(doc: Doc, o: ReportOptions, out: Path, results: dict[str, Any]
                  ) -> dict[str, LfwReport]:
    from ..viz import plot_distance_histogram, plot_pairs, plot_roc

    reports: dict[str, LfwReport] = {}
    for emb in o.embedders:
        config = PipelineRecipe(o.detector, emb)
        reports[emb] = evaluate_method(o.data, config, **_lfw_kwargs(o))
    first = next(iter(reports.values()))
    n_folds = len(first.result.accuracies)
    doc.h("1. Verification on LFW: the history table")
    doc.p(f"LFW {Path(first.pairs_file).name}: {first.pairs:,} pairs in {n_folds} folds "
          f"({first.images:,} images), detector `{o.detector}`. Each fold's threshold is "
          f"chosen on the other folds; accuracy is the mean ± standard deviation over "
          f"folds; VAL is the true accept rate at the threshold where the other folds "
          f"accept 1 in 1,000 different-person pairs. The last rows are published numbers "
          f"the course quotes: **quoted, not measured** here.")
    doc.table(HISTORY_HEADERS, history_rows(list(reports.values())))
    curves = {f"{method_name(e)} ({100 * r.result.accuracy_mean:.1f} %)": r.roc()
              for e, r in reports.items()}
    plot_roc(curves, out / "roc.png", title="LFW ROC, all methods", ylim=(0.0, 1.0))
    doc.img("roc.png", "ROC curves of every method")
    doc.h("Distances of same-person and different-person pairs", 3)
    doc.p("The dashed line is the mean of the folds' thresholds.")
    for emb, r in reports.items():
        name = f"hist-{_slug(emb)}.png"
        plot_distance_histogram(r.distances[r.same], r.distances[~r.same],
                                float(np.mean(r.result.thresholds)), out / name,
                                metric=r.metric, title=method_name(emb))
        doc.img(name, f"distance histogram, {emb}")
    best = max(reports, key=lambda e: reports[e].result.accuracy_mean)
    plot_pairs(pair_examples(reports[best]), out / "pairs.png",
               title=f"{method_name(best)}: green = right verdict, red = wrong")
    doc.h("Pairs and their distances", 3)
    doc.p(f"Pairs scored by {method_name(best)} ({reports[best].metric} distance; "
          f"threshold about {np.mean(reports[best].result.thresholds):.2f}).")
    doc.img("pairs.png", "pairs of faces with their distance")
    results["verification"] = {e: r.to_dict() for e, r in reports.items()}
    results["quoted"] = quoted_results()
    if o.flip:
        rows = []
        results["flip"] = {}
        for emb, r in reports.items():
            rf = evaluate_method(o.data, PipelineRecipe(o.detector, emb, flip=True),
                                 **_lfw_kwargs(o))
            rows.append([method_name(emb), pm(r.result.accuracy_mean, r.result.accuracy_std),
                         pm(rf.result.accuracy_mean, rf.result.accuracy_std),
                         f"{100 * (rf.result.accuracy_mean - r.result.accuracy_mean):+.2f}",
                         pct(r.result.val_mean, 1), pct(rf.result.val_mean, 1)])
            results["flip"][emb] = rf.to_dict()
        doc.h("Flip test-time augmentation", 3)
        doc.p("Each embedding averaged with the embedding of the mirrored face "
              "(`--flip`); same folds and thresholds protocol.")
        doc.table(["method", "accuracy", "accuracy +flip", "change (points)", "VAL",
                   "VAL +flip"], rows)
    return reports


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^a-zA-Z0-9]+", "-", Path(text).name if ":" in text else text).strip("-")


def robustness_examples(path: str, levels: Sequence[Degradation]) -> list[tuple[np.ndarray,
                                                                                  str]]:
    """One LFW face under each degradation, for the report."""
    from ..image import load_image

    img = load_image(path)
    out = [(_crop(img), "original")]
    out += [(_crop(level.apply(img)), level.label) for level in levels]
    return out


def _crop(img: np.ndarray, size: int = 130) -> np.ndarray:
    h, w = img.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return img[top:top + size, left:left + size]


def _robustness(doc: Doc, o: ReportOptions, out: Path, results: dict[str, Any],
                verification: dict[str, LfwReport]) -> None:
    from ..viz import image_grid, plot_curves
    from .robustness import rows, sweep

    doc.h("2. Robustness: image quality and resolution")
    doc.p("Every image of every pair is re-encoded as JPEG at quality Q, or resampled "
          "so that the face (LFW's centred face box) holds N pixels and brought back to "
          "250 x 250; then detected, aligned and embedded as usual. Thresholds come from "
          "the other folds of the same degraded set. LFW's faces hold about 11,800 "
          "pixels, so levels above that add no detail (they measure resampling alone).")
    results["robustness"] = {}
    for emb in o.robustness_embedders:
        config = PipelineRecipe(o.detector, emb)
        base = verification.get(emb)
        entry: dict[str, Any] = {}
        for kind, values in (("jpeg", o.jpeg), ("pixels", o.pixels)):
            if not values:
                continue
            levels = [Degradation("jpeg" if kind == "jpeg" else "pixels", v) for v in values]
            baseline, reports = sweep(o.data, config, levels, baseline=base,
                                      **_lfw_kwargs(o))
            base = baseline
            entry[kind] = rows(baseline, reports)
            doc.h(f"{method_name(emb)}: {'JPEG quality' if kind == 'jpeg' else 'face pixels'}",
                  3)
            doc.table(["images", "accuracy", "VAL @ FAR=1e-3", "AUC", "no face found"],
                      [[r.config.degrade.label if r.config.degrade else "original",
                        pm(r.result.accuracy_mean, r.result.accuracy_std),
                        pm(r.result.val_mean, r.result.val_std, 1), f"{r.result.auc:.4f}",
                        f"{r.no_face_images} / {r.images}"] for r in [baseline, *reports]])
            xs = [float(v) for v in values]
            name = f"robustness-{kind}-{_slug(emb)}.png"
            plot_curves({"accuracy": (xs, [r.result.accuracy_mean for r in reports]),
                         "VAL @ FAR=1e-3": (xs, [r.result.val_mean for r in reports])},
                        out / name,
                        xlabel="JPEG quality" if kind == "jpeg" else
                        "pixels on the face (log scale)",
                        ylabel="rate", xlog=kind == "pixels", xticks=xs,
                        title=f"{method_name(emb)} on LFW\n(original images: accuracy "
                              f"{100 * baseline.result.accuracy_mean:.1f} %, VAL "
                              f"{100 * baseline.result.val_mean:.1f} %)",
                        reference={"original accuracy": (
                            [xs[0], xs[-1]], [baseline.result.accuracy_mean] * 2)})
            doc.img(name, f"{emb} accuracy against {kind}")
        results["robustness"][emb] = entry
    if verification:
        sample = next(iter(verification.values())).paths[0][0]
        levels = [Degradation("jpeg", v) for v in o.jpeg[:2]] + \
            [Degradation("pixels", v) for v in o.pixels[:2]]
        image_grid(robustness_examples(sample, levels), out / "robustness-examples.png",
                   cols=len(levels) + 1, width=1.8)
        doc.img("robustness-examples.png", "one face under the degradations")


def _identification(doc: Doc, o: ReportOptions, out: Path, results: dict[str, Any]) -> None:
    from ..viz import image_grid, plot_curves
    from .identify import IdentifyProtocol, evaluate_identification

    protocol = o.identify if isinstance(o.identify, IdentifyProtocol) else IdentifyProtocol()
    reports = [evaluate_identification(o.data, PipelineRecipe(o.detector, emb), protocol,
                                       workers=o.workers, use_cache=o.use_cache,
                                       progress=o.progress) for emb in o.embedders]
    r0 = reports[0]
    doc.h("3. Identification (1:N) on LFW")
    doc.p(f"{r0.people} people with at least {protocol.min_images} images are enrolled "
          f"with a gallery of g images each; {r0.probes:,} other images of them are the "
          f"probes (at most {protocol.max_probes} per person); {r0.impostors:,} people with "
          f"fewer images, one image each, are the unseen impostors. Rank-k: the right "
          f"person among the k nearest. DIR: right person at rank 1 *and* within the "
          f"threshold that accepts {pct(protocol.far, 1)} of the impostors (false alarm "
          f"rate). Seed {protocol.seed}.")
    rows = []
    for r in reports:
        for g in r.results:
            rows.append([method_name(r.config.embedder), g.gallery_size, pct(g.rank1),
                         pct(g.rank5), pct(g.dir_at_far), r.method_protocol or "-"])
    doc.table(["method", "gallery images / person", "rank-1", "rank-5",
               f"DIR @ FAR={protocol.far:g}", "training / fitting"], rows)
    plot_curves({method_name(r.config.embedder): ([g.gallery_size for g in r.results],
                                                   [g.rank1 for g in r.results])
                 for r in reports}, out / "identify-rank1.png",
                xlabel="gallery images per person", ylabel="rank-1 accuracy",
                title="Closed-set identification", ylim=(0.0, 1.0),
                xticks=[g.gallery_size for g in r0.results])
    doc.img("identify-rank1.png", "rank-1 accuracy against gallery size")
    g_last = {method_name(r.config.embedder): r.results[-1] for r in reports}
    plot_curves({n: (np.maximum(g.dir_curve[0], 1e-4).tolist(), g.dir_curve[1].tolist())
                 for n, g in g_last.items()}, out / "identify-dir.png",
                xlabel="false alarm rate (impostors accepted)",
                ylabel="detection and identification rate", xlog=True, markers=False,
                title=f"Open-set, gallery of {r0.results[-1].gallery_size}", ylim=(0.0, 1.0))
    doc.img("identify-dir.png", "DIR against false alarm rate")
    # the most accurate method that still makes mistakes with one gallery image
    failing = [r for r in reports if r.results[0].failures]
    best = max(failing or reports, key=lambda r: r.results[0].rank1)
    fails = best.results[0].failures[:4]
    if not fails:
        doc.p("No method made a rank-1 error: no failures to show.")
    else:
        tiles = []
        for probe, wrong, right, dist in fails:
            tiles += [(_face_crop(probe), f"probe: {Path(probe).parent.name}"),
                      (_face_crop(wrong), f"chosen: {Path(wrong).parent.name} ({dist:.2f})"),
                      (_face_crop(right), f"right: {Path(right).parent.name}")]
        image_grid(tiles, out / "identify-failures.png", cols=3, width=2.2,
                   title=f"{method_name(best.config.embedder)}, gallery of "
                         f"{best.results[0].gallery_size}: rank-1 errors")
        doc.img("identify-failures.png", "identification failures")
    results["identification"] = {r.config.embedder: r.to_dict() for r in reports}


def _detection(doc: Doc, o: ReportOptions, out: Path, results: dict[str, Any]) -> None:
    from ..viz import draw_faces, image_grid, plot_curves
    from .detection import benchmark, read_annotations

    truth = read_annotations(o.annotations, negatives=o.negatives)
    res = benchmark(o.detectors, truth, progress=o.progress)
    n_faces = sum(len(v) for v in truth.values())
    doc.h("4. Face detection")
    doc.p(f"{len(truth)} images ({', '.join(p.name for p in o.annotations)}"
          f"{', negatives: ' + ', '.join(p.name for p in o.negatives) if o.negatives else ''})"
          f" with {n_faces} hand-drawn face boxes. AP: area under the precision-recall "
          f"curve at IoU >= 0.5 (detector run with a low threshold); 'AP, dlib boxes': the "
          f"same after moving each detector's boxes onto dlib's box convention (the "
          f"annotations' convention). Precision, recall and face counts at the detector's "
          f"own threshold; time per image with landmarks, on this machine.")
    doc.table(["detector", "AP @ IoU 0.5", "AP, dlib boxes", "precision", "recall",
               "right face count", "ms / image"],
              [[r.detector, pct(r.ap, 1), pct(r.ap_dlib_boxes, 1), pct(r.precision, 1),
                pct(r.recall, 1), pct(r.count_accuracy, 0), f"{r.ms_per_image:.0f}"]
               for r in res])
    plot_curves({f"{r.detector} (AP {100 * r.ap:.1f} %)": (r.pr_curve[1].tolist(),
                                                          r.pr_curve[0].tolist())
                 for r in res}, out / "detection-pr.png", xlabel="recall",
                ylabel="precision", title="Precision-recall, IoU >= 0.5", markers=False,
                ylim=(0.0, 1.02))
    doc.img("detection-pr.png", "precision-recall curves")
    from ..image import load_image
    from ..types import Face

    sample = max((p for p in truth if truth[p]), key=lambda p: len(truth[p]))
    img = load_image(sample)
    tiles = []
    for r in res:
        faces = r.detections[str(sample)]
        truth_faces = [Face(b, 1.0) for b in truth[sample]]
        drawn = draw_faces(draw_faces(img, truth_faces, known=[True] * len(truth_faces)),
                           faces, known=[False] * len(faces))
        tiles.append((drawn, f"{r.detector}: {len(faces)} found, {len(truth[sample])} "
                             f"marked"))
    image_grid(tiles, out / "detection-examples.png", cols=min(3, len(tiles)), width=3.4,
               title=f"{sample.name}: hand boxes green, detections red")
    doc.img("detection-examples.png", "example detections")
    results["detection"] = [r.to_dict() for r in res]


def _bias(doc: Doc, o: ReportOptions, results: dict[str, Any],
          verification: dict[str, LfwReport]) -> None:
    from .bias import by_group, read_groups

    assert o.groups is not None
    groups = read_groups(o.groups)
    doc.h("5. Accuracy by group")
    doc.p(f"Groups from `{o.groups.name}` ({len(groups):,} identities, "
          f"{len(set(groups.values()))} groups). A pair counts for a group when both "
          f"people belong to it; 'mixed' = two people of different groups. FAR is the false "
          f"accept rate of the group's different-person pairs at each fold's FAR = 1e-3 "
          f"threshold. The interval is a 95 % Wilson interval of accuracy.")
    results["bias"] = {}
    for emb, r in verification.items():
        rows = by_group(r, groups)
        doc.h(method_name(emb), 3)
        doc.table(["group", "pairs", "same / different", "accuracy", "95 % interval",
                   "VAL @ FAR=1e-3", "FAR"],
                  [[g.group, g.pairs, f"{g.matched} / {g.mismatched}", pct(g.accuracy),
                    f"{100 * g.accuracy_ci[0]:.1f}-{100 * g.accuracy_ci[1]:.1f} %",
                    pct(g.val, 1), pct(g.far, 2)] for g in rows])
        results["bias"][emb] = [g.to_dict() for g in rows]


def write_report(out_dir: str | Path, options: ReportOptions, *, command: str = ""
                 ) -> dict[str, Path]:
    """Run every section and write ``report.md``, ``report.html``, ``results.json`` and
    the PNGs into ``out_dir``. Returns the paths written, by name."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {out}: {exc.strerror or exc}") from None
    if not options.embedders:
        raise DataError("the report needs at least one embedder")
    start = time.time()
    doc = Doc("faceprint evaluation report")
    subset = []
    if options.folds is not None:
        subset.append(f"folds {','.join(str(f + 1) for f in options.folds)}")
    if options.pairs_per_fold:
        subset.append(f"{options.pairs_per_fold} pairs per fold")
    if options.fit_max_images:
        subset.append(f"at most {options.fit_max_images} fitting images")
    doc.p("**Subset run**: " + ", ".join(subset) + " - not the full benchmark."
          if subset else "Full LFW View 2 (10 folds).")
    if command:
        doc.code(command)
    results: dict[str, Any] = {"options": _options_json(options)}
    verification = _verification(doc, options, out, results)
    if options.robustness_embedders and (options.jpeg or options.pixels):
        _robustness(doc, options, out, results, verification)
    if options.identify is not False:
        _identification(doc, options, out, results)
    if options.annotations and options.detectors:
        _detection(doc, options, out, results)
    if options.groups is not None:
        _bias(doc, options, results, verification)
    doc.p(f"Generated in {time.time() - start:.0f} s.")
    written = {"report.md": out / "report.md", "report.html": out / "report.html",
               "results.json": out / "results.json"}
    written["report.md"].write_text(doc.markdown() + "\n")
    written["report.html"].write_text(doc.html() + "\n")
    written["results.json"].write_text(json.dumps(results, indent=2, default=_json) + "\n")
    for kind, value in doc.blocks:
        if kind == "img":
            written[value[0]] = out / value[0]
    return written


def _options_json(o: ReportOptions) -> dict[str, object]:
    d = {k: getattr(o, k) for k in o.__slots__}
    d["identify"] = repr(o.identify)
    return {k: v for k, v in d.items() if k not in ("progress",)}


def _json(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


__all__ = ["QUOTED", "Doc", "ReportOptions", "history_rows", "pair_examples", "write_report"]
