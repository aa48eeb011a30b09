"""Drawing tracks on frames: boxes, track ids and names (green: named, orange:
unknown; a thin box where the tracker predicted and the detector did not run)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .recognize import Observation, Track

_NAMED = (40, 200, 60)
_UNKNOWN = (255, 150, 0)


def draw_tracks(image: np.ndarray, tracks: Sequence[tuple[Track, Observation]],
                frame_label: str | None = None) -> np.ndarray:
    """A copy of the RGB frame with each track's box and ``#id name``."""
    import cv2

    out = image.copy()
    thick = max(1, round(max(image.shape[:2]) / 400))
    for track, obs in tracks:
        colour = _NAMED if track.name else _UNKNOWN
        b = obs.box
        p1, p2 = (round(b.left), round(b.top)), (round(b.right), round(b.bottom))
        cv2.rectangle(out, p1, p2, colour, thick if obs.detected else max(1, thick // 2),
                      cv2.LINE_AA)
        label = f"#{track.id} {track.name or 'unknown'}"
        scale = max(0.5, image.shape[0] / 1000)  # readable on a contact sheet too
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        y = max(p1[1] - 4, th + 2)
        cv2.rectangle(out, (p1[0], y - th - 4), (p1[0] + tw + 4, y + base - 2), colour, -1)
        cv2.putText(out, label, (p1[0] + 2, y - 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), thick, cv2.LINE_AA)
    if frame_label:
        s = max(0.6, image.shape[0] / 900)
        cv2.putText(out, frame_label, (10, round(30 * s)), cv2.FONT_HERSHEY_SIMPLEX, s,
                    (255, 255, 255), max(2, thick), cv2.LINE_AA)
    return out


def contact_sheet(frames: Sequence[tuple[np.ndarray, str]], cols: int = 4,
                  width: int = 480) -> np.ndarray:
    """RGB frames (with captions) tiled into one image, each resized to ``width``."""
    import cv2

    tiles = []
    for image, caption in frames:
        h, w = image.shape[:2]
        tile = cv2.resize(image, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
        cv2.rectangle(tile, (0, 0), (width, 22), (0, 0, 0), -1)
        cv2.putText(tile, caption, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        return np.zeros((1, 1, 3), np.uint8)
    th = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, th - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + cols], axis=1) for i in range(0, len(tiles), cols)]
    return np.concatenate(rows, axis=0)
