"""The head pose and dlib's 68 points are computed only when asked: faces found with
``pose=False`` and completed later (``add_pose``) equal the faces found with the pose,
and the embedding paths give the same vectors as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint.detectors.base import add_pose
from faceprint.image import load_image
from faceprint.pipeline import Pipeline
from faceprint.registry import create_detector


def _images(photos_dir: Path, lfw_dir: Path) -> list[np.ndarray]:
    paths = sorted(photos_dir.glob("*.jpg"))[:4]
    paths += sorted((lfw_dir / "images" / "Colin_Powell").glob("*.jpg"))[:2]
    return [load_image(p) for p in paths]


# yunet and mtcnn have five landmarks of their own; hog takes them from the 68 points
@pytest.mark.parametrize("name", ["yunet", "mtcnn", "hog"])
def test_pose_added_later_equals_pose_found_at_once(name: str, photos_dir: Path,
                                                    lfw_dir: Path) -> None:
    detector = create_detector(name)
    counted = 0
    for image in _images(photos_dir, lfw_dir):
        full = detector.detect(image)
        lazy = detector.detect(image, pose=False)
        assert [f.box for f in lazy] == [f.box for f in full]
        assert [f.landmarks for f in lazy] == [f.landmarks for f in full]
        if name == "hog":  # the five come from the 68 points, which are kept
            assert all(f.landmarks68 is not None and f.pose is None for f in lazy)
        else:
            assert all(f.landmarks68 is None and f.pose is None for f in lazy)
        assert add_pose(image, lazy) == full  # every field, exactly
        counted += len(full)
    assert counted >= 10


def test_embedding_paths_skip_the_pose_and_keep_the_vectors(lfw_people: dict[str, list[Path]]
                                                            ) -> None:
    pipe = Pipeline("yunet", "sface")
    path = lfw_people["Colin_Powell"][0]
    found = pipe.analyze(path)
    assert found and all(f.face.pose is None and f.face.landmarks68 is None for f in found)
    image = pipe.load(path)
    faces = pipe.detector.detect(image)  # with the pose, as before
    np.testing.assert_array_equal(np.stack([f.embedding for f in found]),
                                  pipe.embed_faces(image, faces))
    # detect() still answers with the pose, and attributes get it when they need it
    assert all(f.pose is not None for f in pipe.detect(path))
    lazy = pipe.find_faces(image, pose=False)
    with_quality = pipe.attributes(image, lazy, ("quality",))
    assert with_quality == pipe.attributes(image, faces, ("quality",))
    assert all(f.pose is not None for f in with_quality)
