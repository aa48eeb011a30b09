"""Detection scoring against hand-drawn boxes.

Reads dlib's imglab XML (``<image file=...><box top= left= width= height=/>``),
the format of dlib's example photos and of PASCAL-style annotations exported
by imglab, and matches detections to truth boxes greedily by IoU.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..types import Box


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
