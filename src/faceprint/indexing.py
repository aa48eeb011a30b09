"""Batch indexing of a photo collection on Dask distributed (``faceprint index``).

Every image under a folder is taken through :class:`faceprint.batch.EmbedJob`
(the per-image job of :func:`faceprint.batch.map_images`, run by
:func:`faceprint.batch.run_job`) on Dask workers, each of which builds its own
pipeline from a :class:`faceprint.pipeline.PipelineRecipe`. The driver writes
each finished chunk to the gallery (one user per person folder: the first folder
under the root) or, with ``embed_only``, to the manifest, and then records every
image of the chunk in the **manifest** (an SQLite file): path, size, mtime,
SHA-256 of the content, outcome, the number of faces, the reason of a failure.

A re-run skips every image whose size and mtime (or, when they changed, content
hash) are those of the manifest; a killed run loses at most the chunks in flight:
their gallery writes may have landed without their manifest lines, so a re-run
skips a face whose source is already among the user's faces.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .batch import EmbedJob, Outcome, image_files, run_job
from .errors import FaceLimitError, FaceprintError, GalleryError, UsageError
from .gallery import Gallery
from .pipeline import Pipeline, PipelineRecipe

CHUNK = 16
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, outcome TEXT NOT NULL, faces INTEGER NOT NULL,
    reason TEXT, person TEXT, group_id TEXT, done TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS embeddings (
    path TEXT NOT NULL, face INTEGER NOT NULL, box TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (path, face));
"""
OUTCOMES = ("enrolled", "embedded", "no-face", "failed")

_worker_pipes: dict[PipelineRecipe, Pipeline] = {}


