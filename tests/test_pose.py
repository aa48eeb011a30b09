"""Head pose from a 3-D face fitted to dlib's 68 landmarks: the conventions of
faceprint.types (yaw + = face turns to its left / nose to the image's right, pitch + =
up, roll + = counter-clockwise on screen), checked on synthetic projections of the
model and on real photos (frontal astronaut and LFW, in-plane rotation, mirroring).
The wider evidence is benchmarks/pose_check.py (docs/attributes.md)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceprint.detectors.pose import (
    MODEL_68,
    angles_from_rotation,
    camera_matrix,
    pose_from_68,
    rotation_from_angles,
)
from faceprint.image import load_image
from faceprint.registry import create_detector
from faceprint.types import Pose


def _project(pose: Pose, width: int = 400, height: int = 400,
             centre: tuple[float, float, float] = (0.0, 0.0, 900.0)) -> np.ndarray:
    rvec, _ = cv2.Rodrigues(rotation_from_angles(pose))
    pts, _ = cv2.projectPoints(MODEL_68, rvec, np.array(centre).reshape(3, 1),
                               camera_matrix(width, height), None)
    return pts.reshape(-1, 2)


@pytest.mark.parametrize("angles", [(0, 0, 0), (25, -10, 15), (-30, 20, -5), (10, 30, 40)])
def test_synthetic_faces_give_back_their_angles(angles: tuple[float, float, float]) -> None:
    truth = Pose(*angles)
    back = angles_from_rotation(rotation_from_angles(truth))
    assert (back.yaw, back.pitch, back.roll) == pytest.approx(angles, abs=1e-9)
    got = pose_from_68(_project(truth), 400, 400)
    assert (got.yaw, got.pitch, got.roll) == pytest.approx(angles, abs=1e-3)


def test_signs_follow_the_documented_conventions() -> None:
    def nose_minus_eyes(p: np.ndarray) -> np.ndarray:
        return p[30] - (p[36:42].mean(axis=0) + p[42:48].mean(axis=0)) / 2

    assert nose_minus_eyes(_project(Pose(20, 0, 0)))[0] > 5  # nose to the image's right
    up, level = _project(Pose(0, 15, 0)), _project(Pose(0, 0, 0))
    assert nose_minus_eyes(up)[1] < nose_minus_eyes(level)[1] - 3  # nose rises
    ccw = _project(Pose(0, 0, 10))
    assert ccw[45, 1] < ccw[36, 1] - 5  # the image-right eye rises


def test_a_face_looking_into_the_lens_is_frontal_anywhere_in_the_picture() -> None:
    # the model placed high and to the left, turned so that it faces the camera
    centre = np.array([-300.0, -250.0, 900.0])
    ray = centre / np.linalg.norm(centre)
    from faceprint.detectors.pose import line_of_sight

    rot = line_of_sight(ray).T  # turns the face from the optical axis onto the ray
    rvec, _ = cv2.Rodrigues(rot)
    pts, _ = cv2.projectPoints(MODEL_68, rvec, centre.reshape(3, 1), camera_matrix(800, 800),
                               None)
    got = pose_from_68(pts.reshape(-1, 2), 800, 800)
    assert (got.yaw, got.pitch, got.roll) == pytest.approx((0, 0, 0), abs=1e-3)


@pytest.mark.parametrize("name", ["blazeface-onet", "hog", "mtcnn"])
def test_astronaut_looking_at_the_camera_is_frontal(name: str, astronaut: np.ndarray) -> None:
    # before the 3-D fit, five landmarks put this face's pitch at -16 (and frontal
    # selfies at -33); measured with the fit: yaw -0.5, pitch -2.0, roll -3.1
    pose = create_detector(name).detect(astronaut)[0].pose
    assert pose is not None
    assert abs(pose.yaw) < 6 and abs(pose.pitch) < 8 and abs(pose.roll) < 8


def test_in_plane_rotation_moves_roll_by_the_angle(astronaut: np.ndarray) -> None:
    det = create_detector()
    base = det.detect(astronaut)[0].pose
    assert base is not None
    h, w = astronaut.shape[:2]
    for angle in (-20, 15):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)  # + = counter-clockwise
        turned = cv2.warpAffine(astronaut, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        pose = det.detect(turned)[0].pose
        assert pose is not None
        assert pose.roll - base.roll == pytest.approx(angle, abs=3.0)
        assert abs(pose.yaw - base.yaw) < 5 and abs(pose.pitch - base.pitch) < 5


def test_mirroring_flips_yaw_and_roll_on_lfw(lfw_dir: Path) -> None:
    det = create_detector()
    files = sorted((lfw_dir / "images").glob("*/*.jpg"))[::600][:20]
    flipped = 0
    pitches, yaw_sums, roll_sums = [], [], []
    for p in files:
        image = load_image(p)
        a = max(det.detect(image), key=lambda f: f.box.area).pose
        b = max(det.detect(np.ascontiguousarray(image[:, ::-1])), key=lambda f: f.box.area).pose
        assert a is not None and b is not None
        yaw_sums.append(abs(a.yaw + b.yaw))
        roll_sums.append(abs(a.roll + b.roll))
        flipped += abs(a.yaw) > 3 and np.sign(a.yaw) != np.sign(b.yaw)
        pitches.append(abs(a.pitch))
    assert flipped >= 5
    # landmarks differ a little on a mirrored photo: the sums are near 0, not exactly
    assert float(np.median(yaw_sums)) < 2.5 and max(yaw_sums) < 10
    assert float(np.median(roll_sums)) < 1.5 and max(roll_sums) < 4
    assert float(np.median(pitches)) < 10  # LFW is mostly frontal


def test_degenerate_points_fall_back_without_error() -> None:
    pose = pose_from_68(np.zeros((68, 2)), 100, 100)
    assert all(np.isfinite([pose.yaw, pose.pitch, pose.roll]))
