"""Degradations for the robustness sweeps: JPEG re-encoding and face resolution
change a real face image as intended, and the sweep runs on a small subset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import UsageError
from faceprint.eval.degrade import FACE_BOX_FRACTION, Degradation, face_pixels, jpeg, parse_levels


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_jpeg_quality_orders_the_error(astronaut: np.ndarray) -> None:
    psnr = [_psnr(astronaut, jpeg(astronaut, q)) for q in (10, 30, 70, 90)]
    assert psnr == sorted(psnr) and psnr[0] < 30 < psnr[-1]
    assert jpeg(astronaut, 50).shape == astronaut.shape


def test_face_pixels_removes_detail(astronaut: np.ndarray) -> None:
    def detail(img: np.ndarray) -> float:  # energy of the horizontal gradient
        return float(np.abs(np.diff(img.astype(np.float64), axis=1)).mean())

    small = face_pixels(astronaut, 1_600)
    mid = face_pixels(astronaut, 6_400)
    assert small.shape == mid.shape == astronaut.shape
    assert detail(small) < detail(mid) < detail(astronaut)
    # the face box of a 512 x 512 image holds FACE_BOX_FRACTION * 512^2 pixels:
    # asking for that many is (almost) the identity
    native = round(FACE_BOX_FRACTION * 512 * 512)
    assert _psnr(astronaut, face_pixels(astronaut, native)) > 60


def test_levels_and_errors() -> None:
    assert parse_levels("jpeg", "10, 90") == [Degradation("jpeg", 10), Degradation("jpeg", 90)]
    assert Degradation("pixels", 1600).label == "1,600 px (40x40)"
    with pytest.raises(UsageError, match="1..100"):
        Degradation("jpeg", 0)
    with pytest.raises(UsageError, match="integers"):
        parse_levels("pixels", "a,b")
    with pytest.raises(UsageError, match="unknown degradation"):
        Degradation("blur", 3)  # type: ignore[arg-type]


@pytest.mark.slow  # 105 s on the shared 2-core machine (pytest --durations)
def test_sweep_on_a_subset(lfw_dir: Path) -> None:
    """200 pairs of folds 1-2: JPEG quality 10 and 40 x 40 faces cost accuracy.
    Measured on this subset: see the test's assertion messages."""
    from faceprint.eval.robustness import rows, sweep
    from faceprint.pipeline import PipelineRecipe

    base, reports = sweep(lfw_dir, PipelineRecipe(),
                          [Degradation("pixels", 1_600), Degradation("jpeg", 10)],
                          folds=[0, 1], pairs_per_fold=100, progress=False)
    table = rows(base, reports)
    assert [t["label"] for t in table] == ["original", "1,600 px (40x40)", "JPEG q10"]
    acc = [r.result.auc for r in (base, *reports)]
    assert acc[1] < acc[0], acc  # 40 x 40 faces separate worse than the originals
    assert base.result.accuracy_mean > 0.95
