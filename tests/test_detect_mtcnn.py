"""MTCNN, faceprint's own cascade on facenet-pytorch's weight files (read without
torch): faces found with landmarks in faceprint's order, none on the dogs,
recall on the hand-boxed group photos, pixel agreement with facenet-pytorch's
implementation, options honoured, models loaded lazily, and the safe reader of
legacy PyTorch files."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceprint import load_image
from faceprint._torchfile import MAGIC_NUMBER, PROTOCOL_VERSION, load_state_dict
from faceprint.detectors.mtcnn import MtcnnDetector, nms, pyramid_scales
from faceprint.errors import ModelError
from faceprint.eval.detection import match_boxes, read_dlib_xml
from faceprint.registry import create_detector
from faceprint.types import Box
from faceprint.weights import weight_path

# Golden values, from:
#   python -c "import numpy as np; from skimage import data; \
#     from faceprint.registry import create_detector; \
#     f = create_detector('mtcnn').detect(np.ascontiguousarray(data.astronaut()))[0]; \
#     print(f.box, f.score, f.landmarks.as_list(2))"
# (onnxruntime 1.32.0, onnx 1.23.2, numpy 2.4.6, facenet-pytorch 2.6.0 weights)
ASTRONAUT_BOX = Box(180.05, 61.16, 87.70, 110.89)
ASTRONAUT_LANDMARKS = [[205.01, 101.73], [246.76, 103.71], [224.67, 128.96],
                       [201.72, 139.25], [245.27, 141.86]]
ASTRONAUT_SCORE = 0.999998

# facenet-pytorch 2.6.0's own MTCNN (torch 2.13.0 CPU), run as a black box on the
# same RGB arrays: MTCNN(keep_all=True).detect(image, landmarks=True); boxes are
# its x1, y1, x2, y2, where x1, y1 count from 1 (MATLAB's convention), so
# faceprint's left/top are one pixel less and right/bottom equal.
FACENET_PYTORCH = {
    "astronaut": [([181.05, 62.16, 267.75, 172.05],
                   [[205.01, 101.73], [246.76, 103.71], [224.67, 128.96],
                    [201.72, 139.25], [245.27, 141.86]])],
    "multiface.jpg": [
        ([859.19, 436.56, 953.56, 558.58],
         [[877.45, 486.20], [918.97, 484.59], [895.73, 516.81], [884.36, 533.64],
          [920.15, 530.22]]),
        ([554.09, 45.48, 632.84, 158.14],
         [[580.15, 89.96], [616.48, 93.12], [599.14, 120.33], [576.31, 127.18],
          [610.81, 129.38]]),
        ([420.14, 133.00, 502.67, 240.20],
         [[452.30, 175.17], [489.36, 178.61], [474.84, 202.48], [451.82, 216.01],
          [482.66, 217.38]]),
        ([225.80, 249.07, 304.81, 356.84],
         [[246.18, 294.35], [282.59, 287.29], [269.94, 316.07], [253.62, 329.52],
          [292.11, 321.98]]),
        ([722.15, 464.39, 797.57, 573.20],
         [[740.32, 510.55], [778.56, 507.40], [762.65, 537.48], [745.25, 546.91],
          [781.37, 542.41]]),
        ([622.18, 197.51, 694.83, 296.76],
         [[640.52, 237.34], [676.89, 238.48], [656.95, 260.67], [639.54, 268.89],
          [676.00, 270.34]]),
    ],
}


def _assert_matches_facenet_pytorch(faces: list, expected: list) -> None:
    assert len(faces) == len(expected)
    for (x1, y1, x2, y2), points in expected:
        want = Box.from_ltrb(x1 - 1, y1 - 1, x2, y2)
        face = max(faces, key=lambda f: f.box.iou(want))
        for got, ref in zip(face.box.ltrb(), want.ltrb(), strict=True):
            assert got == pytest.approx(ref, abs=0.05)
        np.testing.assert_allclose(face.landmarks.as_array(), points, atol=0.05)


# --------------------------------------------------------------------------------------
# The cascade on real photos


def test_astronaut_face_found_with_plausible_landmarks(astronaut: np.ndarray) -> None:
    faces = create_detector("mtcnn").detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.detector == "mtcnn"
    assert 0.7 < face.score <= 1.0
    # the face of Eileen Collins spans about x 175..265, y 76..166 (hog's box)
    assert face.box.iou(Box(175, 76, 91, 91)) > 0.5
    assert face.landmarks is not None and face.pose is not None
    p = face.landmarks.as_array()
    assert p[0, 0] < p[1, 0] and p[3, 0] < p[4, 0]  # image-left eye / mouth corner first
    assert p[:2, 1].max() < p[2, 1] < p[3:, 1].min()  # eyes above nose above mouth
    b = face.box
    assert np.all((p[:, 0] > b.left) & (p[:, 0] < b.right))
    assert np.all((p[:, 1] > b.top) & (p[:, 1] < b.bottom))


def test_astronaut_golden_box_and_landmarks(astronaut: np.ndarray) -> None:
    face = create_detector("mtcnn").detect(astronaut)[0]
    for got, want in zip(face.box.ltrb(), ASTRONAUT_BOX.ltrb(), strict=True):
        assert got == pytest.approx(want, abs=0.5)
    assert face.landmarks is not None
    np.testing.assert_allclose(face.landmarks.as_array(), ASTRONAUT_LANDMARKS, atol=0.5)
    assert face.score == pytest.approx(ASTRONAUT_SCORE, abs=1e-4)


def test_astronaut_matches_facenet_pytorch(astronaut: np.ndarray) -> None:
    _assert_matches_facenet_pytorch(create_detector("mtcnn").detect(astronaut),
                                    FACENET_PYTORCH["astronaut"])


@pytest.mark.data
def test_multiface_six_faces_match_facenet_pytorch(photos_dir: Path) -> None:
    faces = create_detector("mtcnn").detect(load_image(photos_dir / "multiface.jpg"))
    assert len(faces) == 6
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    _assert_matches_facenet_pytorch(faces, FACENET_PYTORCH["multiface.jpg"])


@pytest.mark.data
def test_no_face_in_dogs(photos_dir: Path) -> None:
    assert create_detector("mtcnn").detect(load_image(photos_dir / "dogs.jpg")) == []


@pytest.mark.data
def test_recall_on_hand_boxed_group_photos(photos_dir: Path) -> None:
    # measured with the defaults: 42/43 at IoU >= 0.4, no unmatched detection (the
    # miss, a blurred face in 2008_002079.jpg, is missed by facenet-pytorch too)
    truth = read_dlib_xml(photos_dir / "training.xml")
    truth.update(read_dlib_xml(photos_dir / "testing.xml"))
    detector = create_detector("mtcnn", landmarks=False)
    counts = [match_boxes([f.box for f in detector.detect(load_image(path))], boxes, 0.4)
              for path, boxes in truth.items()]
    total = sum(counts[1:], counts[0])
    assert total.true_positives + total.misses == 43
    assert total.recall >= 0.9, total
    assert total.false_positives <= 1, total


@pytest.mark.data
def test_faces_found_in_lfw_sample(lfw_dir: Path) -> None:
    # the first image of every 100th person of peopleDevTrain.txt (41 images)
    names = (lfw_dir / "peopleDevTrain.txt").read_text().split()[1::2][::100]
    paths = [lfw_dir / "images" / n / f"{n}_0001.jpg" for n in names]
    assert len(paths) > 35
    detector = create_detector("mtcnn", landmarks=False)
    found = 0
    for path in paths:
        faces = detector.detect(load_image(path))
        # LFW faces are centred in the 250x250 image
        found += any(f.box.iou(Box(75, 70, 100, 120)) > 0.4 for f in faces)
    assert found >= 0.95 * len(paths)


def test_face_cut_by_the_border_keeps_its_landmarks(astronaut: np.ndarray) -> None:
    # crops reaching outside the image are padded (mid grey) rather than clipped
    # and stretched: with the left 15 of the face's 88 pixels cut off, the
    # landmarks stay within 1.5 pixels of the whole image's (clipping: 18 pixels)
    whole = create_detector("mtcnn").detect(astronaut)[0]
    cut = create_detector("mtcnn").detect(np.ascontiguousarray(astronaut[:, 195:]))
    assert len(cut) == 1 and cut[0].landmarks is not None and whole.landmarks is not None
    moved = cut[0].landmarks.as_array() + np.array([195.0, 0.0])
    assert np.abs(moved - whole.landmarks.as_array()).max() < 3.0


# --------------------------------------------------------------------------------------
# Options


def test_upsample_finds_the_same_face(astronaut: np.ndarray) -> None:
    plain = create_detector("mtcnn").detect(astronaut)[0]
    doubled = create_detector("mtcnn", upsample=1).detect(astronaut)
    assert len(doubled) == 1
    assert doubled[0].box.iou(plain.box) > 0.9
    assert MtcnnDetector().upsample == 0


@pytest.mark.data
def test_threshold_min_face_size_and_max_faces(photos_dir: Path) -> None:
    image = load_image(photos_dir / "multiface.jpg")
    all_faces = create_detector("mtcnn", landmarks=False).detect(image)
    assert len(all_faces) == 6
    # the threshold replaces O-Net's 0.7; scores are O-Net's probabilities
    strict = create_detector("mtcnn", landmarks=False, threshold=0.9995).detect(image)
    assert 0 < len(strict) < 6 and all(f.score > 0.9995 for f in strict)
    two = create_detector("mtcnn", landmarks=False, max_faces=2).detect(image)
    assert [f.box for f in two] == [f.box for f in all_faces[:2]]
    # the six faces are 74-95 pixels wide
    assert all(f.box.width >= 80 for f in
               create_detector("mtcnn", landmarks=False, min_face_size=80).detect(image))
    assert create_detector("mtcnn", min_face_size=200).detect(image) == []


def test_tiny_images_give_no_face() -> None:
    detector = create_detector("mtcnn")
    assert detector.detect(np.zeros((8, 8, 3), dtype=np.uint8)) == []
    assert detector.detect(np.full((40, 30, 3), 128, dtype=np.uint8)) == []


# --------------------------------------------------------------------------------------
# Pieces


def test_pyramid_matches_the_reference_sizes() -> None:
    # facenet-pytorch's P-Net inputs for the 512x512 astronaut
    sizes = [int(np.ceil(512 * s)) for s in pyramid_scales(512, 512, 20)]
    assert sizes == [308, 218, 155, 110, 78, 56, 40, 28, 20, 14]
    # 480 * 0.6 rounds up past 288 in float32, as in the reference
    assert int(np.ceil(480 * pyramid_scales(480, 360, 20)[0])) == 289
    assert pyramid_scales(11, 100, 20) == []


def test_nms_union_and_min_modes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [2, 2, 6, 6]],
                     dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # IoU(0, 1) = 90 / 110 > 0.5; box 3 lies inside box 0 but IoU is only 0.16
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    # overlap over the smaller box: box 3 lies wholly inside boxes 0 and 1, so both go
    assert nms(boxes, scores, 0.7, mode="min").tolist() == [3, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_models_load_on_first_use_not_at_import_or_creation() -> None:
    code = ("import sys; from faceprint.registry import create_detector; "
            "import faceprint.detectors.mtcnn as m; d = create_detector('mtcnn'); "
            "assert m._NETS is None, 'built too early'; "
            "assert 'onnxruntime' not in sys.modules and 'onnx' not in sys.modules; "
            "import numpy as np; d.detect(np.zeros((64, 64, 3), np.uint8)); "
            "assert m._NETS is not None and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------
# The legacy PyTorch file reader


def _legacy_file(path: Path, obj: object, keys: list[str]) -> Path:
    buf = io.BytesIO()
    sys_info = {"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    for record in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info, obj, keys):
        pickle.dump(record, buf, protocol=2)
    path.write_bytes(buf.getvalue())
    return path


class _RunsCode:
    """Unpickles into a call of os.system: the reader must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_reader_loads_the_mtcnn_weights() -> None:
    state = load_state_dict(weight_path("mtcnn-onet"))
    assert state["conv1.weight"].shape == (32, 3, 3, 3)
    assert state["dense5.weight"].shape == (256, 1152)
    assert state["dense6_3.weight"].shape == (10, 256)
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in state.values())
    # stored column-major (strides 1, 32, 96, 288): rebuilt from the strides, not the bytes
    raw = weight_path("mtcnn-pnet").read_bytes()
    assert b"FloatStorage" in raw and not raw.startswith(b"PK")
    pnet = load_state_dict(weight_path("mtcnn-pnet"))
    assert abs(float(pnet["prelu1.weight"].mean())) < 1.0


