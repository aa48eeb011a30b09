"""Moving galleries between files and backends: Parquet export/import and migrate.

The Parquet file is one table, one row per record (``kind`` = group, user or
face), in the store's order; vectors are the float32 little-endian bytes of the
store (so a round trip is bit for bit), user_info the canonical JSON text, face
tokens and creation times kept, and a face's ``thumbnail`` (its small JPEG) where
the source keeps one (the SQLite store; null from Milvus, which keeps none, and
absent from exports written before thumbnails existed, which still import). The
file's metadata says the format version.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import GalleryError
from .core import Gallery

FORMAT = "faceprint-gallery/1"
COLUMNS = ("kind", "group_id", "group_created", "user_id", "user_info", "user_created",
           "face_token", "embedder", "dim", "vector", "source", "box", "quality",
           "face_created", "thumbnail")


def _pa() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise GalleryError("gallery export/import needs pyarrow "
                           "(pip install 'faceprint[parquet]')") from None
    return pa, pq


def _schema(pa: Any) -> Any:
    s, i, b, f = pa.string(), pa.int32(), pa.binary(), pa.float64()
    types = {"dim": i, "vector": b, "quality": f, "thumbnail": b}
    return pa.schema([(c, types.get(c, s)) for c in COLUMNS],
                     metadata={b"format": FORMAT.encode()})


def _store(gallery: Gallery) -> Any:
    store = gallery.store
    if not hasattr(store, "dump") or not hasattr(store, "load"):
        raise GalleryError(f"{gallery.path}: this backend cannot export or import")
    return store


def export_parquet(gallery: Gallery, path: str | Path, *, batch: int = 20000) -> dict[str, int]:
    """Every group, user and face (with its vector) to one Parquet file."""
    pa, pq = _pa()
    schema = _schema(pa)
    counts = {"group": 0, "user": 0, "face": 0}
    out = Path(path)
    tmp = out.with_name(out.name + ".part")
    try:
        with pq.ParquetWriter(str(tmp), schema) as writer:
            rows: list[dict[str, Any]] = []
            for row in _store(gallery).dump():
                counts[row["kind"]] += 1
                rows.append(row)
                if len(rows) >= batch:
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                    rows = []
            if rows or not any(counts.values()):
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GalleryError(f"{out}: cannot write ({exc})") from None
    return counts


def _read(path: str | Path) -> Iterator[dict[str, Any]]:
    pa, pq = _pa()
    try:
        pf = pq.ParquetFile(str(path))
    except (OSError, pa.ArrowException) as exc:
        raise GalleryError(f"{path}: not a readable Parquet file ({exc})") from None
    meta = pf.schema_arrow.metadata or {}
    if meta.get(b"format") != FORMAT.encode():
        raise GalleryError(f"{path}: not a faceprint gallery export ({FORMAT})")
    for rb in pf.iter_batches(batch_size=20000):
        yield from rb.to_pylist()


def import_parquet(gallery: Gallery, path: str | Path) -> dict[str, int]:
    """Add an export's records to a gallery in one transaction (nothing on error)."""
    counts = {"group": 0, "user": 0, "face": 0}

    def counted() -> Iterator[dict[str, Any]]:
        for row in _read(path):
            counts[row["kind"]] += 1
            yield row

    _store(gallery).load(counted())
    if gallery.index is not None:
        gallery.index.sync()
    return counts


def migrate(src: str | Path, dst: str | Path) -> dict[str, int]:
    """Copy every record of the gallery ``src`` into ``dst`` (any two backends
    :func:`open_gallery` knows). A schema-1 ``src`` is read through a migrated
    temporary copy, so ``src`` itself is left as it is."""
    from . import open_gallery

    src_path = Path(str(src))
    with tempfile.TemporaryDirectory() as tmpdir:
        source: str | Path = src
        if src_path.is_file():
            try:
                with sqlite3.connect(f"file:{src_path}?mode=ro", uri=True) as conn:
                    version = conn.execute("PRAGMA user_version").fetchone()[0]
                conn.close()
            except sqlite3.Error:
                version = 0
            if version == 1:
                source = Path(tmpdir) / "source.db"
                with sqlite3.connect(f"file:{src_path}?mode=ro", uri=True) as conn, \
                        sqlite3.connect(source) as copy:
                    conn.backup(copy)
                conn.close()
                copy.close()
        elif not str(src).count(":"):
            raise GalleryError(f"{src}: no such gallery")
        with open_gallery(source, index=None) as a, open_gallery(dst) as b:
            counts = {"group": 0, "user": 0, "face": 0}

            def counted() -> Iterator[dict[str, Any]]:
                for row in _store(a).dump():
                    counts[row["kind"]] += 1
                    yield row

            _store(b).load(counted())
            if b.index is not None:
                b.index.sync()
    return counts
