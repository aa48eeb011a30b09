"""Face attributes on real faces with the real models: age, gender (both models),
emotion, quality, liveness (opt-in model), the mesh; only what was asked is computed
and shown; bad names and bad input fail clearly. The LFW-wide numbers are
benchmarks/gender_lfw.py (docs/attributes.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import faceprint
from faceprint.attributes import ATTRIBUTE_NAMES, compute_attributes, parse_attributes
from faceprint.attributes import liveness as liveness_model
from faceprint.errors import AttributeNameError, QualityError
from faceprint.pipeline import Pipeline

EXE = [sys.executable, "-m", "faceprint.cli"]


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACEPRINT_DEBUG": "0"}
    return subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    return Pipeline()


def test_names_are_checked_with_the_valid_ones_listed() -> None:
    assert parse_attributes("Age, gender,age,gender-levi") == ("age", "gender", "gender_levi")
    assert parse_attributes(None) == () and parse_attributes("") == ()
    with pytest.raises(AttributeNameError) as info:
        parse_attributes(["age", "sex"])
    assert info.value.exit_code == 2
    assert str(info.value) == ("unknown attribute 'sex'; choose from: "
                               + ", ".join(ATTRIBUTE_NAMES))


def test_a_bad_name_fails_before_the_image_is_read() -> None:
    with pytest.raises(AttributeNameError):
        faceprint.detect("/no/such/file.jpg", attributes=("age", "nope"))


def test_astronaut_attributes(astronaut: np.ndarray) -> None:
    # Eileen Collins, about 36 when photographed, smiling; measured: age 33.6 (dlib
    # net), female 0.85, happy 1.00, quality good (blur 2892)
    [face] = faceprint.detect(astronaut, attributes=("age", "gender", "emotion", "quality",
                                                     "mesh"))
    a = face.attributes
    assert a is not None and a.age is not None and 25 <= a.age <= 45
    assert a.gender is not None and a.gender.value == "female" and a.gender.probability > 0.6
    assert a.emotion is not None and a.emotion.value == "happy"
    assert sum(p for _, p in a.emotion.probabilities) == pytest.approx(1.0, abs=1e-4)
    assert a.quality is not None and a.quality.verdict == "good" and not a.quality.reasons
    assert a.mesh is not None and len(a.mesh) == 468
    mesh = np.array(a.mesh)
    b = face.box
    inside = ((mesh[:, 0] > b.left - 0.2 * b.width) & (mesh[:, 0] < b.right + 0.2 * b.width)
              & (mesh[:, 1] > b.top - 0.3 * b.height) & (mesh[:, 1] < b.bottom + 0.2 * b.height))
    assert inside.mean() > 0.98
    assert a.liveness is None and a.age_levi is None  # not asked, not computed
    shown = face.to_dict()["attributes"]
    assert isinstance(shown, dict) and set(shown) == {"age", "gender", "emotion", "quality",
                                                      "mesh"}


def test_no_attributes_unless_asked(astronaut: np.ndarray) -> None:
    [face] = faceprint.detect(astronaut)
    assert face.attributes is None and "attributes" not in face.to_dict()


def test_gender_of_labelled_lfw_faces(lfw_dir: Path, pipe: Pipeline) -> None:
    truth = {}
    for label in ("male", "female"):
        names = (lfw_dir / "gender" / f"{label}_names.txt").read_text().split()
        truth.update({n: label for n in sorted(names)[::400][:6]})
    right = right_levi = 0
    for name, label in truth.items():
        path = lfw_dir / "images" / name.rsplit("_", 1)[0] / name
        faces = pipe.detect(path, attributes="gender,gender_levi,age,age_levi")
        face = min(faces, key=lambda f: abs(f.box.center[0] - 125) + abs(f.box.center[1] - 125))
        a = face.attributes
        assert a is not None and a.gender is not None and a.gender_levi is not None
        assert a.age is not None and 10 < a.age < 85 and a.age_levi is not None
        right += a.gender.value == label
        right_levi += a.gender_levi.value == label
    # on all of LFW (benchmarks/gender_lfw.py): see docs/attributes.md
    assert right >= 10 and right_levi >= 7, (right, right_levi)


def test_quality_says_why_a_face_is_poor(astronaut: np.ndarray, pipe: Pipeline) -> None:
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 4)
    dark = (astronaut * 0.15).astype(np.uint8)
    cut = np.ascontiguousarray(astronaut[: 140])  # the chin is outside the picture
    for image, reason in ((blurred, "blurred"), (dark, "too dark"), (cut, "cut by the border")):
        faces = pipe.detect(image, attributes=("quality",))
        assert faces, reason
        q = faces[0].attributes.quality if faces[0].attributes else None
        assert q is not None and q.verdict == "poor", (reason, q)
        assert any(reason in r for r in q.reasons), (reason, q.reasons)


def test_liveness_on_the_opt_in_model(astronaut: np.ndarray) -> None:
    if not liveness_model.installed():
        if os.environ.get("FACEPRINT_REQUIRE_DATA") == "1":
            pytest.fail("the liveness model is not installed (make liveness-model)")
        pytest.skip("the liveness model is opt-in: make liveness-model")
    [face] = faceprint.detect(astronaut, attributes=("liveness",))
    lv = face.attributes.liveness if face.attributes else None
    assert lv is not None and lv.threshold == 0.2 and lv.score >= 0
    assert lv.live == (lv.score < lv.threshold)  # a photo file: no claim on its verdict


def test_liveness_missing_model_is_a_clear_error(astronaut: np.ndarray,
                                                 tmp_path: Path) -> None:
    env = {**os.environ, "FACEPRINT_LIVENESS_MODEL": str(tmp_path / "none.tflite"),
           "FACEPRINT_DEBUG": "0"}
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    proc = subprocess.run([*EXE, "detect", str(tmp_path / "a.png"), "--attributes",
                           "liveness"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 5 and "make liveness-model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_attributes_of_no_faces_and_of_several(photos_dir: Path, pipe: Pipeline) -> None:
    image = pipe.load(photos_dir / "dogs.jpg")
    assert compute_attributes(image, [], "age,gender,emotion") == []
    faces = pipe.detect(photos_dir / "multiface.jpg", attributes=("age", "gender"))
    assert len(faces) == 6 and all(f.attributes and f.attributes.age for f in faces)
    # batched: the same values as one face at a time
    image = pipe.load(photos_dir / "multiface.jpg")
    one = pipe.attributes(image, faces[2:3], ("age", "gender"))[0].attributes
    assert one is not None and faces[2].attributes is not None
    assert one.age == pytest.approx(faces[2].attributes.age, abs=1e-3)


def test_cli_detect_attributes_json_only_those_asked(photos_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "drawn.png"
    proc = cli("detect", photos_dir / "multiface.jpg", "--json", "--attributes",
               "age,gender,mesh", "--landmarks68", "--draw", out)
    assert proc.returncode == 0, proc.stderr
    faces = json.loads(proc.stdout)["images"][0]["faces"]
    assert len(faces) == 6
    for f in faces:
        assert set(f["attributes"]) == {"age", "gender", "mesh"}
        assert f["attributes"]["gender"]["value"] in ("male", "female")
        assert len(f["attributes"]["mesh"]) == 468 and len(f["landmarks68"]) == 68
    drawn = np.asarray(Image.open(out))
    original = np.asarray(Image.open(photos_dir / "multiface.jpg"))
    assert (drawn != original).any(axis=2).mean() > 0.02  # mesh and 68 points drawn


def test_cli_unknown_attribute_exit_2(photos_dir: Path) -> None:
    proc = cli("detect", photos_dir / "multiface.jpg", "--attributes", "age,beauty")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("faceprint: unknown attribute 'beauty'; choose from: "
                                   + ", ".join(ATTRIBUTE_NAMES))


def test_enroll_min_quality_refuses_a_blurred_photo(astronaut: np.ndarray,
                                                    tmp_path: Path) -> None:
    good, bad = tmp_path / "good.png", tmp_path / "blurred.png"
    Image.fromarray(astronaut).save(good)
    Image.fromarray(cv2.GaussianBlur(astronaut, (0, 0), 4)).save(bad)
    db = tmp_path / "g.db"
    proc = cli("enroll", "eileen", good, bad, "--min-quality", "--db", db)
    assert proc.returncode == 8, proc.stderr
    assert "blurred.png: face quality is poor (blurred: variance of Laplacian" in proc.stderr
    assert "nothing was enrolled" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("people", "--db", db)
    assert "eileen" not in proc.stdout
    proc = cli("enroll", "eileen", good, "--min-quality", "--db", db)
    assert proc.returncode == 0, proc.stderr


def test_quality_error_is_a_faceprint_error() -> None:
    assert QualityError.exit_code == 8 and AttributeNameError.exit_code == 2
