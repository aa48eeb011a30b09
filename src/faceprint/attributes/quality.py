"""Face quality: numbers a person can check, and a verdict against stated limits.

Measured on the face's dlib chip (5-point alignment, :data:`SIZE` pixels square,
padding :data:`PADDING`, grey), so the numbers do not depend on the photo's size:

* blur: variance of the Laplacian (``cv2.Laplacian``, 3x3, float64) of the chip.
  On 100 LFW faces (``benchmarks/quality_calibrate.py``): sharp, 5th percentile 267
  and median 676; blurred by a Gaussian of sigma 1.5 % of the face's width, median
  171; 3 %, median 51; 4.5 %, median 31. The limit, 100, passes 95 % of sharp faces
  with room and refuses most faces blurred by 3 % or more;
* brightness: mean grey level (0-255); contrast: its standard deviation;
* face_size: the smaller side of the detector's box, pixels of the original image;
* yaw, pitch: the head pose (:func:`faceprint.detectors.pose.pose_from_68`);
* completeness: the share of dlib's 68 landmarks that lie inside the image (a face
  cut by the border loses points), and visibility: the face mesh's face-presence
  probability (low when the crop holds no face-like pattern: occluded or not a face).

``verdict`` is ``"good"`` when every limit of :data:`LIMITS` holds, else ``"poor"``,
with a reason for each limit missed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..types import Quality

if TYPE_CHECKING:
    from .base import FaceCrops

SIZE = 112
PADDING = 0.1

#: the limits of a "good" face; each names its metric
LIMITS: dict[str, float] = {
    "min_blur": 100.0,         # variance of the Laplacian of the 112-pixel grey chip
    "min_brightness": 50.0,    # mean grey level, 0-255
    "max_brightness": 210.0,
    "min_contrast": 20.0,      # standard deviation of the grey levels
    "min_face_size": 40.0,     # pixels, smaller side of the box
    "max_abs_yaw": 35.0,       # degrees
    "max_abs_pitch": 25.0,     # degrees
    "min_completeness": 0.95,  # share of the 68 landmarks inside the image
    "min_visibility": 0.5,     # face-mesh presence probability
}


def measure(crops: FaceCrops) -> list[dict[str, float | None]]:
    """The raw numbers per face (see the module docstring)."""
    import cv2

    chips = crops.dlib_chips(SIZE, PADDING)
    mesh = crops.mesh()
    h, w = crops.image.shape[:2]
    out: list[dict[str, float | None]] = []
    for face, chip, (_, presence) in zip(crops.faces, chips, mesh):
        grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
        lap = cv2.Laplacian(grey.astype(np.float64), cv2.CV_64F, ksize=3)
        if face.landmarks68 is not None:
            pts = face.landmarks68.as_array()
            inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
            completeness = float(inside.mean())
        else:
            b = face.box
            completeness = b.clip(w, h).area / b.area if b.area > 0 else 0.0
        out.append({
            "blur": float(lap.var()),
            "brightness": float(grey.mean()),
            "contrast": float(grey.std()),
            "face_size": float(min(face.box.width, face.box.height)),
            "yaw": float(face.pose.yaw) if face.pose else 0.0,
            "pitch": float(face.pose.pitch) if face.pose else 0.0,
            "completeness": completeness,
            "visibility": float(presence),
        })
    return out


def verdict(m: dict[str, float | None], limits: dict[str, float] | None = None
            ) -> tuple[str, ...]:
    """The reasons (one per limit missed) a face with numbers ``m`` is poor."""
    lim = LIMITS if limits is None else {**LIMITS, **limits}
    v = {k: float(x) for k, x in m.items() if x is not None}
    reasons = []
    if v["blur"] < lim["min_blur"]:
        reasons.append(f"blurred: variance of Laplacian {v['blur']:.0f} < {lim['min_blur']:.0f}")
    if v["brightness"] < lim["min_brightness"]:
        reasons.append(f"too dark: mean grey {v['brightness']:.0f} < "
                       f"{lim['min_brightness']:.0f}")
    if v["brightness"] > lim["max_brightness"]:
        reasons.append(f"too bright: mean grey {v['brightness']:.0f} > "
                       f"{lim['max_brightness']:.0f}")
    if v["contrast"] < lim["min_contrast"]:
        reasons.append(f"low contrast: grey std {v['contrast']:.0f} < "
                       f"{lim['min_contrast']:.0f}")
    if v["face_size"] < lim["min_face_size"]:
        reasons.append(f"face too small: {v['face_size']:.0f} px < "
                       f"{lim['min_face_size']:.0f} px")
    if abs(v["yaw"]) > lim["max_abs_yaw"]:
        reasons.append(f"head turned: |yaw| {abs(v['yaw']):.0f} > {lim['max_abs_yaw']:.0f} deg")
    if abs(v["pitch"]) > lim["max_abs_pitch"]:
        reasons.append(f"head tilted: |pitch| {abs(v['pitch']):.0f} > "
                       f"{lim['max_abs_pitch']:.0f} deg")
    if v["completeness"] < lim["min_completeness"]:
        reasons.append(f"face cut by the border: {v['completeness'] * 100:.0f} % of the "
                       f"landmarks inside < {lim['min_completeness'] * 100:.0f} %")
    if "visibility" in v and v["visibility"] < lim["min_visibility"]:
        reasons.append(f"face not clearly visible: mesh presence {v['visibility']:.2f} < "
                       f"{lim['min_visibility']:.2f}")
    return tuple(reasons)


def predict(crops: FaceCrops) -> list[Quality]:
    out = []
    for m in measure(crops):
        reasons = verdict(m)
        out.append(Quality(
            blur=float(m["blur"] or 0.0), brightness=float(m["brightness"] or 0.0),
            contrast=float(m["contrast"] or 0.0), face_size=float(m["face_size"] or 0.0),
            yaw=float(m["yaw"] or 0.0), pitch=float(m["pitch"] or 0.0),
            completeness=float(m["completeness"] or 0.0), visibility=m["visibility"],
            verdict="poor" if reasons else "good", reasons=reasons))
    return out
