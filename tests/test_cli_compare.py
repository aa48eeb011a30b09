"""``faceprint compare`` run as a real process on LFW photos."""

from __future__ import annotations

import json
from pathlib import Path

from cli_process import ok, run


def test_compare_same_and_different(lfw_people: dict[str, list[Path]]) -> None:
    cp, sw = lfw_people["Colin_Powell"], lfw_people["Serena_Williams"]
    same = json.loads(ok(run("compare", cp[0], cp[1], "--json")).stdout)
    assert same["same"] is True and same["distance"] < same["threshold"]
    assert set(same) >= {"distance", "threshold", "same"}
    diff = ok(run("compare", cp[0], sw[0]))
    assert "different people" in diff.stdout