def _chunk_on_worker(recipe: PipelineRecipe, paths: list[str]) -> list[Outcome[Any]]:
    """On a Dask worker: the embed job over a chunk, with this worker's pipeline."""
    pipe = _worker_pipes.get(recipe)
    if pipe is None:
        os.environ.setdefault("FACEPRINT_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import cv2

        cv2.setNumThreads(1)
        pipe = _worker_pipes[recipe] = recipe.build()
    return run_job(EmbedJob(largest_only=False), pipe, paths)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Manifest:
    """What was done to each image (an SQLite file; one transaction per chunk)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30)
            self.conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise GalleryError(f"{self.path}: cannot open the index manifest ({exc})") from None

    def known(self) -> dict[str, tuple[int, int, str]]:
        return {p: (s, m, h) for p, s, m, h in self.conn.execute(
            "SELECT path, size, mtime_ns, sha256 FROM files")}

    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        with self.conn:
            self.conn.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                              (size, mtime_ns, path))

    def record(self, rows: Sequence[tuple[Any, ...]],
               embeddings: Sequence[tuple[str, int, str, bytes]] = ()) -> None:
        with self.conn:
            for r in rows:
                self.conn.execute("DELETE FROM embeddings WHERE path = ?", (r[0],))
            self.conn.executemany("INSERT OR REPLACE INTO files VALUES "
                                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self.conn.executemany("INSERT INTO embeddings VALUES (?, ?, ?, ?)", embeddings)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(OUTCOMES, 0)
        out.update({o: int(n) for o, n in self.conn.execute(
            "SELECT outcome, COUNT(*) FROM files GROUP BY outcome")})
        out["faces"] = int(self.conn.execute("SELECT COALESCE(SUM(faces), 0) FROM files "
                                              "WHERE outcome IN ('enrolled', 'embedded')"
                                              ).fetchone()[0])
        return out

    def close(self) -> None:
        self.conn.close()


@dataclass
class Todo:
    path: Path
    size: int
    mtime_ns: int
    digest: str


def plan(root: Path, manifest: Manifest) -> tuple[list[Todo], int]:
    """The images under ``root`` that are new or changed, and how many are skipped."""
    known = manifest.known()
    todo, skipped = [], 0
    for path in image_files([root]):
        st = path.stat()
        key = str(path)
        was = known.get(key)
        if was is not None and was[:2] == (st.st_size, st.st_mtime_ns):
            skipped += 1
            continue
        digest = sha256(path)
        if was is not None and was[2] == digest:
            manifest.touch(key, st.st_size, st.st_mtime_ns)
            skipped += 1
            continue
        todo.append(Todo(path, st.st_size, st.st_mtime_ns, digest))
    return todo, skipped


def person_of(root: Path, path: Path) -> str:
    rel = path.relative_to(root)
    if len(rel.parts) < 2:
        raise GalleryError(f"{path}: not inside a person folder (DIR/PERSON/IMAGE)")
    return rel.parts[0]


def _largest(faces: Sequence[Any]) -> int:
    return int(np.argmax([f.box.width * f.box.height for f in faces]))


def write_chunk(root: Path, todo: dict[str, Todo], outs: list[Outcome[Any]],
                gallery: Gallery | None, group: str, embedder: str, manifest: Manifest
                ) -> list[str]:
    """Store one finished chunk (gallery first, then its manifest lines); returns each
    image's outcome."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rows, embs, outcomes = [], [], []
    for out in outs:
        item = todo[out.source]
        person, reason, faces = None, out.error, 0
        if out.value is None:
            outcome = "failed"
        else:
            found, vectors = out.value
            faces = len(found)
            if not faces:
                outcome = "no-face"
            elif gallery is None:
                outcome = "embedded"
                for i, (face, vec) in enumerate(zip(found, vectors)):
                    embs.append((out.source, i, ",".join(str(x) for x in face.box.as_list()),
                                 np.asarray(vec, "<f4").tobytes()))
            else:
                try:
                    person = person_of(root, item.path)
                    best = _largest(found)
                    faces = 1
                    outcome = "enrolled"
                    if not _already(gallery, group, person, out.source):
                        gallery.add_face_records(person, embedder, vectors[best:best + 1],
                                                 group=group, sources=[out.source],
                                                 boxes=[found[best].box])
                except FaceLimitError as exc:
                    outcome, reason, faces = "failed", str(exc), 0
                except GalleryError as exc:
                    outcome, reason, faces = "failed", str(exc), 0
        rows.append((out.source, item.size, item.mtime_ns, item.digest, outcome, faces, reason,
                     person, group if gallery is not None else None, stamp))
        outcomes.append(outcome)
    manifest.record(rows, embs)
    return outcomes


def _already(gallery: Gallery, group: str, person: str, source: str) -> bool:
    """Whether a face of ``source`` is already among the user's (a run killed between
    its gallery write and its manifest line)."""
    try:
        return any(f.source == source for f in gallery.list_faces(person, group=group))
    except FaceprintError:
        return False


def run_index(root: str | Path, recipe: PipelineRecipe, manifest_path: str | Path, *,
              gallery: Gallery | None, group: str, workers: int = 2,
              scheduler: str | None = None, chunk: int = CHUNK,
              progress: Callable[[int], Any] | None = None,
              on_start: Callable[[int, int], Any] | None = None) -> dict[str, int]:
    """Index every new or changed image under ``root``; returns this run's counts
    (``skipped`` and each outcome) and the manifest's totals (``total_*``)."""
    base = Path(root)
    if not base.is_dir():
        raise UsageError(f"{root}: not a folder")
    if workers < 1 or chunk < 1:
        raise UsageError("--workers and --chunk must be at least 1")
    base = base.resolve()
    manifest = Manifest(manifest_path)
    try:
        if gallery is not None:
            gallery.group(group)  # GroupNotFoundError before any work
        todo, skipped = plan(base, manifest)
        if on_start is not None:
            on_start(len(todo), skipped)
        counts = {"skipped": skipped, **dict.fromkeys(OUTCOMES, 0)}
        by_path = {str(t.path): t for t in todo}
        chunks = [[str(t.path) for t in todo[i:i + chunk]] for i in range(0, len(todo), chunk)]
        for outs in _dask_map(recipe, chunks, workers, scheduler):
            for o in write_chunk(base, by_path, outs, gallery, group, recipe.embedder, manifest):
                counts[o] += 1
            if progress is not None:
                progress(len(outs))
        counts.update({f"total_{k}": v for k, v in manifest.counts().items()})
        return counts
    finally:
        manifest.close()


def _dask_map(recipe: PipelineRecipe, chunks: list[list[str]], workers: int,
              scheduler: str | None) -> Iterator[list[Outcome[Any]]]:
    """Each chunk's outcomes as they finish, from a local Dask cluster on 127.0.0.1
    (``workers`` processes, one thread each) or the scheduler at ``scheduler``; at
    most two chunks per worker in flight."""
    if not chunks:
        return
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout=30)
        else:
            cluster = LocalCluster(host="127.0.0.1", dashboard_address=None, n_workers=workers,
                                   threads_per_worker=1, processes=True,
                                   silence_logs=40)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise GalleryError(f"cannot reach the Dask scheduler {scheduler or 'local'}: {exc}"
                           ) from None
    try:
        slots = max(2, 2 * workers)
        pending = iter(chunks)
        futures = as_completed()
        for part in [c for _, c in zip(range(slots), pending)]:
            futures.add(client.submit(_chunk_on_worker, recipe, part, pure=False))
        for fut in futures:
            yield fut.result()
            nxt = next(pending, None)
            if nxt is not None:
                futures.add(client.submit(_chunk_on_worker, recipe, nxt, pure=False))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
