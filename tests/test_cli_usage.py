"""Every usage mistake is a :class:`~faceprint.errors.UsageError`: exit status 2, one
line on stderr naming the mistake, no traceback, and nothing written (no gallery
file, no output). The command lines run through ``faceprint.cli.main`` in this
process (the same code the console script runs; ``test_cli_errors.py`` runs real
processes); library calls with bad arguments raise the same error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import require_module
from faceprint.cli import main
from faceprint.errors import FaceprintError, UsageError

# (command line, part of the one-line message); IMG is a real photo, EMPTY an empty
# folder, both in the test's own folder (the current directory)
BAD_COMMAND_LINES = [
    ("embed EMPTY --out x.npz", "no image files found in EMPTY"),
    ("embed IMG --out x.csv", "x.csv: the output must end in .npz or .parquet"),
    ("enroll Bob IMG --meta novalue --db g.db", "--meta takes KEY=VALUE, got 'novalue'"),
    ("enroll Bob IMG --meta =x --db g.db", "--meta takes KEY=VALUE, got '=x'"),
    ("forget --db g.db", "forget needs a NAME or --face TOKEN"),
    ("identify IMG -k 0 --db g.db", "-k takes a number of people from 1 up; got 0"),
    ("train", "faceprint train needs --data DIR (or --resume CHECKPOINT)"),
    ("export a.pt b.onnx --pairs p.txt", "--pairs needs --data DIR"),
    ("train --data EMPTY --views 2", "--views is for --loss distill"),
    ("train --data EMPTY --loss distill --teacher=", "distillation needs a teacher embedder"),
    ("train --data EMPTY --device tpu", "unknown device 'tpu'; choose auto, cpu or cuda"),
    ("eval lfw --data EMPTY --folds a", "--folds takes numbers like 1,2,3; got 'a'"),
    ("eval lfw --data EMPTY --folds 0", "--folds counts from 1; got '0'"),
    ("eval lfw --data EMPTY --embedder ,", "no name given"),
    ("eval lfw --data EMPTY --embedder eigenfaces --jitter 1",
     "--jitter is not supported with the classical embedders"),
    ("eval fit lbp --data EMPTY", "only eigenfaces, fisherfaces are fitted"),
    ("eval robustness --data EMPTY", "give --jpeg and/or --pixels levels"),
    ("eval robustness --data EMPTY --jpeg x", "--jpeg takes integers like 10,20,30; got 'x'"),
    ("eval robustness --data EMPTY --jpeg 0", "JPEG quality must be 1..100, got 0"),
    ("eval robustness --data EMPTY --pixels 4", "a face needs at least 16 pixels, got 4"),
    ("eval identify --data EMPTY --gallery a", "--gallery takes numbers like 1,2,3; got 'a'"),
    ("eval report out --data EMPTY --jpeg a", "--jpeg takes numbers like 1,2,3; got 'a'"),
    ("eval report out --data EMPTY --folds 0", "--folds counts from 1; got '0'"),
    ("eval detection --annotations x.xml --detectors ,", "no name given"),
]

# mistakes argparse itself finds: a usage line, then one "faceprint: error:" line
PARSER_MISTAKES = [
    ("detect", "the following arguments are required: IMG"),
    ("detect IMG --no-such-option", "unrecognized arguments: --no-such-option"),
    ("identify IMG -k many", "argument -k: invalid int value: 'many'"),
    ("eval", "the following arguments are required: BENCHMARK"),
    ("train --loss nope", "argument --loss: invalid choice: 'nope'"),
    ("nope", "argument COMMAND: invalid choice: 'nope'"),
]


@pytest.fixture
def workdir(tmp_path: Path, astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> Path:
    Image.fromarray(astronaut).save(tmp_path / "astronaut.jpg")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACEPRINT_DEBUG", "0")
    return tmp_path


def argv(line: str) -> list[str]:
    return [{"IMG": "astronaut.jpg", "EMPTY": "empty"}.get(a, a) for a in line.split()]


def run_main(line: str) -> int:
    try:
        return main(argv(line))
    except SystemExit as exc:  # argparse's errors
        return int(exc.code or 0)


@pytest.mark.parametrize(("line", "message"), BAD_COMMAND_LINES,
                         ids=[line for line, _ in BAD_COMMAND_LINES])
def test_a_usage_mistake_exits_2_with_one_line(line: str, message: str, workdir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    if line.startswith("train --data"):
        require_module("torch")  # these mistakes are found by the training code
    before = sorted(p.name for p in workdir.iterdir())
    assert run_main(line) == 2
    err = capsys.readouterr().err
    [line_out] = err.strip().splitlines()
    assert line_out.startswith("faceprint: ") and message.replace("EMPTY", "empty") in line_out
    assert "Traceback" not in err
    assert sorted(p.name for p in workdir.iterdir()) == before  # nothing written


@pytest.mark.parametrize(("line", "message"), PARSER_MISTAKES,
                         ids=[line for line, _ in PARSER_MISTAKES])
def test_a_parser_mistake_exits_2_with_usage_and_one_error_line(
        line: str, message: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(line) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("usage: faceprint")
    assert lines[-1].startswith("faceprint: error: ") and message in lines[-1]
    assert [x for x in lines if "error" in x] == [lines[-1]]


def test_usage_error_is_a_faceprint_error_with_status_2() -> None:
    assert issubclass(UsageError, FaceprintError) and UsageError.exit_code == 2


def test_bad_degradation_is_a_usage_error() -> None:
    from faceprint.eval.degrade import Degradation, parse_levels

    with pytest.raises(UsageError, match="unknown degradation 'blur'"):
        Degradation("blur", 3)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="JPEG quality must be 1..100, got 101"):
        parse_levels("jpeg", "50,101")


def test_worker_processes_need_a_pipeline_given_by_names(astronaut: np.ndarray,
                                                          tmp_path: Path) -> None:
    from faceprint.batch import embed_many
    from faceprint.detectors.hog import HogDetector
    from faceprint.pipeline import Pipeline

    path = tmp_path / "a.jpg"
    Image.fromarray(astronaut).save(path)
    with pytest.raises(UsageError, match="worker processes need a pipeline whose detector"):
        next(embed_many(Pipeline(HogDetector()), [path], workers=2, processes=True))


def test_landmark_alignment_of_a_face_without_landmarks_is_a_usage_error(
        astronaut: np.ndarray) -> None:
    from faceprint.align import ChipSpec, align
    from faceprint.types import Box, Face

    spec = ChipSpec(112, "landmarks5", template=((38.3, 51.7), (73.5, 51.5), (56.0, 71.7),
                                                 (41.5, 92.4), (70.7, 92.2)))
    face = Face(Box(170.0, 60.0, 110.0, 110.0), 1.0)
    with pytest.raises(UsageError, match="aligns on five landmarks"):
        align(astronaut, [face], spec)


def test_bad_training_settings_are_usage_errors() -> None:
    require_module("torch")
    from faceprint.train.loop import TrainConfig, pick_device

    with pytest.raises(UsageError, match="unknown loss 'nope'"):
        TrainConfig(data="d", loss="nope")
    with pytest.raises(UsageError, match="unknown mining 'nope'"):
        TrainConfig(data="d", mining="nope")
    with pytest.raises(UsageError, match="unknown device 'tpu'"):
        pick_device("tpu")


@pytest.mark.parametrize("line", ["eval detection --annotations x.xml --detectors hog,nope",
                                  "eval lfw --data EMPTY --embedder nope"])
def test_an_unknown_model_name_exits_5_like_detect_does(line: str, workdir: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    assert run_main(line) == 5
    [line_out] = capsys.readouterr().err.strip().splitlines()
    assert line_out.startswith("faceprint: unknown ") and "nope" in line_out
