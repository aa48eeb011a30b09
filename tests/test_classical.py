"""The classical embedders (eigenfaces, fisherfaces, lbp): their maths against
independent references, fitting on real LFW faces, saving and loading, and
use through the registry and the command line like any other embedder."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import ModelError
from faceprint.eval.metrics import auc, roc

# a fixed, small piece of View 1: training people's images, and test pairs of
# other people (never View 2)
FIT_IMAGES = 500
TEST_PAIRS = 300


def test_uniform_lbp_has_59_labels() -> None:
    from faceprint.embedders.classical import _uniform_table

    table = _uniform_table(8)
    assert table.max() == 58 and len(set(table.tolist())) == 59
    assert table[0] != table[0b01010101] and table[0b01010101] == 58  # 8 transitions
    assert table[0b00001111] < 58 and table[0b11111111] < 58


def test_lbp_codes_agree_with_scikit_image(astronaut: np.ndarray) -> None:
    """Radius 1: the same partition of pixels into the 59 uniform patterns as
    scikit-image's non-rotation-invariant uniform LBP (labels are numbered
    differently, so the test checks a one-to-one correspondence)."""
    from skimage.feature import local_binary_pattern

    from faceprint.embedders.classical import lbp_codes, to_gray

    gray = np.round(to_gray(astronaut[None, 60:260, 160:360])[0])  # integers, as skimage wants
    ours = lbp_codes(gray[None], 8, 1.0)[0]
    ref = local_binary_pattern(gray.astype(np.uint8), 8, 1, "nri_uniform")[1:-1, 1:-1]
    pairs = set(zip(ours.ravel().tolist(), ref.astype(int).ravel().tolist()))
    assert len(pairs) == len(set(ours.ravel().tolist())) == len(set(ref.ravel().tolist()))
    assert ((ours == 58) == (ref == 58)).all()


def test_lbp_histograms(astronaut: np.ndarray) -> None:
    from faceprint import Pipeline
    from faceprint.embedders.classical import LbpEmbedder

    pipe = Pipeline("hog", "lbp")
    v = pipe.embed_largest(astronaut).embedding
    assert v.shape == (10 * 10 * 59,) and v.dtype == np.float32
    assert np.allclose(v.reshape(100, 59).sum(axis=1), 1.0, atol=1e-5)
    assert pipe.metric == "chi2" and pipe.threshold == pytest.approx(LbpEmbedder().threshold)
    with pytest.raises(ModelError, match="no argument"):
        LbpEmbedder("model.npz")


def test_top_components_match_a_full_svd(astronaut: np.ndarray) -> None:
    from faceprint.embedders.classical import top_components

    rng = np.random.default_rng(0)
    # rows: 400 random 16x16 patches of a real photo
    ys, xs = rng.integers(0, 496, 400), rng.integers(0, 496, 400)
    gray = astronaut.mean(axis=2)
    x = np.stack([gray[y:y + 16, x:x + 16].ravel() for y, x in zip(ys, xs)]).astype(np.float32)
    x -= x.mean(axis=0)
    axes, var = top_components(x, 10)
    _, s, vt = np.linalg.svd(x.astype(np.float64), full_matrices=False)
    for i in range(5):  # the leading axes, up to sign
        assert abs(float(axes[i] @ vt[i])) > 0.999
    assert var[:5] == pytest.approx(s[:5] ** 2 / (len(x) - 1), rel=1e-3)


def test_lda_axes_solve_the_fisher_problem() -> None:
    from faceprint.embedders.classical import lda_axes

    rng = np.random.default_rng(1)
    means = rng.normal(0, 3, (6, 5))
    labels = np.repeat(np.arange(6), 30)
    z = means[labels] + rng.normal(0, 1, (180, 5)) * np.array([1, 1, 3, 0.5, 1])
    w = lda_axes(z, labels, 3, ridge=0.0).astype(np.float64)
    assert w.shape == (5, 3)
    mean = z.mean(axis=0)
    cm = np.stack([z[labels == c].mean(axis=0) for c in range(6)])
    sb = sum(30 * np.outer(m - mean, m - mean) for m in cm)
    sw = sum(np.outer(v, v) for v in z - cm[labels])
    # generalised eigenvectors: Sb w = lambda Sw w, eigenvalues decreasing
    lams = [float(w[:, i] @ sb @ w[:, i] / (w[:, i] @ sw @ w[:, i])) for i in range(3)]
    for i in range(3):
        assert sb @ w[:, i] == pytest.approx(lams[i] * (sw @ w[:, i]), rel=1e-6, abs=1e-6)
    assert lams[0] >= lams[1] >= lams[2] > 0


@pytest.fixture(scope="module")
def view1(lfw_dir: Path) -> dict[str, object]:
    """Chips of FIT_IMAGES View 1 training images and of TEST_PAIRS View 1 test pairs."""
    import random

    from faceprint.datasets.lfw import (
        image_path,
        person_images,
        person_of,
        read_pairs,
        read_people,
        select_pairs,
    )
    from faceprint.embedders.classical import CLASSICAL_CHIP
    from faceprint.eval.chips import extract_chips
    from faceprint.pipeline import PipelineRecipe

    people = read_people(lfw_dir / "peopleDevTrain.txt")[0]
    repeated = [p for p in people if p[1] >= 3]
    fit = sorted(random.Random(0).sample(person_images(lfw_dir / "images", repeated),
                                         FIT_IMAGES))
    pairs = select_pairs(read_pairs(lfw_dir / "pairsDevTest.txt"), None, TEST_PAIRS)
    images = lfw_dir / "images"
    a = [str(image_path(images, p.name1, p.index1).resolve()) for p in pairs]
    b = [str(image_path(images, p.name2, p.index2).resolve()) for p in pairs]
    chips = extract_chips(fit + a + b, PipelineRecipe(), CLASSICAL_CHIP, workers=2,
                          progress=False)
    return {"fit": fit, "labels": [person_of(p) for p in fit], "a": a, "b": b,
            "same": np.array([p.same for p in pairs]), "chips": chips}


def _auc(model: object, view1: dict[str, object]) -> float:
    from faceprint.distance import paired

    chips = view1["chips"]
    d = paired(model.embed_chips(chips.take(view1["a"])),  # type: ignore[attr-defined]
               model.embed_chips(chips.take(view1["b"])),  # type: ignore[attr-defined]
               model.metric)  # type: ignore[attr-defined]
    far, tar, _ = roc(d, view1["same"])  # type: ignore[arg-type]
    return auc(far, tar)


def test_fitted_methods_beat_chance_on_unseen_people(view1: dict[str, object]) -> None:
    """Fitted on 500 images of View 1 training people, scored on View 1 test
    pairs of other people. Measured: eigenfaces AUC 0.66, fisherfaces 0.71,
    lbp 0.75 (this test's subset); floors well below."""
    from faceprint.embedders.classical import (
        EigenfacesEmbedder,
        FisherfacesEmbedder,
        LbpEmbedder,
    )

    chips = view1["chips"]
    fit = chips.take(view1["fit"])  # type: ignore[attr-defined]
    eig = EigenfacesEmbedder.fit(fit, components=60)
    fis = FisherfacesEmbedder.fit(fit, view1["labels"], pca_components=120,  # type: ignore
                                  lda_components=60)
    assert eig.dim == 60 and fis.dim == 60 and eig.metric == "euclidean"
    assert _auc(eig, view1) > 0.60
    assert _auc(fis, view1) > 0.62
    assert _auc(LbpEmbedder(), view1) > 0.68


def test_fitted_model_saves_loads_and_works_in_the_registry(
        view1: dict[str, object], tmp_path: Path, lfw_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.embedders.classical import EigenfacesEmbedder, FisherfacesEmbedder
    from faceprint.registry import create_embedder

    chips = view1["chips"]
    fit = chips.take(view1["fit"])  # type: ignore[attr-defined]
    model = FisherfacesEmbedder.fit(fit, view1["labels"], pca_components=100,  # type: ignore
                                    lda_components=40, fitted_on="test subset")
    model.threshold = 0.5
    path = model.save(tmp_path / "fisher.npz")
    loaded = create_embedder(f"fisherfaces:{path}")
    probe = chips.chips[:8]  # type: ignore[attr-defined]
    assert np.array_equal(loaded.embed_chips(probe), model.embed_chips(probe))
    assert loaded.threshold == 0.5 and loaded.metric == "cosine" and loaded.dim == 40
    assert loaded.describe() == "test subset"  # type: ignore[attr-defined]
    with pytest.raises(ModelError, match="holds a fisherfaces model"):
        EigenfacesEmbedder(path)
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a faceprint"):
        create_embedder(f"eigenfaces:{tmp_path / 'junk.npz'}")
    with pytest.raises(ModelError, match="no such"):
        create_embedder(f"eigenfaces:{tmp_path / 'missing.npz'}")
    # without a path: the default model, or a clear message saying how to make one
    monkeypatch.setenv("FACEPRINT_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match="faceprint eval fit eigenfaces"):
        create_embedder("eigenfaces")
    eig = EigenfacesEmbedder.fit(fit, components=30)
    from faceprint.embedders.classical import default_model_path

    eig.save(default_model_path("eigenfaces"))
    assert create_embedder("eigenfaces").dim == 30
    assert math.isnan(eig.threshold)


def test_compare_command_with_a_fitted_model(view1: dict[str, object], tmp_path: Path,
                                             lfw_dir: Path) -> None:
    """``faceprint compare --embedder eigenfaces:MODEL`` like any embedder."""
    from faceprint.embedders.classical import EigenfacesEmbedder

    chips = view1["chips"]
    model = EigenfacesEmbedder.fit(chips.take(view1["fit"]), components=40)  # type: ignore
    model.threshold = 40.0
    path = model.save(tmp_path / "eig.npz")
    a = lfw_dir / "images" / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg"
    b = lfw_dir / "images" / "Aaron_Peirsol" / "Aaron_Peirsol_0002.jpg"
    proc = subprocess.run([sys.executable, "-m", "faceprint.cli", "compare", str(a), str(b),
                           "--embedder", f"eigenfaces:{path}", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '"metric": "euclidean"' in proc.stdout and '"threshold": 40.0' in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "faceprint.cli", "compare", str(a), str(b),
                           "--embedder", f"eigenfaces:{tmp_path / 'nope.npz'}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 5 and "no such eigenfaces model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_fit_command(lfw_dir: Path, tmp_path: Path) -> None:
    """``faceprint eval fit`` on a small people file, its threshold set on a small
    pairs file, then used by name."""
    from faceprint.datasets.lfw import read_pairs, read_people

    people = [p for p in read_people(lfw_dir / "peopleDevTrain.txt")[0] if p[1] >= 4][:40]
    people_file = tmp_path / "people.txt"
    people_file.write_text(f"{len(people)}\n" + "".join(f"{n}\t{c}\n" for n, c in people))
    pairs = read_pairs(lfw_dir / "pairsDevTrain.txt")
    same = [p for p in pairs if p.same][:40]
    diff = [p for p in pairs if not p.same][:40]
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("40\n" + "".join(f"{p.name1}\t{p.index1}\t{p.index2}\n" for p in same)
                          + "".join(f"{p.name1}\t{p.index1}\t{p.name2}\t{p.index2}\n"
                                    for p in diff))
    out = tmp_path / "fisher.npz"
    proc = subprocess.run(
        [sys.executable, "-m", "faceprint.cli", "eval", "fit", "fisherfaces", "--data",
         str(lfw_dir), "--people", str(people_file), "--pairs", str(pairs_file), "--out",
         str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "fitted fisherfaces on" in proc.stdout and "threshold" in proc.stdout
    from faceprint.registry import create_embedder

    model = create_embedder(f"fisherfaces:{out}")
    assert 0.0 < model.threshold < 2.0 and model.metric == "cosine"
    proc = subprocess.run([sys.executable, "-m", "faceprint.cli", "eval", "fit", "lbp",
                           "--data", str(lfw_dir)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "needs no fitting" in proc.stderr
