"""The Gallery protocol, and where the default gallery file lives."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..types import Box, Match, Metric, Person, StoredFace


def default_db_path() -> Path:
    """``$FACEPRINT_DB`` if set, else ``gallery.db`` in the user's data directory
    (``~/.local/share/faceprint`` on Linux)."""
    env = os.environ.get("FACEPRINT_DB")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("faceprint")) / "gallery.db"


@runtime_checkable
class Gallery(Protocol):  # the flat API (faceprint 0.1); gallery.core.Gallery implements it
    """People with names and metadata, each with faces embedded by named embedders."""

    def add_person(self, name: str, metadata: dict[str, object] | None = None) -> Person: ...

    def add_faces(self, name: str, embedder: str, vectors: np.ndarray, *,
                  sources: Sequence[str | None] | None = None,
                  boxes: Sequence[Box | None] | None = None,
                  metadata: dict[str, object] | None = None) -> list[int]: ...

    def people(self) -> list[Person]: ...

    def person(self, name: str) -> Person: ...

    def faces(self, name: str) -> list[StoredFace]: ...

    def rename(self, old: str, new: str) -> Person: ...

    def set_metadata(self, name: str, metadata: dict[str, object]) -> Person: ...

    def remove_person(self, name: str) -> int: ...

    def remove_face(self, face_id: int) -> None: ...

    def count_faces(self, embedder: str | None = None) -> int: ...

    def search(self, embedder: str, vectors: np.ndarray, metric: Metric, k: int = 1
               ) -> list[list[Match]]: ...

    def close(self) -> None: ...
