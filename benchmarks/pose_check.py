"""Checks of faceprint's head pose against what is known without labels.

1. In-plane rotation: real photos (LFW and the astronaut) turned counter-clockwise
   by known angles must move roll by the same angle (error = measured change - angle).
2. Mirroring: a mirrored face must get the opposite yaw (and roll).
3. LFW is mostly frontal: the median |yaw| and |pitch| over many LFW images must be
   small; the five-landmark estimate that came before is printed beside it.
4. A plot of yaw against the eyes' horizontal asymmetry (the image-right eye's width
   minus the image-left eye's, over their sum: a face turned to its left shows its
   left eye, on the image's right, narrower).

    PYTHONPATH=src nice -n 5 python benchmarks/pose_check.py --every 3 --rotate 40 \\
        --plot build/pose_yaw_asymmetry.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import cv2
    from skimage import data

    from faceprint.detectors.pose import estimate_pose
    from faceprint.image import load_image
    from faceprint.registry import DEFAULT_DETECTOR, create_detector
    from faceprint.types import Face
    from faceprint.viz import _pyplot, _save

    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", default="../shared/data/lfw/images")
    ap.add_argument("--detector", default=DEFAULT_DETECTOR)
    ap.add_argument("--every", type=int, default=3, help="every k-th LFW image")
    ap.add_argument("--rotate", type=int, default=40, help="LFW images for the rotation test")
    ap.add_argument("--plot", default="build/pose_yaw_asymmetry.png")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    det = create_detector(args.detector)
    files = sorted(Path(args.lfw).glob("*/*.jpg"))

    def biggest(image: np.ndarray) -> Face | None:
        faces = det.detect(image)
        return max(faces, key=lambda f: f.box.area) if faces else None

    # 1. rotation
    angles = [-30, -20, -10, 10, 20, 30]
    rot_files = files[:: max(1, len(files) // args.rotate)][: args.rotate]
    images = [("astronaut", np.ascontiguousarray(data.astronaut()))] + [
        (p.name, load_image(p)) for p in rot_files]
    errors: dict[int, list[float]] = {a: [] for a in angles}
    eye_errors: list[float] = []  # the same for the eye line of the five landmarks

    def eye_angle(face: Face) -> float:
        assert face.landmarks is not None
        (lx, ly), (rx, ry) = face.landmarks.points[:2]
        return float(np.degrees(np.arctan2(-(ry - ly), rx - lx)))

    for _, image in images:
        base = biggest(image)
        if base is None or base.pose is None:
            continue
        h, w = image.shape[:2]
        for a in angles:
            m = cv2.getRotationMatrix2D((w / 2, h / 2), a, 1.0)  # a > 0: counter-clockwise
            turned = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            face = biggest(turned)
            if face is None or face.pose is None:
                continue
            change = (face.pose.roll - base.pose.roll + 180) % 360 - 180
            errors[a].append(change - a)
            eye_errors.append((eye_angle(face) - eye_angle(base) + 180) % 360 - 180 - a)
    all_err = np.concatenate([np.array(v) for v in errors.values()])
    print(f"rotation: {len(images)} photos x {len(angles)} angles, {len(all_err)} found; "
          f"roll change - angle: mean {all_err.mean():+.2f}, median |err| "
          f"{np.median(np.abs(all_err)):.2f}, 95th pct |err| "
          f"{np.percentile(np.abs(all_err), 95):.2f}, max |err| {np.abs(all_err).max():.2f} deg")
    eye = np.abs(eye_errors)
    print(f"  the eye line of the five landmarks alone: median |err| "
          f"{np.median(eye):.2f}, 95th pct {np.percentile(eye, 95):.2f}")
    for a in angles:
        e = np.array(errors[a])
        print(f"  {a:+d} deg: n={len(e)} mean err {e.mean():+.2f} median |err| "
              f"{np.median(np.abs(e)):.2f}")

    # 2-4. LFW sweep with mirror
    sample = files[:: args.every]
    yaw, pitch, roll, myaw, mroll, old_pitch, old_yaw, asym = ([] for _ in range(8))
    missing = 0
    for p in sample:
        image = load_image(p)
        face = biggest(image)
        mface = biggest(np.ascontiguousarray(image[:, ::-1]))
        if face is None or mface is None or face.pose is None or mface.pose is None \
                or face.landmarks68 is None or face.landmarks is None:
            missing += 1
            continue
        yaw.append(face.pose.yaw)
        pitch.append(face.pose.pitch)
        roll.append(face.pose.roll)
        myaw.append(mface.pose.yaw)
        mroll.append(mface.pose.roll)
        old = estimate_pose(face.landmarks.as_array())
        old_pitch.append(old.pitch)
        old_yaw.append(old.yaw)
        pts = face.landmarks68.as_array()
        wl = np.linalg.norm(pts[39] - pts[36])
        wr = np.linalg.norm(pts[45] - pts[42])
        asym.append((wr - wl) / (wr + wl))
    y, pi, my = np.array(yaw), np.array(pitch), np.array(myaw)
    turned = np.abs(y) > 5
    print(f"LFW: {len(sample)} images (every {args.every}th), {len(y)} with a face in the "
          f"image and its mirror ({missing} without)")
    print(f"  median |yaw| {np.median(np.abs(y)):.2f} deg, median |pitch| "
          f"{np.median(np.abs(pi)):.2f} deg, median |roll| {np.median(np.abs(roll)):.2f}; "
          f"median pitch {np.median(pi):+.2f}, median yaw {np.median(y):+.2f}")
    print(f"  five-landmark estimate before: median |pitch| "
          f"{np.median(np.abs(old_pitch)):.2f}, median pitch {np.median(old_pitch):+.2f}")
    flips = np.mean(np.sign(y[turned]) != np.sign(my[turned])) * 100
    print(f"  mirror: yaw sign flipped on {flips:.1f}"
          f" % of {turned.sum()} faces with |yaw| > 5; median |yaw + mirrored yaw| "
          f"{np.median(np.abs(y + my)):.2f} deg; median |roll + mirrored roll| "
          f"{np.median(np.abs(np.array(roll) + np.array(mroll))):.2f}")
    a = np.array(asym)
    r = float(np.corrcoef(a, y)[0, 1])
    print(f"  correlation of yaw with eye asymmetry: {r:+.3f}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(a, y, s=3, alpha=0.4)
    ax.set_xlabel("eye width asymmetry (right - left) / (right + left), image sides")
    ax.set_ylabel("yaw (deg; + = face turns to its left)")
    ax.set_title(f"LFW, {len(y)} faces, {args.detector}: r = {r:+.2f}")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    print(f"wrote {_save(fig, args.plot)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rotation_errors": all_err.tolist()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
