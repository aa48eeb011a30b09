"""Batch embedding (faceprint.batch.embed_many): worker processes and worker threads
give the same faces and embeddings, in input order, with unreadable files reported
and not fatal. Real models on real photos (scikit-image's astronaut)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceprint.batch import close_workers, embed_many, worker_pids
from faceprint.errors import UsageError
from faceprint.pipeline import Pipeline
from faceprint.registry import create_detector


@pytest.fixture(scope="module")
def folder(astronaut: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Eleven files: the astronaut at several sizes and mirrored, a face-free image
    and a broken file, in a known order."""
    d = tmp_path_factory.mktemp("album")
    bgr = cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR)
    paths = []
    for i in range(9):
        scale = 0.5 + 0.1 * i
        image = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if i % 2:
            image = image[:, ::-1]
        paths.append(d / f"{i:02d}-astronaut.jpg")
        cv2.imwrite(str(paths[-1]), image)
    paths.append(d / "09-grey.png")
    cv2.imwrite(str(paths[-1]), np.full((200, 300, 3), 128, np.uint8))
    paths.append(d / "10-broken.jpg")
    paths[-1].write_text("not an image")
    return paths


def test_processes_and_threads_agree(folder: list[Path]) -> None:
    pipe = Pipeline("hog")
    try:
        by_process = list(embed_many(pipe, folder, workers=2, processes=True))
        assert len(worker_pids()) == 2
        again = list(embed_many(pipe, folder[:3], workers=2))  # the kept workers
    finally:
        close_workers()
    assert worker_pids() == []
    by_thread = list(embed_many(pipe, folder, workers=2, processes=False))
    assert [r.path for r in by_process] == [str(p) for p in folder]
    assert [r.path for r in by_thread] == [str(p) for p in folder]
    for a, b in zip(by_process, by_thread, strict=True):
        assert (a.error is None) == (b.error is None)
        assert len(a.faces) == len(b.faces)
        if a.faces:
            assert a.embeddings is not None and b.embeddings is not None
            np.testing.assert_allclose(a.embeddings, b.embeddings, atol=1e-5)
            assert [f.box for f in a.faces] == [f.box for f in b.faces]
    assert all(len(r.faces) >= 1 for r in by_process[:9])
    assert by_process[9].error is None and by_process[9].faces == []
    assert by_process[10].error is not None and "10-broken.jpg" in by_process[10].error
    assert len(again) == 3 and again[0].embeddings is not None
    np.testing.assert_allclose(again[0].embeddings, by_process[0].embeddings, atol=1e-6)


def test_a_pipeline_built_from_objects_uses_threads(folder: list[Path]) -> None:
    pipe = Pipeline(create_detector("hog"))
    assert pipe.recipe() is None
    results = list(embed_many(pipe, folder[:2], workers=2))
    assert worker_pids() == [] and all(len(r.faces) >= 1 for r in results)
    with pytest.raises(UsageError, match="given by name"):
        list(embed_many(pipe, folder[:2], workers=2, processes=True))
