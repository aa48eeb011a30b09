"""Where each face moved between two frames, by sparse optical flow (Lucas-Kanade on
corners inside the box, checked forwards and backwards): the measurement the
tracker gets on the frames where the detector does not run, so that a face that
walks, turns or grows between two detections K frames apart is still where its
track expects it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..types import Box

#: frames are analysed in grayscale at this width at most (flow is cheap at it)
FLOW_WIDTH = 960


def gray(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The RGB frame as grayscale at most :data:`FLOW_WIDTH` wide, and its scale."""
    import cv2

    h, w = image.shape[:2]
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if w <= FLOW_WIDTH:
        return g, 1.0
    f = FLOW_WIDTH / w
    return cv2.resize(g, (FLOW_WIDTH, max(1, round(h * f))), interpolation=cv2.INTER_AREA), f


def flow_boxes(prev: np.ndarray, cur: np.ndarray, boxes: Sequence[Box], scale: float = 1.0,
               max_error: float = 1.0) -> list[Box | None]:
    """Each box of the previous gray frame moved to the current one (None where too
    few points could be followed). Boxes are in full-frame pixels; ``scale`` is the
    gray frames' scale from :func:`gray`."""
    import cv2

    h, w = prev.shape[:2]
    groups: list[tuple[int, np.ndarray]] = []  # (box index, its corner points)
    for k, box in enumerate(boxes):
        b = box.scaled(scale).clip(w, h)
        x0, y0 = int(b.left), int(b.top)
        x1, y1 = int(np.ceil(b.right)), int(np.ceil(b.bottom))
        if x1 - x0 < 6 or y1 - y0 < 6:
            continue
        pts = cv2.goodFeaturesToTrack(prev[y0:y1, x0:x1], maxCorners=40, qualityLevel=0.01,
                                      minDistance=2)
        if pts is None or len(pts) < 4:
            continue
        groups.append((k, (pts.reshape(-1, 2) + np.array([x0, y0], np.float32))
                       .astype(np.float32)))
    out: list[Box | None] = [None] * len(boxes)
    if not groups:
        return out
    # all faces' points in one forward and one backward call: one pyramid per frame
    allp = np.concatenate([g[1] for g in groups])
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, allp, allp.copy(), winSize=(15, 15),
                                          maxLevel=3)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, nxt, allp.copy(), winSize=(15, 15),
                                            maxLevel=3)
    good = (st.ravel() == 1) & (st2.ravel() == 1) & (
        np.linalg.norm(back - allp, axis=1) < max_error)
    start = 0
    for k, pts in groups:
        end = start + len(pts)
        ok = good[start:end]
        p, q = pts[ok], nxt[start:end][ok]
        start = end
        if len(p) < 4:
            continue
        box = boxes[k]
        dx, dy = np.median(q - p, axis=0)
        dp = np.linalg.norm(p - p.mean(axis=0), axis=1)
        dq = np.linalg.norm(q - q.mean(axis=0), axis=1)
        keep = dp > 1.0
        s = float(np.median(dq[keep] / dp[keep])) if keep.sum() >= 3 else 1.0
        s = min(max(s, 0.8), 1.25)
        cx, cy = box.center
        nw, nh = box.width * s, box.height * s
        ncx, ncy = cx + float(dx) / scale, cy + float(dy) / scale
        out[k] = Box(ncx - nw / 2, ncy - nh / 2, nw, nh)
    return out
