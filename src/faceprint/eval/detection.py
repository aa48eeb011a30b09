"""Detection scoring against hand-drawn boxes.

Reads dlib's imglab XML (``<image file=...><box top= left= width= height=/>``),
the format of dlib's example photos and of PASCAL-style annotations exported
by imglab, and FDDB's ellipse lists; matches detections to truth boxes greedily
by IoU; and benchmarks detectors side by side (:func:`benchmark`): the
precision-recall curve and average precision at IoU 0.5 over all images, the
precision and recall at the detector's own threshold, the fraction of images
whose face count it gets right, and its time per image.
"""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..types import Box, Face


def read_dlib_xml(path: str | Path) -> dict[Path, list[Box]]:
    """Truth boxes per image (image paths resolved against the XML's folder).
    Boxes marked ``ignore='1'`` are left out."""
    p = Path(path)
    try:
        root = ET.parse(p).getroot()
    except (OSError, ET.ParseError) as exc:
        raise DataError(f"{p}: cannot read the annotation file ({exc})") from None
    out: dict[Path, list[Box]] = {}
    for image in root.iter("image"):
        boxes = []
        for b in image.iter("box"):
            if b.get("ignore") == "1":
                continue
            boxes.append(Box(float(b.get("left", 0)), float(b.get("top", 0)),
                             float(b.get("width", 0)), float(b.get("height", 0))))
        out[(p.parent / image.get("file", "")).resolve()] = boxes
    if not out:
        raise DataError(f"{p}: no <image> entries")
    return out


@dataclass(frozen=True, slots=True)
class MatchCount:
    """Counts of one image (or a sum): true positives, false positives, misses."""

    true_positives: int
    false_positives: int
    misses: int

    def __add__(self, other: MatchCount) -> MatchCount:
        return MatchCount(self.true_positives + other.true_positives,
                          self.false_positives + other.false_positives,
                          self.misses + other.misses)

    @property
    def recall(self) -> float:
        total = self.true_positives + self.misses
        return self.true_positives / total if total else 1.0

    @property
    def precision(self) -> float:
        total = self.true_positives + self.false_positives
        return self.true_positives / total if total else 1.0


def match_boxes(detections: list[Box], truths: list[Box], min_iou: float = 0.4) -> MatchCount:
    """Greedy one-to-one matching, highest IoU first (detections in score order)."""
    pairs = sorted(((d.iou(t), i, j) for i, d in enumerate(detections)
                    for j, t in enumerate(truths)), reverse=True)
    used_d: set[int] = set()
    used_t: set[int] = set()
    for iou, i, j in pairs:
        if iou < min_iou:
            break
        if i in used_d or j in used_t:
            continue
        used_d.add(i)
        used_t.add(j)
    tp = len(used_d)
    return MatchCount(tp, len(detections) - tp, len(truths) - tp)


# -- FDDB ---------------------------------------------------------------------------
def ellipse_box(major: float, minor: float, angle: float, cx: float, cy: float) -> Box:
    """The axis-aligned bounding box of an ellipse: semi-axes ``major`` (along the
    direction ``angle``, radians from the x axis) and ``minor``, centre ``(cx, cy)``."""
    c, s = math.cos(angle), math.sin(angle)
    half_w = math.sqrt((major * c) ** 2 + (minor * s) ** 2)
    half_h = math.sqrt((major * s) ** 2 + (minor * c) ** 2)
    return Box(cx - half_w, cy - half_h, 2 * half_w, 2 * half_h)