def test_reader_rejects_a_garbage_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match=r"garbage\.pt"):
        load_state_dict(garbage)
    with pytest.raises(ModelError):
        load_state_dict(tmp_path / "missing.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ModelError):
        load_state_dict(tmp_path / "empty.pt")


def test_reader_rejects_truncated_and_zip_files(tmp_path: Path) -> None:
    raw = weight_path("mtcnn-pnet").read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[:-100])
    with pytest.raises(ModelError, match="truncated"):
        load_state_dict(tmp_path / "cut.pt")
    (tmp_path / "zip.pt").write_bytes(b"PK\x03\x04" + raw)
    with pytest.raises(ModelError, match="zip"):
        load_state_dict(tmp_path / "zip.pt")


def test_reader_refuses_to_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = _legacy_file(tmp_path / "evil.pt", {"weight": _RunsCode(marker)}, [])
    with pytest.raises(ModelError, match="not allowed"):
        load_state_dict(evil)
    assert not marker.exists()
    plain = _legacy_file(tmp_path / "list.pt", [1, 2, 3], [])
    with pytest.raises(ModelError, match="state dict"):
        load_state_dict(plain)


def test_summed_area_table_equals_cumulative_sums_even_when_they_wrap() -> None:
    """OpenCV's integral image (what the detector uses) against numpy's cumulative
    sums in uint32, on a small random image and on one whose sums exceed 2**32."""
    from faceprint.detectors.mtcnn import _summed_area

    def reference(image: np.ndarray) -> np.ndarray:
        h, w, c = image.shape
        table = np.zeros((h + 1, w + 1, c), dtype=np.uint32)
        np.cumsum(image, axis=0, dtype=np.uint32, out=table[1:, 1:])
        np.cumsum(table[1:, 1:], axis=1, dtype=np.uint32, out=table[1:, 1:])
        return table

    small = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_summed_area(small), reference(small))
    big = np.full((4200, 4100, 3), 255, np.uint8)
    big[::7, ::3] = 1
    assert 4200 * 4100 * 255 > 2**32
    np.testing.assert_array_equal(_summed_area(big), reference(big))
