"""The fused embedder ``A+B``: one vector whose inner product is the weighted sum of
its parts' cosine similarities, with flip averaging applied to each part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint.embedders.fused import fusion_constants
from faceprint.errors import ModelError, UnknownNameError
from faceprint.pipeline import Pipeline
from faceprint.registry import check_embedder_name, create_embedder

IMAGES = ["Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Colin_Powell/Colin_Powell_0001.jpg",
          "Colin_Powell/Colin_Powell_0002.jpg"]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.mark.parametrize("flip", [False, True])
def test_fused_inner_product_is_the_weighted_sum_of_similarities(lfw_dir: Path,
                                                                 flip: bool) -> None:
    weights = [0.7, 0.3]
    fused = create_embedder("sface+dlib-resnet", weights=weights, threshold=0.5)
    pipe = Pipeline("yunet", fused, flip=flip)
    parts = [Pipeline("yunet", "sface", flip=flip), Pipeline("yunet", "dlib-resnet", flip=flip)]
    paths = [lfw_dir / "images" / rel for rel in IMAGES]
    f = np.stack([pipe.embed_largest(p).embedding for p in paths])
    assert f.shape == (3, 256)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    per_part = [np.stack([_unit(q.embed_largest(p).embedding) for p in paths]) for q in parts]
    # the fused vector is each part's (flip-averaged) unit vector scaled by sqrt(w)
    np.testing.assert_allclose(f, fused.combine(per_part), atol=1e-5)
    for i in range(3):
        for j in range(3):
            want = sum(w * float(v[i] @ v[j]) for w, v in zip(weights, per_part))
            assert abs(float(f[i] @ f[j]) - want) < 1e-5
    # same person more similar than different people, in the fused score too
    assert f[1] @ f[2] > f[0] @ f[1]


def test_fused_names() -> None:
    check_embedder_name("sface+dlib-resnet")
    for bad in ("sface+nope", "sface+sface", "+sface"):
        with pytest.raises(UnknownNameError):
            check_embedder_name(bad)
    with pytest.raises(ModelError, match="fit_fusion.py"):
        create_embedder("sface+faceprint-small")
    with pytest.raises(ModelError, match="summing to 1"):
        create_embedder("sface+dlib-resnet", weights=[0.7, 0.7], threshold=0.5)


def test_stored_fusion_constants_come_from_view1() -> None:
    """The shipped sface+dlib-resnet constants were fitted on pairsDevTrain only."""
    entry = fusion_constants()["sface+dlib-resnet"]
    assert "pairsDevTrain" in entry["fitted_on"] and "pairs.txt" not in entry["fitted_on"]
    assert entry["command"].startswith("python benchmarks/fit_fusion.py")
    model = create_embedder("sface+dlib-resnet")
    assert model.metric == "cosine" and model.dim == 256
    assert abs(sum(model.weights) - 1) < 1e-6  # type: ignore[attr-defined]
    assert model.threshold == entry["threshold"]


def test_presets(lfw_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from faceprint.cli import main
    from faceprint.registry import PRESETS

    pipe = Pipeline.from_preset("accurate")
    assert (pipe.detector_name, pipe.embedder_name, pipe.flip) == (
        PRESETS["accurate"].detector, PRESETS["accurate"].embedder, PRESETS["accurate"].flip)
    assert Pipeline.from_preset("accurate", flip=True).flip
    with pytest.raises(UnknownNameError, match="accurate"):
        Pipeline.from_preset("best")
    a, b = (str(lfw_dir / "images" / rel) for rel in IMAGES[1:])
    assert main(["compare", a, b, "--preset", "fast", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"same": true' in out.replace(" ", "").replace('"same":true', '"same": true')