def read_fddb(path: str | Path, images_root: str | Path | None = None,
              extension: str = ".jpg") -> dict[Path, list[Box]]:
    """Truth boxes per image from an FDDB ellipse list (``FDDB-fold-NN-ellipseList.txt``):
    blocks of an image name (without extension, relative to ``images_root``, by
    default the file's folder), a face count, and one line per face: ``major_radius
    minor_radius angle centre_x centre_y 1``. Each ellipse becomes its bounding box
    (:func:`ellipse_box`)."""
    p = Path(path)
    root = Path(images_root) if images_root is not None else p.parent
    try:
        lines = [ln.strip() for ln in p.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot read the annotation file ({exc})") from None
    out: dict[Path, list[Box]] = {}
    i = 0
    try:
        while i < len(lines):
            name = lines[i]
            count = int(lines[i + 1])
            boxes = []
            for row in lines[i + 2:i + 2 + count]:
                values = [float(v) for v in row.split()[:5]]
                if len(values) != 5:
                    raise ValueError(f"an ellipse needs 5 numbers: {row!r}")
                boxes.append(ellipse_box(*values))
            if len(boxes) != count:
                raise ValueError(f"{name}: {count} faces announced, {len(boxes)} given")
            file = name if Path(name).suffix else name + extension
            out[(root / file).resolve()] = boxes
            i += 2 + count
    except (ValueError, IndexError) as exc:
        raise DataError(f"{p}: not an FDDB ellipse list near line {i + 1} ({exc})") from None
    if not out:
        raise DataError(f"{p}: no images listed")
    return out


def read_annotations(paths: Sequence[str | Path], images_root: str | Path | None = None
                     ) -> dict[Path, list[Box]]:
    """Truth boxes from several files: ``.xml`` files are read as dlib/imglab XML,
    anything else as an FDDB ellipse list. Images must exist."""
    out: dict[Path, list[Box]] = {}
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"{p}: no such annotation file")
        part = read_dlib_xml(p) if p.suffix.lower() == ".xml" else read_fddb(p, images_root)
        out.update(part)
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise DataError(f"{len(missing)} annotated images are missing, e.g. {missing[0]}")
    return out


# -- benchmark -----------------------------------------------------------------------
#: score thresholds low enough to trace each detector's precision-recall curve,
#: in the detector's own units (its default threshold is its operating point)
PR_THRESHOLDS: dict[str, float] = {"hog": -0.6, "cnn": -0.8, "mtcnn": 0.3,
                                   "blazeface": 0.3, "blazeface-onet": 0.3,
                                   "yunet": 0.3, "centerface": 0.2,
                                   "haar": float("-inf")}


def match_scored(detections: Sequence[tuple[Box, float]], truths: Sequence[Box],
                 min_iou: float = 0.5) -> list[tuple[float, bool]]:
    """PASCAL VOC matching: detections in decreasing score order each take the
    unmatched truth box they overlap most, if that IoU is at least ``min_iou``.
    Returns ``(score, true positive)`` per detection."""
    used: set[int] = set()
    out = []
    for box, sc in sorted(detections, key=lambda d: -d[1]):
        best, best_j = min_iou, -1
        for j, t in enumerate(truths):
            if j in used:
                continue
            iou = box.iou(t)
            if iou >= best:
                best, best_j = iou, j
        if best_j >= 0:
            used.add(best_j)
        out.append((sc, best_j >= 0))
    return out


