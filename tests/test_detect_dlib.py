"""The dlib and OpenCV detectors (haar, hog, cnn) on real photos: faces found,
boxes in (left, top, width, height) pixels, landmarks and pose filled, no face
on the dogs, options honoured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint import UnknownNameError, load_image
from faceprint.eval.detection import match_boxes, read_dlib_xml
from faceprint.registry import create_detector
from faceprint.types import Box


def _photos(photos_dir: Path) -> dict[Path, list[Box]]:
    truth = read_dlib_xml(photos_dir / "training.xml")
    truth.update(read_dlib_xml(photos_dir / "testing.xml"))
    return truth


@pytest.mark.parametrize("name", ["haar", "hog", "cnn"])
def test_astronaut_face_has_box_landmarks_and_pose(name: str, astronaut: np.ndarray) -> None:
    faces = create_detector(name).detect(astronaut)
    assert faces, f"{name} found no face in the astronaut photo"
    face = max(faces, key=lambda f: f.box.area)
    # the face of Eileen Collins spans about x 175..265, y 76..166 (hog's box)
    assert face.box.iou(Box(175, 76, 91, 91)) > 0.5
    assert face.landmarks is not None and face.pose is not None
    p = face.landmarks.as_array()
    assert p[0, 0] < p[1, 0]  # image-left eye first
    assert p[:2, 1].max() < p[2, 1] < p[3:, 1].min()  # eyes above nose above mouth
    assert abs(face.pose.roll) < 10 and abs(face.pose.yaw) < 20
    assert face.detector == name


@pytest.mark.parametrize("name", ["haar", "hog", "cnn"])
def test_no_face_in_dogs(name: str, photos_dir: Path) -> None:
    assert create_detector(name).detect(load_image(photos_dir / "dogs.jpg")) == []


def test_hog_boxes_golden(photos_dir: Path) -> None:
    # golden values from: faceprint detect ../shared/data/photos/multiface.jpg --json
    faces = create_detector("hog").detect(load_image(photos_dir / "multiface.jpg"))
    assert len(faces) == 6
    assert faces[0].box == Box(424, 146, 91, 91)
    assert faces[0].score == pytest.approx(2.40, abs=0.01)


@pytest.mark.parametrize("name,min_recall", [("hog", 0.6), ("cnn", 0.9)])
def test_recall_on_hand_boxed_photos(name: str, min_recall: float, photos_dir: Path) -> None:
    detector = create_detector(name)
    total = None
    for path, truths in _photos(photos_dir).items():
        found = [f.box for f in detector.detect(load_image(path))]
        count = match_boxes(found, truths, 0.4)
        total = count if total is None else total + count
    assert total is not None
    assert total.true_positives + total.misses == 43
    assert total.recall >= min_recall, total


def test_options_min_size_max_faces_threshold(photos_dir: Path) -> None:
    image = load_image(photos_dir / "multiface.jpg")
    assert len(create_detector("hog", max_faces=2).detect(image)) == 2
    assert create_detector("hog", min_face_size=200).detect(image) == []
    assert len(create_detector("hog", threshold=2.0).detect(image)) == 3
    plain = create_detector("hog", landmarks=False).detect(image)
    assert plain[0].landmarks is None and plain[0].pose is None


def test_mirrored_face_mirrors_yaw_and_roll(astronaut: np.ndarray) -> None:
    det = create_detector("hog")
    a = det.detect(astronaut)[0].pose
    b = det.detect(np.ascontiguousarray(astronaut[:, ::-1]))[0].pose
    assert a is not None and b is not None
    # the astronaut looks into the camera: yaw is near 0 both ways (hog: +0.01 and
    # +0.02 with the 3-D fit); turned faces are checked in tests/test_pose.py
    assert a.roll * b.roll < 0 and abs(a.yaw + b.yaw) < 2 and abs(a.roll + b.roll) < 1.5


def test_unknown_detector_name() -> None:
    with pytest.raises(UnknownNameError, match="unknown detector 'nope'; choose one of: haar"):
        create_detector("nope")
