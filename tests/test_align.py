"""Alignment: the similarity transform, dlib's chip convention reproduced
exactly, landmark templates, jitter."""

from __future__ import annotations

import math
from pathlib import Path

import dlib
import numpy as np
import pytest

from faceprint import load_image
from faceprint._dlib import shape_points, shape_predictor, to_rectangle
from faceprint.align import (
    ARCFACE_112_TEMPLATE,
    dlib_chip_rect,
    dlib_chips,
    jitter,
    landmark_chips,
    similarity_transform,
)
from faceprint.registry import create_detector


def test_similarity_transform_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, size=(5, 2))
    angle, scale, shift = math.radians(17), 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)],
                            [math.sin(angle), math.cos(angle)]])
    dst = src @ rot.T + shift
    m = similarity_transform(src, dst)
    assert np.allclose(m[:, :2], rot) and np.allclose(m[:, 2], shift)
    # a mirror image is not a similarity: no reflection in the answer
    mirrored = similarity_transform(src, dst * np.array([-1.0, 1.0]))
    assert np.linalg.det(mirrored[:, :2]) > 0


def _faces(photos_dir: Path, astronaut: np.ndarray) -> list[tuple[np.ndarray, object]]:
    det = create_detector("hog", landmarks=False)
    out = []
    for image in [astronaut, load_image(photos_dir / "multiface.jpg"),
                  load_image(photos_dir / "2008_002506.jpg")]:
        out += [(image, f.box) for f in det.detect(image)]
    return out


def test_dlib_chip_rect_and_pixels_equal_dlibs(photos_dir: Path, astronaut: np.ndarray) -> None:
    sp5 = shape_predictor("dlib-sp5")
    faces = _faces(photos_dir, astronaut)
    assert len(faces) >= 10
    for image, box in faces:
        shape = sp5(image, to_rectangle(box))  # type: ignore[arg-type]
        theirs = dlib.get_face_chip_details(shape, 150, 0.25)
        (left, top, right, bottom), angle = dlib_chip_rect(shape_points(shape), 150, 0.25)
        assert theirs.rect.left() == pytest.approx(left, abs=1e-9)
        assert theirs.rect.top() == pytest.approx(top, abs=1e-9)
        assert theirs.rect.right() == pytest.approx(right, abs=1e-9)
        assert theirs.rect.bottom() == pytest.approx(bottom, abs=1e-9)
        assert theirs.angle == pytest.approx(angle, abs=1e-12)
        ours = dlib_chips(image, [box])[0]  # type: ignore[list-item]
        assert np.array_equal(ours, dlib.get_face_chip(image, shape, 150, 0.25))


def test_landmark_chip_puts_landmarks_on_the_template(astronaut: np.ndarray) -> None:
    face = create_detector("hog").detect(astronaut)[0]
    assert face.landmarks is not None
    pts = face.landmarks.as_array()
    chip = landmark_chips(astronaut, [pts], 112, ARCFACE_112_TEMPLATE)[0]
    assert chip.shape == (112, 112, 3)
    m = similarity_transform(pts, np.array(ARCFACE_112_TEMPLATE))
    mapped = np.c_[pts, np.ones(5)] @ m.T
    # a least-squares fit of five points: eyes within a few chip pixels; the
    # smiling mouth further (the template's mouth is a neutral one)
    error = np.linalg.norm(mapped - np.array(ARCFACE_112_TEMPLATE), axis=1)
    assert error[:2].max() < 4 and error.mean() < 6
    # the warp used that transform: the chip's pixel at the mapped nose is the
    # image's pixel at the nose
    nx, ny = mapped[2]
    x, y = pts[2]
    assert np.abs(chip[round(ny), round(nx)].astype(int)
                  - astronaut[round(y), round(x)]).max() < 40
    # the chip is the face: skin-coloured centre, not the black border
    assert chip[40:80, 30:80].mean() > 60


def test_jitter_is_seeded_and_varied(astronaut: np.ndarray) -> None:
    chip = dlib_chips(astronaut, [create_detector("hog").detect(astronaut)[0].box])[0]
    a, b = jitter(chip, 5, seed=3), jitter(chip, 5, seed=3)
    assert a.shape == (5, 150, 150, 3) and np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])
    assert np.abs(a.astype(int) - chip).mean() < 40  # perturbed, still the same face
