"""The ``onnx:PATH`` embedder reads faceprint's ONNX metadata and runs the model with
ONNX Runtime (no torch): a hand-built linear model checks the arithmetic, and broken
files fail with a clear ModelError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from faceprint.errors import ModelError
from faceprint.pipeline import Pipeline
from faceprint.registry import create_embedder

SIZE, DIM = 16, 8
META = {
    "faceprint.format": "1",
    "faceprint.name": "linear-test",
    "faceprint.dim": str(DIM),
    "faceprint.metric": "sqeuclidean",
    "faceprint.threshold": "0.75",
    "faceprint.chip": json.dumps({"size": SIZE, "method": "dlib5", "padding": 0.25,
                                  "template": None}),
    "faceprint.normalisation": json.dumps({"scale": 1 / 255, "mean": [0.5, 0.4, 0.3],
                                           "std": [0.5, 0.25, 0.2], "layout": "NCHW",
                                           "channels": "RGB"}),
}


def linear_model(path: Path, weight: np.ndarray, metadata: dict[str, str] | None) -> Path:
    """An ONNX model ``embedding = flatten(input) @ weight`` with the given metadata."""
    nodes = [helper.make_node("Flatten", ["input"], ["flat"], axis=1),
             helper.make_node("MatMul", ["flat", "w"], ["embedding"])]
    graph = helper.make_graph(
        nodes, "linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", DIM])],
        [numpy_helper.from_array(weight.astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    return path


@pytest.fixture()
def weight() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(3 * SIZE * SIZE, DIM))


def test_embeddings_follow_the_metadata(tmp_path: Path, weight: np.ndarray) -> None:
    path = linear_model(tmp_path / "m.onnx", weight, META)
    emb = create_embedder(f"onnx:{path}", threads=1)
    assert (emb.name, emb.dim, emb.metric, emb.threshold) == ("linear-test", DIM,
                                                              "sqeuclidean", 0.75)
    assert emb.chip.size == SIZE and emb.chip.method == "dlib5" and emb.normalized
    chips = np.random.default_rng(1).integers(0, 256, (5, SIZE, SIZE, 3), dtype=np.uint8)
    x = chips.transpose(0, 3, 1, 2).astype(np.float64) / 255
    x = (x - np.array([0.5, 0.4, 0.3])[None, :, None, None]) / \
        np.array([0.5, 0.25, 0.2])[None, :, None, None]
    want = x.reshape(5, -1) @ weight
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    got = emb.embed_chips(chips)
    assert got.dtype == np.float32 and got.shape == (5, DIM)
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(Exception, match="uint8 chips"):
        emb.embed_chips(chips[:, :8])


def test_pipeline_uses_an_onnx_embedder_on_a_real_face(tmp_path: Path, weight: np.ndarray,
                                                       astronaut: np.ndarray) -> None:
    path = linear_model(tmp_path / "m.onnx", weight, META)
    pipe = Pipeline("hog", f"onnx:{path}", embedder_options={"threads": 1})
    found = pipe.embed_largest(astronaut)
    assert found.embedding.shape == (DIM,)
    assert abs(float(np.linalg.norm(found.embedding)) - 1.0) < 1e-5
    assert pipe.metric == "sqeuclidean" and pipe.threshold == 0.75


def test_missing_and_broken_files_raise_model_errors(tmp_path: Path,
                                                     weight: np.ndarray) -> None:
    with pytest.raises(ModelError, match="not found"):
        create_embedder(f"onnx:{tmp_path / 'nope.onnx'}")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        create_embedder(f"onnx:{junk}")
    bare = linear_model(tmp_path / "bare.onnx", weight, None)
    with pytest.raises(ModelError, match=r"lacks faceprint.dim.*faceprint export"):
        create_embedder(f"onnx:{bare}")
    bad = dict(META, **{"faceprint.metric": "manhattan"})
    with pytest.raises(ModelError, match="malformed"):
        create_embedder(f"onnx:{linear_model(tmp_path / 'bad.onnx', weight, bad)}")


@pytest.mark.data
def test_the_shipped_faceprint_small_model_tells_people_apart(lfw_dir: Path) -> None:
    """The packaged model (docs/training.md): its metadata, and on real LFW faces of
    the View 1 *test* people (never trained on) the same person is nearer than others."""
    pipe = Pipeline("hog", "faceprint-small", embedder_options={"threads": 1})
    emb = pipe.embedder
    assert emb.name == "faceprint-small" and emb.dim == 128 and emb.metric == "sqeuclidean"
    assert emb.chip.size == 64 and emb.chip.method == "dlib5"
    assert 0.5 < emb.threshold < 2.5
    assert emb.calibration["source"] == "pairsDevTrain.txt"
    img = lfw_dir / "images"
    # three people of peopleDevTest.txt (disjoint from the training people), 3 photos each
    people = ("Abdullah_Gul", "Adrien_Brody", "Ali_Naimi")
    vectors = np.stack([pipe.embed_largest(img / n / f"{n}_{i:04d}.jpg").embedding
                        for n in people for i in (1, 2, 3)])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    labels = np.repeat(np.arange(3), 3)
    d = ((vectors[:, None] - vectors[None]) ** 2).sum(-1)
    same = (labels[:, None] == labels[None]) & ~np.eye(9, dtype=bool)
    differ = labels[:, None] != labels[None]
    assert d[same].mean() < d[differ].mean() - 0.3
    # the nearest other photo of most photos shows the same person
    nearest = np.where(np.eye(9, dtype=bool), np.inf, d).argmin(1)
    assert (labels[nearest] == labels).sum() >= 6
