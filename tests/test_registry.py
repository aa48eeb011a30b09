"""The registry is the one place a model is named: every class's ``name`` is its
key, and a detector registered there alone (a small real one, OpenCV's other
frontal Haar cascade) is offered by ``faceprint detect --help``, listed by
``faceprint info``, compared by ``eval detection`` and ``eval report`` with its
own precision-recall threshold, and detects faces through the CLI.

The CLI is called in this process (``faceprint.cli.main``): a registry change here
is not visible to a subprocess."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from faceprint import registry
from faceprint.cli import build_parser, main
from faceprint.detectors.base import BaseDetector, RawFace
from faceprint.registry import DetectorEntry, register_detector
from faceprint.types import Box

TOY = "toy-haar"
#: below every neighbour count the toy reports, so its whole curve is traced
TOY_PR_THRESHOLD = 0.5


class ToyHaarDetector(BaseDetector):
    """OpenCV's ``haarcascade_frontalface_default.xml`` (faceprint's ``haar`` uses
    the ``alt`` cascade); the score is the number of grouped neighbour windows."""

    name: ClassVar[str] = TOY
    #: more than OpenCV's default minNeighbors=3 windows make a face
    default_threshold: ClassVar[float] = 3.0

    def _detect(self, image: np.ndarray) -> list[RawFace]:
        import cv2

        cascade = cv2.CascadeClassifier(
            str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        rects, neighbours = cascade.detectMultiScale2(gray, scaleFactor=1.1, minNeighbors=1,
                                                      minSize=(20, 20))
        return [RawFace(Box(*map(float, r)), float(n))
                for r, n in zip(np.asarray(rects).reshape(-1, 4),
                                np.asarray(neighbours).reshape(-1))
                if n > self.threshold]


@pytest.fixture()
def toy() -> Iterator[str]:
    """The toy detector, registered with one call and removed afterwards."""
    register_detector(TOY, DetectorEntry(f"{__name__}:ToyHaarDetector",
                                         "OpenCV's default frontal Haar cascade (a test toy)",
                                         pr_threshold=TOY_PR_THRESHOLD))
    try:
        yield TOY
    finally:
        registry.DETECTORS.pop(TOY, None)


@pytest.mark.parametrize("name", registry.list_detectors())
def test_every_detector_class_is_named_by_its_key(name: str) -> None:
    assert registry.detector_class(name).name == name


@pytest.mark.parametrize("name", registry.list_embedders())
def test_every_embedder_class_is_named_by_its_key(name: str) -> None:
    assert getattr(registry.embedder_class(name), "name", None) == name


def test_defaults_are_registered() -> None:
    assert registry.DEFAULT_DETECTOR in registry.DETECTORS
    assert registry.DEFAULT_EMBEDDER in registry.EMBEDDERS
    assert set(registry.default_detectors()) <= set(registry.DETECTORS)
    assert set(registry.robustness_embedders()) <= set(registry.default_embedders())


def test_a_taken_name_or_a_malformed_target_is_refused() -> None:
    with pytest.raises(ValueError, match="taken"):
        register_detector("hog", DetectorEntry("faceprint.detectors.hog:HogDetector", "x"))
    with pytest.raises(ValueError, match="module:Class"):
        register_detector("no-class", DetectorEntry("faceprint.detectors.hog", "x"))
    assert "no-class" not in registry.DETECTORS


def _out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """What ``faceprint ARGV`` prints, run in this process."""
    try:
        code = main(argv)
    except SystemExit as exc:  # --help exits 0 through argparse
        code = int(exc.code or 0)
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_a_detector_registered_once_is_offered_everywhere(
        toy: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.eval.detection import pr_thresholds
    from faceprint.eval.report import ReportOptions
    from faceprint.info import collect

    monkeypatch.setenv("COLUMNS", "1000")  # argparse would wrap "toy-haar" at its hyphen
    assert f", {toy} (default" in _out(capsys, ["detect", "--help"])
    assert toy in _out(capsys, ["eval", "detection", "--help"])
    info = collect()
    assert toy in info["detectors"] and "test toy" in info["detector_help"][toy]
    assert f", {toy}" in _out(capsys, ["info"])
    assert pr_thresholds()[toy] == TOY_PR_THRESHOLD
    assert toy in ReportOptions(data=Path(".")).detectors
    report_args = build_parser().parse_args(["eval", "report", "out", "--data", "lfw"])
    assert toy in report_args.detectors.split(",")


def test_the_registered_toy_detects_a_real_face(
        toy: str, astronaut: np.ndarray, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from faceprint.viz import save_image

    faces = registry.create_detector(toy).detect(astronaut)
    assert faces and faces[0].detector == toy
    # Eileen Collins's face as hog boxes it:
    # faceprint.registry.create_detector("hog").detect(skimage.data.astronaut())[0].box
    assert Box(175, 76, 91, 91).iou(faces[0].box) > 0.5
    assert faces[0].landmarks is not None  # filled in by BaseDetector from dlib's model
    image = tmp_path / "astronaut.png"
    save_image(astronaut, image)
    report: dict[str, Any] = json.loads(_out(capsys, ["detect", str(image), "--detector", toy,
                                                      "--json"]))
    assert report["images"][0]["faces"][0]["box"] == faces[0].box.as_list()


@pytest.mark.data
def test_eval_detection_scores_the_toy_with_its_own_threshold(
        toy: str, photos_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "detection.json"
    _out(capsys, ["eval", "detection", "--annotations", str(photos_dir / "testing.xml"),
                  "--detectors", toy, "--json", str(out)])
    result = json.loads(out.read_text())
    (row,) = [r for r in result if r["detector"] == toy]
    assert 0.0 < row["ap50"] <= 1.0
    assert row["recall"] > 0.0


def test_docs_name_every_model_with_its_licence() -> None:
    from faceprint.weights import WEIGHTS

    text = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text()
    for name in [*registry.DETECTORS, *registry.EMBEDDERS]:
        assert f"| `{name}` |" in text, name
    for key, wf in WEIGHTS.items():
        assert f"| `{key}` | {wf.description} |" in text and wf.licence in text, key
