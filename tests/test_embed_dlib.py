"""The dlib-resnet embedder: faceprint's embeddings equal dlib's own
compute_face_descriptor on the same faces; distances behave on real pairs."""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
import pytest

import faceprint
from faceprint import NoFaceError, Pipeline, load_image
from faceprint.weights import weight_path


@pytest.fixture(scope="module")
def dlib_reference() -> tuple[object, object, object]:
    return (dlib.get_frontal_face_detector(), dlib.shape_predictor(str(weight_path("dlib-sp5"))),
            dlib.face_recognition_model_v1(str(weight_path("dlib-resnet"))))


def _dlib_descriptors(image: np.ndarray, ref: tuple[object, object, object]) -> np.ndarray:
    det, sp, fr = ref
    rects = det.run(image, 1, -0.2)[0]  # type: ignore[attr-defined]  # hog's default threshold
    return np.array([fr.compute_face_descriptor(image, sp(image, r))  # type: ignore[attr-defined]
                     for r in rects])


def test_embeddings_equal_dlibs_on_astronaut(astronaut: np.ndarray,
                                             dlib_reference: tuple[object, object, object]
                                             ) -> None:
    ours = faceprint.embed(astronaut, detector="hog")
    theirs = _dlib_descriptors(astronaut, dlib_reference)
    assert ours.shape == theirs.shape == (3, 128)  # her face and two weak hog hits on the suit
    assert np.abs(ours - theirs).max() < 1e-4


def test_embeddings_equal_dlibs_on_lfw(lfw_dir: Path,
                                       dlib_reference: tuple[object, object, object]) -> None:
    paths = sorted((lfw_dir / "images").glob("C*/*_0001.jpg"))[:25]
    worst, faces = 0.0, 0
    for path in paths:
        image = load_image(path)
        ours = faceprint.embed(image, detector="hog")
        theirs = _dlib_descriptors(image, dlib_reference)
        assert ours.shape == theirs.shape
        if len(ours):
            worst = max(worst, float(np.abs(ours - theirs).max()))
            faces += len(ours)
    assert faces >= 20
    assert worst < 1e-4


def test_same_person_is_closer_than_strangers(lfw_dir: Path) -> None:
    img = lfw_dir / "images"
    pipe = Pipeline()
    same = pipe.compare(img / "Colin_Powell/Colin_Powell_0001.jpg",
                        img / "Colin_Powell/Colin_Powell_0005.jpg")
    different = pipe.compare(img / "Colin_Powell/Colin_Powell_0001.jpg",
                             img / "Serena_Williams/Serena_Williams_0001.jpg")
    assert same.same and not different.same
    assert same.distance < 0.5 and different.distance > 0.75
    assert same.metric == "euclidean" and same.threshold == pytest.approx(0.6130)


def test_flip_and_jitter_average_stay_close(astronaut: np.ndarray) -> None:
    plain = Pipeline().embed_largest(astronaut).embedding
    flipped = Pipeline(flip=True).embed_largest(astronaut).embedding
    jittered = Pipeline(jitter=3).embed_largest(astronaut).embedding
    for other in (flipped, jittered):
        d = float(np.linalg.norm(other - plain))
        assert 1e-4 < d < 0.25


def test_compare_names_the_image_without_a_face(photos_dir: Path, astronaut: np.ndarray
                                                ) -> None:
    with pytest.raises(NoFaceError, match="dogs.jpg: no face found"):
        Pipeline().compare(astronaut, photos_dir / "dogs.jpg")