def precision_recall(scored: Sequence[tuple[float, bool]], n_truth: int
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """``(precision, recall, average precision)`` from all images' scored matches:
    AP is the area under the precision envelope (VOC 2010 onwards, all points)."""
    if not scored or n_truth == 0:
        return np.zeros(1), np.zeros(1), 0.0
    order = sorted(scored, key=lambda x: -x[0])
    tp = np.cumsum([1 if t else 0 for _, t in order])
    fp = np.cumsum([0 if t else 1 for _, t in order])
    recall = tp / n_truth
    precision = tp / np.maximum(tp + fp, 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    r = np.r_[0.0, recall]
    ap = float(np.sum((r[1:] - r[:-1]) * envelope))
    return precision, recall, ap


@dataclass(slots=True)
class DetectorResult:
    """A detector's scores on a set of annotated images."""

    detector: str
    images: int
    faces: int
    ap: float
    ap_dlib_boxes: float
    precision: float
    recall: float
    count_accuracy: float
    ms_per_image: float
    pr_curve: tuple[np.ndarray, np.ndarray] = field(repr=False)
    detections: dict[str, list[Face]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"detector": self.detector, "images": self.images, "faces": self.faces,
                "ap50": self.ap, "ap50_dlib_boxes": self.ap_dlib_boxes,
                "precision": self.precision, "recall": self.recall,
                "count_accuracy": self.count_accuracy, "ms_per_image": self.ms_per_image}


def _load_all(images: Sequence[Path]) -> list[np.ndarray]:
    from ..image import load_image

    return [load_image(p) for p in images]


def evaluate_detector(name: str, truth: dict[Path, list[Box]], *, min_iou: float = 0.5,
                      options: dict[str, Any] | None = None,
                      loaded: list[np.ndarray] | None = None, repeats: int = 1
                      ) -> DetectorResult:
    """Score detector ``name`` on annotated images (see the module docstring).

    The operating point (precision, recall, face counts, time) uses the detector's
    defaults and ``options``; the PR curve and AP re-run it with the low threshold
    of :data:`PR_THRESHOLDS`. ``ap_dlib_boxes`` scores the boxes moved onto dlib's
    HOG convention (each detector's ``dlib_box_calibration``), the convention of
    dlib's hand-drawn boxes. Time: wall-clock milliseconds per image of
    ``detect`` (landmarks included), the best of ``repeats`` passes after a
    warm-up image.
    """
    from ..models import create_detector

    paths = list(truth)
    images = loaded if loaded is not None else _load_all(paths)
    opts = dict(options or {})
    detector = create_detector(name, **opts)
    detector.detect(images[0])  # load the model before timing
    best = math.inf
    found: list[list[Face]] = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        found = [detector.detect(img) for img in images]
        best = min(best, time.perf_counter() - start)
    counts = MatchCount(0, 0, 0)
    count_ok = 0
    for faces, p in zip(found, paths):
        counts = counts + match_boxes([f.box for f in faces], truth[p], min_iou)
        count_ok += len(faces) == len(truth[p])
    low = dict(opts)
    if name in PR_THRESHOLDS and "threshold" not in opts:
        low["threshold"] = PR_THRESHOLDS[name]
    low["landmarks"] = False
    curve_detector = create_detector(name, **low)
    scored: list[tuple[float, bool]] = []
    scored_dlib: list[tuple[float, bool]] = []
    for img, p in zip(images, paths):
        faces = curve_detector.detect(img)
        scored += match_scored([(f.box, f.score) for f in faces], truth[p], min_iou)
        to_dlib = getattr(curve_detector, "to_dlib_box", lambda b: b)
        scored_dlib += match_scored([(to_dlib(f.box), f.score) for f in faces], truth[p],
                                    min_iou)
    n_truth = sum(len(v) for v in truth.values())
    precision, recall, ap = precision_recall(scored, n_truth)
    ap_dlib = precision_recall(scored_dlib, n_truth)[2]
    return DetectorResult(name, len(paths), n_truth, ap, ap_dlib, counts.precision,
                          counts.recall, count_ok / len(paths), 1000.0 * best / len(paths),
                          (precision, recall), {str(p): f for p, f in zip(paths, found)})


def benchmark(detectors: Sequence[str], truth: dict[Path, list[Box]], *,
              min_iou: float = 0.5, repeats: int = 1, progress: bool = True
              ) -> list[DetectorResult]:
    """:func:`evaluate_detector` for each detector on the same (pre-loaded) images."""
    from tqdm import tqdm

    if not truth:
        raise DataError("no annotated images")
    images = _load_all(list(truth))
    return [evaluate_detector(d, truth, min_iou=min_iou, loaded=images, repeats=repeats)
            for d in tqdm(detectors, desc="detectors", unit="detector", disable=not progress)]
