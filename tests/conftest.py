"""Shared test fixtures.

Tests that need the real face data in ``../shared/data`` ask for the
``shared_data`` fixture (or ``lfw_dir``, ``photos_dir``, :func:`require_data`).
When that folder is missing they skip with a clear message, unless
``FACEPRINT_REQUIRE_DATA=1`` (set by CI), in which case they fail: CI must never
pass by skipping the tests that matter. Tests that need an optional package
(torch, dlib, onnxruntime) call :func:`require_module` instead of
``pytest.importorskip``: the same skip, and the same failure under
``FACEPRINT_REQUIRE_DATA=1``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

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


def require_module(name: str) -> ModuleType:
    """The module ``name`` (torch, dlib, onnxruntime ...), imported; skip the test (or
    the whole test file, when called at its top) when it is not installed, or fail
    under FACEPRINT_REQUIRE_DATA=1, as :func:`require_data` does."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = f"{name} is not installed ({exc}); install the test and train extras"
        if os.environ.get("FACEPRINT_REQUIRE_DATA") == "1":
            pytest.fail(message + " (FACEPRINT_REQUIRE_DATA=1: required)", pytrace=False)
        pytest.skip(message, allow_module_level=True)


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
