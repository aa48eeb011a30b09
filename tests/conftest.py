"""Shared test fixtures.

Tests that need the real face data in ``../shared/data`` ask for the
``shared_data`` fixture. When that folder is missing they skip with a clear
message, unless ``FACEPRINT_REQUIRE_DATA=1`` (set by CI), in which case they
fail: CI must never pass by skipping the tests that matter.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data"))


def require_data(*parts: str) -> Path:
    """The path ``SHARED_DATA/parts...``; skip (or fail under FACEPRINT_REQUIRE_DATA=1)
    when it does not exist."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = (f"real face data not found at {path}; put LFW and the photos in "
                   f"../shared/data (see README) or set FACEPRINT_DATA")
        if os.environ.get("FACEPRINT_REQUIRE_DATA") == "1":
            pytest.fail(message + " (FACEPRINT_REQUIRE_DATA=1: required)", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder (``../shared/data``), checked to exist."""
    return require_data()


@pytest.fixture(scope="session")
def lfw_dir() -> Path:
    return require_data("lfw")


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    return require_data("photos")


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (Eileen Collins): a real face any machine can have."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def lfw_people(lfw_dir: Path) -> dict[str, list[Path]]:
    """Four LFW photos each of Colin Powell and Serena Williams."""
    img = lfw_dir / "images"
    return {name: [img / name / f"{name}_{i:04d}.jpg" for i in range(1, 5)]
            for name in ("Colin_Powell", "Serena_Williams")}
