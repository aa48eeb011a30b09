"""Galleries: groups of users, their faces, and 1:N search.

A :class:`Gallery` composes a :class:`Store` (records and vectors, the source
of truth) and a :class:`VectorIndex` (search, rebuildable from the store).
:func:`open_gallery` opens one from a URL; a plain path is the embedded default,
SQLite + FAISS (:class:`SqliteGallery`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GalleryError
from .base import default_db_path
from .core import Gallery
from .model import DEFAULT_GROUP, MAX_FACES_PER_USER, Store, VectorIndex
from .sqlite import SqliteGallery

__all__ = ["DEFAULT_GROUP", "MAX_FACES_PER_USER", "Gallery", "SqliteGallery", "Store",
           "VectorIndex", "default_db_path", "open_gallery"]


def open_gallery(url: str | Path | None = None, *, index: str | None = "flat",
                 max_faces: int = MAX_FACES_PER_USER) -> Gallery:
    """Open a gallery: ``PATH`` or ``sqlite:PATH`` (SQLite store + FAISS index beside
    it; ``index`` says which kind: flat, sq8, fp16, hnsw), ``milvus://HOST:PORT/NAME``
    (a Milvus server) or ``milvus-lite:PATH.db`` (records and vectors in Milvus;
    see :mod:`.milvus`). None: the default file."""
    if url is None:
        return SqliteGallery(default_db_path(), index=index, max_faces=max_faces)
    text = str(url)
    if text.startswith(("milvus://", "milvus-lite:")):
        from .milvus import MilvusGallery

        return MilvusGallery(text, max_faces=max_faces)
    scheme, sep, rest = text.partition(":")
    if sep and len(scheme) > 1 and scheme.isalpha() and not rest.startswith("\\"):
        if scheme == "sqlite":
            return SqliteGallery(rest, index=index, max_faces=max_faces)
        if text == ":memory:":
            return SqliteGallery(text, index=index, max_faces=max_faces)
        raise GalleryError(f"{text}: unknown gallery URL scheme {scheme!r} (use a file path, "
                           "sqlite:PATH, milvus://HOST:PORT/NAME or milvus-lite:PATH.db)")
    return SqliteGallery(text, index=index, max_faces=max_faces)
