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


def test_detector_ensemble_averages_each_part_over_both_alignments(lfw_dir: Path) -> None:
    """``yunet+blazeface-onet``: each face is aligned once per detector; each part's
    vectors are averaged over the two alignments before the parts are combined, and the
    evaluation's vectors (built from each detector's own) are the pipeline's."""
    from faceprint.detectors.ensemble import EnsembleFace
    from faceprint.eval.lfw import embed_images
    from faceprint.pipeline import PipelineRecipe

    weights = [0.25, 0.75]
    fused = create_embedder("sface+dlib-resnet", weights=weights, threshold=0.5)
    pipe = Pipeline("yunet+blazeface-onet", fused)
    paths = [lfw_dir / "images" / rel for rel in IMAGES]
    image = pipe.load(paths[0])
    faces = pipe.detector.detect(image)
    assert faces and all(isinstance(f, EnsembleFace) for f in faces)
    assert [v.detector for v in faces[0].views] == ["yunet", "blazeface-onet"]
    assert faces[0].views[0].box == faces[0].box
    assert faces[0].views[1].box != faces[0].box  # blazeface-onet's own alignment
    f = np.stack([pipe.embed_largest(p).embedding for p in paths])
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    per_part = []
    for part in ("sface", "dlib-resnet"):
        views = [np.stack([Pipeline(d, part).embed_largest(p).embedding for p in paths])
                 for d in ("yunet", "blazeface-onet")]
        per_part.append(_unit(np.mean(views, axis=0)))
    np.testing.assert_allclose(f, fused.combine(per_part), atol=1e-5)
    for i in range(3):
        for j in range(3):
            want = sum(w * float(v[i] @ v[j]) for w, v in zip(weights, per_part))
            assert abs(float(f[i] @ f[j]) - want) < 1e-5
    assert f[1] @ f[2] > f[0] @ f[1]
    # the evaluation (shipped weights) gives the pipeline's vectors
    recipe = PipelineRecipe("yunet+blazeface-onet", "sface+dlib-resnet")
    emb = embed_images(paths, recipe, workers=1, use_cache=False, progress=False)
    shipped = recipe.build()
    for p in paths:
        want_vec = shipped.embed_largest(p).embedding
        np.testing.assert_allclose(emb.vectors[str(p.resolve())], want_vec, atol=1e-5)


def test_detector_ensemble_names() -> None:
    from faceprint.registry import check_detector_name, detector_defaults

    check_detector_name("yunet+blazeface-onet")
    for bad in ("yunet+yunet", "yunet+nope", "yunet+"):
        with pytest.raises(UnknownNameError):
            check_detector_name(bad)
    assert detector_defaults("yunet+blazeface-onet") == [
        detector_defaults("yunet"), detector_defaults("blazeface-onet")]
    assert Pipeline("yunet+blazeface-onet").views == 2 and Pipeline("yunet").views == 1


def test_detector_ensemble_golden(lfw_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Golden distances, from
    ``faceprint compare Colin_Powell_0001.jpg Colin_Powell_0002.jpg (then
    Aaron_Eckhart_0001.jpg) --detector yunet+blazeface-onet --embedder sface+dlib-resnet
    --json``: 0.086794 and 0.391101 (shipped fusion weights and threshold 0.235963)."""
    import json

    from faceprint.cli import main

    a, b, c = (str(lfw_dir / "images" / rel) for rel in
               ("Colin_Powell/Colin_Powell_0001.jpg", "Colin_Powell/Colin_Powell_0002.jpg",
                "Aaron_Eckhart/Aaron_Eckhart_0001.jpg"))
    for other, want, same in ((b, 0.086794, True), (c, 0.391101, False)):
        assert main(["compare", a, other, "--detector", "yunet+blazeface-onet",
                     "--embedder", "sface+dlib-resnet", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert abs(out["distance"] - want) < 1e-4 and out["same"] is same
