"""Fit a detector's ``dlib_box_calibration`` against dlib's HOG boxes on LFW.

dlib's shape predictors were trained on the boxes dlib's HOG detector draws, so
a detector that draws its boxes differently must say how to move them onto
HOG's convention (see ``faceprint.detectors.base.BaseDetector``). This script runs
the HOG detector and detector NAME on a fixed sample of LFW images of the
people in ``peopleDevTrain.txt`` (View 1 training people only), matches their
faces one to one (IoU > 0.3), and fits ``(dx, dy, sx, sy)`` in box-relative
units::

    left' = left + dx * w,  top' = top + dy * h,  w' = sx * w,  h' = sy * h

Each matched pair gives one value per parameter (``dx = (L_hog - L) / w``,
``sx = W_hog / w``, ...); ``--fit median`` (default) takes their medians,
``--fit mean`` their means (the least-squares fit of that relative model).
It prints the fitted values, the mean IoU with HOG before and after, how far
the five landmarks dlib's 68-point predictor puts on the detector's box (raw,
then calibrated) lie from those it puts on HOG's box (mean distance as a
fraction of the distance between the eyes), and the fraction of images where
each detector finds a face.

Usage::

    python benchmarks/calibrate_boxes.py --detector blazeface
    python benchmarks/calibrate_boxes.py --detector mtcnn --count 1000 --fit mean
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

from faceprint.image import load_image
from faceprint.registry import create_detector
from faceprint.types import Box

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data"))
MATCH_IOU = 0.3


def lfw_sample(lfw: Path, people_file: str, count: int, seed: int) -> list[Path]:
    """``count`` image paths drawn (without replacement, fixed ``seed``) from all the
    images of the people listed in ``people_file`` (``NAME<TAB>N`` lines after a
    first line holding the number of people)."""
    lines = (lfw / people_file).read_text().split("\n")[1:]
    paths = []
    for line in lines:
        if not line.strip():
            continue
        name, n = line.split("\t")
        paths += [lfw / "images" / name / f"{name}_{i:04d}.jpg" for i in range(1, int(n) + 1)]
    rng = random.Random(seed)
    return sorted(rng.sample(paths, min(count, len(paths))))


def match(boxes: list[Box], refs: list[Box]) -> list[tuple[Box, Box]]:
    """One-to-one pairs ``(box, ref)`` with IoU > MATCH_IOU, best pairs first."""
    pairs = sorted(((b.iou(r), i, j) for i, b in enumerate(boxes) for j, r in enumerate(refs)),
                   reverse=True)
    used_b: set[int] = set()
    used_r: set[int] = set()
    out = []
    for iou, i, j in pairs:
        if iou <= MATCH_IOU:
            break
        if i in used_b or j in used_r:
            continue
        used_b.add(i)
        used_r.add(j)
        out.append((boxes[i], refs[j]))
    return out


def relative_offsets(box: Box, ref: Box) -> tuple[float, float, float, float]:
    """``(dx, dy, sx, sy)`` that move ``box`` exactly onto ``ref``."""
    return ((ref.left - box.left) / box.width, (ref.top - box.top) / box.height,
            ref.width / box.width, ref.height / box.height)


def apply(box: Box, calib: tuple[float, float, float, float]) -> Box:
    dx, dy, sx, sy = calib
    return Box(box.left + dx * box.width, box.top + dy * box.height,
               sx * box.width, sy * box.height)


def landmark_agreement(paths: list[Path], pairs: list[tuple[Box, Box]],
                       calib: tuple[float, float, float, float]) -> tuple[float, float]:
    """Mean distance between the five landmarks dlib's 68-point predictor finds on
    the reference box and those it finds on the detector's raw and calibrated
    box, as a fraction of the reference's eye distance."""
    from faceprint.detectors.shape import landmarks_from_shape

    raw, cal = [], []
    for path, (box, ref) in zip(paths, pairs, strict=True):
        image = load_image(path)
        ref_pts, raw_pts, cal_pts = landmarks_from_shape(image, [ref, box, apply(box, calib)])
        eyes = float(np.linalg.norm(ref_pts[0] - ref_pts[1]))
        raw.append(np.linalg.norm(raw_pts - ref_pts, axis=1).mean() / eyes)
        cal.append(np.linalg.norm(cal_pts - ref_pts, axis=1).mean() / eyes)
    return float(np.mean(raw)), float(np.mean(cal))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detector", required=True, help="registered detector name")
    parser.add_argument("--reference", default="hog",
                        help="detector whose boxes to match (default: hog)")
    parser.add_argument("--count", type=int, default=500, help="LFW images (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--people", default="peopleDevTrain.txt",
                        help="LFW people list to sample from (default peopleDevTrain.txt)")
    parser.add_argument("--fit", choices=("median", "mean"), default="median")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"shared data folder holding lfw/ (default {DEFAULT_DATA})")
    args = parser.parse_args(argv)

    lfw = args.data / "lfw"
    if not (lfw / args.people).is_file():
        print(f"error: {lfw / args.people} not found (see --data)", file=sys.stderr)
        return 2
    paths = lfw_sample(lfw, args.people, args.count, args.seed)
    detector = create_detector(args.detector, landmarks=False)
    reference = create_detector(args.reference, landmarks=False)

    rows: list[tuple[float, float, float, float]] = []
    pairs: list[tuple[Box, Box]] = []
    pair_paths: list[Path] = []
    found = found_ref = 0
    seconds = seconds_ref = 0.0
    for path in paths:
        image = load_image(path)
        t0 = time.perf_counter()
        boxes = [f.box for f in detector.detect(image)]
        t1 = time.perf_counter()
        refs = [f.box for f in reference.detect(image)]
        seconds += t1 - t0
        seconds_ref += time.perf_counter() - t1
        found += bool(boxes)
        found_ref += bool(refs)
        for box, ref in match(boxes, refs):
            pairs.append((box, ref))
            pair_paths.append(path)
            rows.append(relative_offsets(box, ref))

    n = len(paths)
    print(f"{n} LFW images from {args.people} (seed {args.seed})")
    print(f"  {args.detector}: face found in {found / n:.1%}, "
          f"{seconds / n * 1000:.1f} ms per image (mean)")
    print(f"  {args.reference}: face found in {found_ref / n:.1%}, "
          f"{seconds_ref / n * 1000:.1f} ms per image (mean)")
    if not rows:
        print("no matched faces: nothing to fit", file=sys.stderr)
        return 1
    values = np.asarray(rows)
    fitted = np.median(values, axis=0) if args.fit == "median" else values.mean(axis=0)
    calib = (float(fitted[0]), float(fitted[1]), float(fitted[2]), float(fitted[3]))
    before = np.mean([b.iou(r) for b, r in pairs])
    after = np.mean([apply(b, calib).iou(r) for b, r in pairs])
    spread = np.percentile(values, [25, 75], axis=0)
    print(f"  {len(pairs)} matched faces (IoU > {MATCH_IOU})")
    print(f"  fit ({args.fit}): dx={calib[0]:.4f} dy={calib[1]:.4f} "
          f"sx={calib[2]:.4f} sy={calib[3]:.4f}")
    names = ("dx", "dy", "sx", "sy")
    print("  interquartile range: " + " ".join(
        f"{k}=[{lo:.3f}, {hi:.3f}]" for k, lo, hi in zip(names, *spread, strict=True)))
    print(f"  mean IoU with {args.reference}: before {before:.4f}, after {after:.4f}")
    raw_err, cal_err = landmark_agreement(pair_paths, pairs, calib)
    print(f"  landmark distance from those on {args.reference}'s box (mean, fraction of the "
          f"eye distance): raw box {raw_err:.4f}, calibrated box {cal_err:.4f}")
    print(f"  dlib_box_calibration = ({calib[0]:.4f}, {calib[1]:.4f}, "
          f"{calib[2]:.4f}, {calib[3]:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
