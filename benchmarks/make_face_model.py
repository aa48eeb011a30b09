"""Build the mean 3-D shape of dlib's 68 landmarks that faceprint's head pose fits.

For each of N LFW images (the first image of every k-th person, default detector), the
68 points come from dlib's 68-point predictor and the depth of each from the
468-point face mesh (MediaPipe Face Mesh: the z of the mesh surface under the point,
interpolated linearly over the mesh's triangulation in the image plane). Each face
is moved to its centroid, scaled to an eye distance of 63 mm and turned so that its
eyes are level (in-plane only: no 3-D rotation); the faces are averaged together
with their mirror images, so the model is left-right symmetric and "pitch 0" is the
average viewpoint of LFW's photographers. Axes: x to the image's right, y down, z
away from the camera (millimetres).

    PYTHONPATH=src nice -n 5 python benchmarks/make_face_model.py --people-step 12

prints the array pasted into ``faceprint/detectors/pose.py`` (MODEL_68).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

#: index of each 68-point landmark's mirror image (iBUG 300-W numbering)
MIRROR_68 = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31] + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])


def main(argv: list[str] | None = None) -> int:
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator

    from faceprint._dlib import shape_points, shape_predictor, to_rectangle
    from faceprint.attributes.mesh import face_mesh
    from faceprint.image import load_image
    from faceprint.registry import create_detector

    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", default="../shared/data/lfw/images")
    ap.add_argument("--people-step", type=int, default=12)
    args = ap.parse_args(argv)
    people = sorted(p for p in Path(args.lfw).iterdir() if p.is_dir())[:: args.people_step]
    det = create_detector()
    sp = shape_predictor("dlib-sp68")
    shapes = []
    for person in people:
        path = sorted(person.glob("*.jpg"))[0]
        image = load_image(path)
        faces = det.detect(image)
        if not faces:
            continue
        face = max(faces, key=lambda f: f.box.area)
        pts = shape_points(sp(image, to_rectangle(det.to_dlib_box(face.box))))  # type: ignore[attr-defined]
        mesh, presence = face_mesh(image, [face])[0]
        if presence < 0.9:
            continue
        z = LinearNDInterpolator(mesh[:, :2], mesh[:, 2])(pts)
        bad = np.isnan(z)
        z[bad] = NearestNDInterpolator(mesh[:, :2], mesh[:, 2])(pts[bad])
        p3 = np.column_stack([pts, z])
        p3 -= p3.mean(axis=0)
        eye_l, eye_r = p3[36:42].mean(axis=0), p3[42:48].mean(axis=0)
        d = eye_r[:2] - eye_l[:2]
        a = -np.arctan2(d[1], d[0])
        c, s = np.cos(a), np.sin(a)
        p3[:, :2] = p3[:, :2] @ np.array([[c, s], [-s, c]])
        p3 *= 63.0 / np.linalg.norm(d)
        shapes.append(p3)
        mirrored = p3[MIRROR_68] * np.array([-1.0, 1.0, 1.0])
        shapes.append(mirrored)
    model = np.mean(shapes, axis=0)
    model -= model.mean(axis=0)
    print(f"# {len(shapes) // 2} faces (and their mirror images), people step "
          f"{args.people_step}", file=sys.stderr)
    print("MODEL_68 = np.array([")
    for row in model:
        print(f"    [{row[0]:.1f}, {row[1]:.1f}, {row[2]:.1f}],")
    print("])")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
