"""The embedded gallery of faceprint 0.1's API: one SQLite file (the store) and a
FAISS index beside it (``<file>.faiss/``); see :mod:`.store.sqlite` for the file's
layout and :mod:`.index.faiss` for the index."""

from __future__ import annotations

from pathlib import Path

from .base import default_db_path
from .core import Gallery
from .index.faiss import FaissIndex
from .model import MAX_FACES_PER_USER
from .store.sqlite import APPLICATION_ID, SCHEMA_VERSION, SqliteStore

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "SqliteGallery", "index_path"]


def index_path(db: str | Path) -> Path:
    """Where the FAISS index of a gallery file lives: ``<file>.faiss/``."""
    p = Path(db)
    return p.with_name(p.name + ".faiss")


class SqliteGallery(Gallery):
    """A gallery in one SQLite file (created if missing; ``":memory:"`` for a
    throw-away one) with its FAISS index beside it. Use as a context manager or
    call :meth:`close`. ``index``: ``flat`` (exact, default), ``sq8``, ``fp16``,
    ``hnsw``; ``index=None`` searches by brute force over the store."""

    def __init__(self, path: str | Path | None = None, *, timeout: float = 30.0,
                 index: str | None = "flat", max_faces: int = MAX_FACES_PER_USER) -> None:
        location = default_db_path() if path is None else path
        store = SqliteStore(location, timeout=timeout, max_faces=max_faces)
        try:
            where = None if str(location) == ":memory:" else index_path(location)
            vindex = None if index is None else FaissIndex(store, where, kind=index)
        except BaseException:
            store.close()
            raise
        super().__init__(store, vindex, location=str(location))
        self.path = location

    def __enter__(self) -> SqliteGallery:
        return self
