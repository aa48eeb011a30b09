"""Detection on real photos with yunet and centerface, faces that fill the frame (a
tight grey crop made from a real LFW image), and the whole-image path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint.detectors.base import DetectorOptions
from faceprint.eval.detection import match_boxes
from faceprint.image import load_image
from faceprint.pipeline import Pipeline
from faceprint.registry import DEFAULT_DETECTOR, create_detector
from faceprint.types import Box

#: the six faces of multiface.jpg, (left, top, width, height), counted and boxed by
#: eye on a drawing of the photo (the six people on the steps; no other face shows)
MULTIFACE_TRUTH = [Box(226, 247, 81, 110), Box(423, 130, 82, 113), Box(553, 46, 80, 113),
                   Box(623, 200, 73, 100), Box(723, 470, 76, 100), Box(862, 443, 87, 114)]

#: LFW's Dick_Cheney_0001.jpg (an older man with glasses) cut to (83, 78)-(159, 171):
#: eyebrows to just under the mouth, the chin cut by the lower edge, then made grey
#: and resized to 92 x 112 (the size of the AT&T/ORL face crops)
TIGHT_SOURCE = "Dick_Cheney/Dick_Cheney_0001.jpg"
TIGHT_CROP = (83, 78, 159, 171)


def tight_crop(lfw_dir: Path) -> np.ndarray:
    import cv2

    image = load_image(lfw_dir / "images" / TIGHT_SOURCE)
    left, top, right, bottom = TIGHT_CROP
    grey = cv2.cvtColor(np.ascontiguousarray(image[top:bottom, left:right]),
                        cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (92, 112), interpolation=cv2.INTER_AREA)
    return np.repeat(grey[:, :, None], 3, axis=2)


@pytest.mark.parametrize("name", ["yunet", "centerface"])
def test_multiface_six_faces_and_dogs_none(photos_dir: Path, name: str) -> None:
    detector = create_detector(name)
    faces = detector.detect(load_image(photos_dir / "multiface.jpg"))
    count = match_boxes([f.box for f in faces], MULTIFACE_TRUTH, 0.4)
    assert len(faces) == 6 and count.true_positives == 6
    for f in faces:  # five landmarks inside each box
        assert f.landmarks is not None
        pts = f.landmarks.as_array()
        assert (pts[:, 0] > f.box.left).all() and (pts[:, 0] < f.box.right).all()
        assert (pts[:, 1] > f.box.top).all() and (pts[:, 1] < f.box.bottom).all()
    assert detector.detect(load_image(photos_dir / "dogs.jpg")) == []


@pytest.mark.parametrize("name", ["yunet", "centerface"])
def test_hand_boxed_group_photos(photos_dir: Path, name: str) -> None:
    """Every hand-boxed face of the nine group photos at IoU >= 0.4 after the dlib box
    calibration (their boxes are drawn in dlib's convention), and no false positive."""
    from faceprint.eval.detection import read_dlib_xml

    truth = read_dlib_xml(photos_dir / "training.xml") | read_dlib_xml(photos_dir / "testing.xml")
    detector = create_detector(name)
    total = None
    for path, boxes in truth.items():
        found = [detector.to_dlib_box(f.box) for f in detector.detect(load_image(path))]  # type: ignore[attr-defined]
        c = match_boxes(found, boxes, 0.4)
        total = c if total is None else total + c
    assert total is not None
    assert total.recall >= 0.95, total
    assert total.false_positives <= 1, total


def test_tight_crop_is_found_by_the_default_pipeline(lfw_dir: Path) -> None:
    crop = tight_crop(lfw_dir)
    assert crop.shape == (112, 92, 3)
    # without the padded second search the default detector misses it ...
    assert create_detector(DEFAULT_DETECTOR, pad=0).detect(crop) == []
    # ... with it (the default), the face is found and lies on the crop
    for name in (DEFAULT_DETECTOR, "yunet", "mtcnn", "hog"):
        faces = create_detector(name).detect(crop)
        assert len(faces) == 1, name
        b = faces[0].box
        assert b.width > 40 and b.left < 46 < b.right and b.top < 56 < b.bottom, (name, b)
    # and enrolment's step (the largest face and its embedding) works
    got = Pipeline().embed_largest(crop)
    assert got.embedding.shape == (128,)


def test_padding_changes_nothing_when_a_face_is_found(lfw_dir: Path) -> None:
    image = load_image(lfw_dir / "images" / TIGHT_SOURCE)
    a = create_detector("yunet").detect(image)
    b = create_detector("yunet", pad=0).detect(image)
    assert [f.box for f in a] == [f.box for f in b] and len(a) == 1
    with pytest.raises(ValueError):
        DetectorOptions(pad=-1)


def test_whole_image_treats_the_image_as_one_face(lfw_dir: Path) -> None:
    """whole_image=True: no detection, one face over the whole crop, and the tight
    crop's embedding is nearer another photo of the same man than of another man."""
    crop = tight_crop(lfw_dir)
    pipe = Pipeline(embedder="sface", whole_image=True)
    found = pipe.analyze(crop)
    assert len(found) == 1
    assert found[0].face.box == Box(0.0, 0.0, 92.0, 112.0)
    assert found[0].face.detector == "whole-image"
    ref = Pipeline(embedder="sface")
    same = ref.embed_largest(lfw_dir / "images" / "Dick_Cheney/Dick_Cheney_0002.jpg")
    other = ref.embed_largest(lfw_dir / "images" / "Colin_Powell/Colin_Powell_0001.jpg")
    d_same = ref.distance(found[0].embedding, same.embedding)
    d_other = ref.distance(found[0].embedding, other.embedding)
    assert d_same < d_other


def test_cli_whole_image(lfw_dir: Path, tmp_path: Path) -> None:
    import cv2

    from faceprint.cli import main

    path = tmp_path / "chip.png"
    cv2.imwrite(str(path), tight_crop(lfw_dir))
    assert main(["embed", str(path), "--whole-image", "--out", str(tmp_path / "e.npz")]) == 0
    with np.load(tmp_path / "e.npz") as z:
        assert len(z["embeddings"] if "embeddings" in z else z[z.files[0]]) >= 1
