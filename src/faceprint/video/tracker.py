"""A face tracker in the manner of SORT (Bewley et al., 2016): one constant-velocity
Kalman filter per face, detections matched to the predicted boxes by the Hungarian
algorithm (:func:`scipy.optimize.linear_sum_assignment`).

Differences from SORT, all for detection every few frames rather than every frame:

* matching has two stages: first on IoU (>= ``iou_threshold``), then, for what is
  left, on centre distance (within ``center_gate`` box sizes, sizes within a factor
  ``size_gate``), because a face that moved between two detections K frames apart
  may no longer overlap its prediction;
* a track is *tentative* until it has been matched on ``min_hits`` detection frames,
  and a tentative track that misses a detection is deleted (a false detection does
  not live on); confirmed tracks live ``max_age`` frames without a match and are
  deleted at once when their prediction leaves the image;
* a detection that matched no track but lies mostly (``duplicate_overlap`` of its
  area) over a face matched on the same frame starts no track: detectors that search
  overlapping tiles sometimes report one face twice, with boxes too different for
  non-maximum suppression;
* ids are given at confirmation, so they count people on screen (1, 2, 3 ...) and
  never change for the life of a track.

Boxes are :class:`faceprint.types.Box` ``(left, top, width, height)`` in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..types import Box

# state x = [cx, cy, s, r, vx, vy, vs]: centre, area, aspect ratio (w/h), velocities
_F = np.eye(7)
_F[0, 4] = _F[1, 5] = _F[2, 6] = 1.0
_H = np.eye(4, 7)


def _to_z(box: Box) -> np.ndarray:
    cx, cy = box.center
    return np.array([cx, cy, box.width * box.height, box.width / max(box.height, 1e-6)])


def _to_box(x: np.ndarray) -> Box:
    s, r = max(float(x[2]), 1.0), max(float(x[3]), 1e-3)
    w = float(np.sqrt(s * r))
    h = s / w
    return Box(float(x[0]) - w / 2.0, float(x[1]) - h / 2.0, w, h)


class KalmanBox:
    """A constant-velocity Kalman filter over one box (SORT's noise settings)."""

    def __init__(self, box: Box) -> None:
        self.x = np.zeros(7)
        self.x[:4] = _to_z(box)
        self.P = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])
        self.Q = np.diag([1.0, 1.0, 1.0, 1e-2, 1e-2, 1e-2, 1e-4])
        self.R = np.diag([1.0, 1.0, 10.0, 10.0])

    def predict(self) -> Box:
        if self.x[2] + self.x[6] <= 0:  # the area would become negative
            self.x[6] = 0.0
        self.x = _F @ self.x
        self.P = _F @ self.P @ _F.T + self.Q
        return self.box

    def update(self, box: Box) -> None:
        y = _to_z(box) - _H @ self.x
        S = _H @ self.P @ _H.T + self.R
        K = self.P @ _H.T @ np.linalg.inv(S)
        self.x = self.x + K @ y
        self.P = (np.eye(7) - K @ _H) @ self.P

    @property
    def box(self) -> Box:
        return _to_box(self.x)

    @property
    def uncertainty(self) -> float:
        """Standard deviation of the predicted centre, in box widths."""
        w = max(self.box.width, 1.0)
        return float(np.sqrt(self.P[0, 0] + self.P[1, 1])) / w


@dataclass(eq=False)
class TrackState:
    """One tracked face as the tracker sees it. ``id`` is 0 while tentative."""

    kalman: KalmanBox
    first_frame: int
    last_seen: int
    id: int = 0
    hits: int = 1
    box: Box = field(default_factory=lambda: Box(0, 0, 0, 0))
    #: the detection matched on the current frame (index into its list), or None
    matched: int | None = None
    #: what the user of the tracker keeps with the track (the recognizer's record)
    record: Any = None

    @property
    def confirmed(self) -> bool:
        return self.id > 0


def _overlap(a: Box, b: Box) -> float:
    """The share of ``a``'s area that lies inside ``b``."""
    iw = min(a.right, b.right) - max(a.left, b.left)
    ih = min(a.bottom, b.bottom) - max(a.top, b.top)
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / max(a.area, 1e-9)


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    out = np.zeros((len(a), len(b)))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i, j] = x.iou(y)
    return out


