"""The bias report: the groups file, Wilson intervals, and the split of a real
LFW evaluation by group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import DataError
from faceprint.eval.bias import MIXED, UNLABELLED, by_group, read_groups, wilson


def test_read_groups(tmp_path: Path) -> None:
    f = tmp_path / "g.csv"
    f.write_text("identity,group,note\nAaron Eckhart,B,x\nAbdullah_Gul,A,\n\n")
    assert read_groups(f) == {"Aaron_Eckhart": "B", "Abdullah_Gul": "A"}
    f.write_text("Aaron_Eckhart,B\n")  # no header
    assert read_groups(f) == {"Aaron_Eckhart": "B"}
    f.write_text("identity,group\nAaron_Eckhart,B\nAaron_Eckhart,A\n")
    with pytest.raises(DataError, match="two groups"):
        read_groups(f)
    f.write_text("identity,group\nAaron_Eckhart\n")
    with pytest.raises(DataError, match="needs an identity and a group"):
        read_groups(f)
    with pytest.raises(DataError, match="cannot read"):
        read_groups(tmp_path / "none.csv")


def test_wilson_interval() -> None:
    lo, hi = wilson(90, 100)
    assert lo == pytest.approx(0.8256, abs=1e-3) and hi == pytest.approx(0.9448, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson(100, 100)
    assert hi == pytest.approx(1.0) and lo > 0.96


def test_by_group_on_real_pairs(lfw_dir: Path) -> None:
    """A null control: people split by the first letter of their name. The
    groups' pairs add up to all pairs and their accuracies to the overall one."""
    from faceprint.datasets.lfw import read_people
    from faceprint.eval.lfw import evaluate
    from faceprint.pipeline import PipelineRecipe

    report = evaluate(lfw_dir, PipelineRecipe(), folds=[0, 1], pairs_per_fold=100,
                      progress=False)
    names = [n for s in read_people(lfw_dir / "people.txt") for n, _ in s]
    groups = {n: ("A-M" if n[0] <= "M" else "N-Z") for n in names if not n.startswith("Z")}
    rows = by_group(report, groups)
    assert sum(g.pairs for g in rows) == report.pairs == 200
    assert {g.group for g in rows} <= {"A-M", "N-Z", MIXED, UNLABELLED}
    overall = sum(g.accuracy * g.pairs for g in rows) / report.pairs
    assert overall == pytest.approx(float(np.mean(report.result.correct)))
    mixed = [g for g in rows if g.group == MIXED]
    assert all(g.matched == 0 for g in mixed)  # only different people can be mixed
    for g in rows:
        assert g.accuracy_ci[0] <= g.accuracy <= g.accuracy_ci[1]
    with pytest.raises(DataError, match="no pair"):
        by_group(report, {"Nobody_Here": "X"})


def test_gender_split_per_image(lfw_dir: Path) -> None:
    """The LFW gender lists label images; the five in both lists are left out; pairs
    are female-female, male-male or mixed; the threshold's FAR and FRR and their
    intervals are reported."""
    from faceprint.eval.bias import read_image_labels
    from faceprint.eval.lfw import evaluate
    from faceprint.pipeline import PipelineRecipe

    labels, dropped = read_image_labels(lfw_dir / "gender")
    assert dropped == 5 and 13_200 < len(labels) <= 13_233 - 5  # LFW has 13,233 images
    assert set(labels.values()) == {"female", "male"}
    report = evaluate(lfw_dir, PipelineRecipe(), folds=[0, 1], pairs_per_fold=100,
                      progress=False)
    rows = by_group(report, labels, per_image=True)
    assert {g.group for g in rows} <= {"female-female", "male-male", MIXED, UNLABELLED}
    assert sum(g.pairs for g in rows) == 200
    for g in rows:
        if g.mismatched:
            assert g.far_at_threshold_ci[0] <= g.far_at_threshold <= g.far_at_threshold_ci[1]
        if g.matched:
            assert g.frr_at_threshold_ci[0] <= g.frr_at_threshold <= g.frr_at_threshold_ci[1]
    male = next(g for g in rows if g.group == "male-male")
    assert male.pairs > 100  # most LFW pairs are of men
    with pytest.raises(DataError, match="cannot read"):
        read_image_labels(lfw_dir / "no-such-folder")