class Tracker:
    """Multi-face tracker. Call :meth:`step` once per frame, with the detected boxes
    on detection frames and ``None`` on the frames in between."""

    def __init__(self, *, min_hits: int = 2, max_age: int = 25, iou_threshold: float = 0.3,
                 center_gate: float = 0.6, size_gate: float = 1.5,
                 duplicate_overlap: float = 0.4) -> None:
        if min_hits < 1 or max_age < 1:
            raise ValueError("min_hits and max_age must be at least 1")
        self.min_hits = min_hits
        self.max_age = max_age
        self.iou_threshold = iou_threshold
        self.center_gate = center_gate
        self.size_gate = size_gate
        self.duplicate_overlap = duplicate_overlap
        self.tracks: list[TrackState] = []
        self._next_id = 1
        #: tracks that ended on the last step (confirmed ones only)
        self.ended: list[TrackState] = []
        #: tracks confirmed on the last step
        self.born: list[TrackState] = []
        #: detections of the last detection frame that matched no track, and confirmed
        #: tracks that the previous detection found and the last one did not
        self.unmatched_detections = 0
        self.missed_tracks = 0
        self._last_detection = -1

    def _match(self, predicted: list[Box], boxes: Sequence[Box]) -> list[tuple[int, int]]:
        if not predicted or not boxes:
            return []
        pairs: list[tuple[int, int]] = []
        iou = iou_matrix(predicted, boxes)
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols):
            if iou[r, c] >= self.iou_threshold:
                pairs.append((int(r), int(c)))
        left_t = [i for i in range(len(predicted)) if i not in {p[0] for p in pairs}]
        left_d = [j for j in range(len(boxes)) if j not in {p[1] for p in pairs}]
        if left_t and left_d:  # second stage: centre distance, for faces that moved
            cost = np.full((len(left_t), len(left_d)), 1e6)
            for a, i in enumerate(left_t):
                p = predicted[i]
                for b, j in enumerate(left_d):
                    d = boxes[j]
                    size = max(np.sqrt(p.area), np.sqrt(d.area), 1.0)
                    ratio = max(p.width, d.width) / max(min(p.width, d.width), 1e-6)
                    dist = float(np.hypot(p.center[0] - d.center[0],
                                          p.center[1] - d.center[1])) / size
                    if dist <= self.center_gate and ratio <= self.size_gate:
                        cost[a, b] = dist
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] < 1e6:
                    pairs.append((left_t[int(r)], left_d[int(c)]))
        return pairs

    def step(self, frame: int, boxes: Sequence[Box] | None,
             image_size: tuple[int, int] | None = None,
             motion: Sequence[Box | None] | None = None) -> list[TrackState]:
        """Advance one frame; returns the tracks alive after it (tentative ones too).

        boxes: this frame's detections, or None when the detector did not run.
        image_size: ``(width, height)``; tracks predicted out of it end.
        motion: for each track of :attr:`tracks` (in order), where it moved since the
            last frame as measured by other means (optical flow), or None; a
            measurement for its Kalman filter before matching, not a hit.
        """
        self.ended, self.born = [], []
        for i, t in enumerate(self.tracks):
            t.box = t.kalman.predict()
            t.matched = None
            moved = motion[i] if motion is not None and i < len(motion) else None
            if moved is not None:  # a measurement of where the face went (optical flow)
                t.kalman.update(moved)
                t.box = moved
        if boxes is not None:
            pairs = self._match([t.box for t in self.tracks], boxes)
            matched_t = {i for i, _ in pairs}
            matched_d = {j for _, j in pairs}
            for i, j in pairs:
                t = self.tracks[i]
                t.kalman.update(boxes[j])
                t.box = boxes[j]
                t.matched = j
                t.hits += 1
                t.last_seen = frame
                if not t.confirmed and t.hits >= self.min_hits:
                    self._confirm(t)
            self.unmatched_detections = len(boxes) - len(matched_d)
            # confirmed tracks found by the previous detection and not by this one
            self.missed_tracks = sum(
                1 for i, t in enumerate(self.tracks) if i not in matched_t and t.confirmed
                and t.last_seen == self._last_detection)
            self._last_detection = frame
            alive = []
            for i, t in enumerate(self.tracks):
                if i not in matched_t and not t.confirmed:
                    continue  # a tentative track that missed a detection
                alive.append(t)
            self.tracks = alive
            taken = [boxes[j] for j in matched_d]
            for j, box in enumerate(boxes):
                if j not in matched_d and not any(
                        _overlap(box, other) > self.duplicate_overlap for other in taken):
                    t = TrackState(KalmanBox(box), frame, frame, box=box, matched=j)
                    self.tracks.append(t)
                    if self.min_hits <= 1:
                        self._confirm(t)
        keep = []
        for t in self.tracks:
            gone = frame - t.last_seen > self.max_age
            if image_size is not None and not gone:
                w, h = image_size
                cx, cy = t.box.center
                gone = not (0 <= cx < w and 0 <= cy < h) or t.box.width < 2
            if gone:
                if t.confirmed:
                    self.ended.append(t)
            else:
                keep.append(t)
        self.tracks = keep
        return list(self.tracks)

    def _confirm(self, t: TrackState) -> None:
        t.id = self._next_id
        self._next_id += 1
        self.born.append(t)

    def finish(self) -> list[TrackState]:
        """End every track (the source ended); returns the confirmed ones."""
        ended = [t for t in self.tracks if t.confirmed]
        self.tracks = []
        return ended


def suppress_duplicates(boxes: Sequence[Box], scores: Sequence[float],
                        iou: float = 0.5) -> list[int]:
    """Indices of the boxes to keep, best score first, dropping any box that overlaps a
    kept one by more than ``iou`` (detectors that search overlapping tiles can report
    one face twice; two tracks on one face would follow)."""
    order = sorted(range(len(boxes)), key=lambda i: -scores[i])
    keep: list[int] = []
    for i in order:
        if all(boxes[i].iou(boxes[j]) <= iou for j in keep):
            keep.append(i)
    return keep
