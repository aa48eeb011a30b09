"""The embedded search index: FAISS, one sub-index per (embedder, space, group).

Spaces. ``cosine`` embedders are searched by inner product on unit vectors
(``IndexFlatIP`` on L2-normalised vectors; distance = 1 - inner product).
``euclidean`` / ``sqeuclidean`` embedders are searched by exact L2 on their own
vectors (``IndexFlatL2``): dlib-resnet's vectors are not unit length (norms
1.27-1.64 on 360 LFW faces) and its 0.6 threshold is a plain L2 between them,
so normalising would change which person is nearest; the identity
``||a - b||^2 = 2 - 2 a.b`` holds only on unit vectors. Each sub-index is an
``IndexIDMap2`` (ids are the store's face ids).

Groups. Every group has its own sub-index, so a search in one group touches only
that group's vectors and a search in several merges their answers; no id
filter runs per vector.

Kinds. ``flat`` (exact, the default; a group of 20,000 faces or more is searched
by :mod:`.int8scan`'s int8 first pass with proven bounds, then exactly on the
candidates: the same answer in about a third of the time); ``sq8`` / ``fp16`` (scalar-quantised
codes, 4x / 2x less memory, approximate); ``hnsw`` (a graph over the exact
vectors, M=32, efSearch 128: faster at scale, approximate). For ``flat`` and
``hnsw`` the candidates are re-scored with :func:`faceprint.distance.pairwise`
on the stored vectors, so distances equal the old gallery's.

Persistence. ``<db>.faiss/`` holds one ``.faiss`` file and one id map
(``.ids.npy``: face ids and user refs) per sub-index and ``manifest.json``
(the store's id and change counter it reflects, the kind). Files are written
under a fresh generation name and the manifest replaced last (atomically), so
a reader sees one whole generation. On open the files are memory-mapped
(``faiss.IO_FLAG_MMAP``); a missing, truncated or unreadable file, another
store's files, or another kind mean a rebuild from the store; a counter behind
the store's is caught up from the store's change log.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ...distance import pairwise
from ...errors import GalleryError
from ...types import Metric
from ..model import Store
from .int8scan import MIN_VECTORS, PASS_AFTER, Int8Scan

SPACES: dict[str, str] = {"euclidean": "l2", "sqeuclidean": "l2", "cosine": "ip"}
KINDS = ("flat", "sq8", "fp16", "hnsw")
HNSW_M = 32
HNSW_EF_SEARCH = 128
HNSW_EF_CONSTRUCTION = 80
MANIFEST_FORMAT = 1
SAVE_AFTER_CHANGES = 10_000


_F = TypeVar("_F", bound=Callable[..., Any])


def _synchronized(method: _F) -> _F:
    """One thread at a time in the index's state (an RLock: methods call each other)."""

    @functools.wraps(method)
    def locked(self: FaissIndex, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


def _faiss():  # type: ignore[no-untyped-def]
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - a dependency
        raise GalleryError(f"the gallery's index needs faiss-cpu ({exc})") from None
    return faiss


@dataclass
class _Sub:
    """One sub-index and its id map (face ids ascending, their user refs)."""

    index: object
    ids: np.ndarray
    urefs: np.ndarray
    scan: Int8Scan | None = None  # the exact int8 first pass of a large flat sub-index
    answered: int = 0  # queries answered since this object opened it

    @property
    def ntotal(self) -> int:
        return len(self.ids)


def _prepare(vectors: np.ndarray, space: str) -> np.ndarray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if space == "ip":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        x = np.ascontiguousarray(x, dtype=np.float32)
    return x


def _search(index: object, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``index.search``; fewer than 20 queries run on one OpenMP thread (FAISS's flat
    search splits queries, not vectors, over threads, so a single query gains
    nothing from more, and waiting for a second busy core cost 10-25 ms a query
    on a loaded 2-core machine)."""
    faiss = _faiss()
    if len(queries) >= 20:
        return index.search(queries, k)  # type: ignore[attr-defined]
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(queries, k)  # type: ignore[attr-defined]
    finally:
        faiss.omp_set_num_threads(threads)


class FaissIndex:
    """FAISS sub-indexes over one store, persisted under ``path`` (None: memory only)."""

    def __init__(self, store: Store, path: str | Path | None, *, kind: str = "flat") -> None:
        if kind not in KINDS:
            raise GalleryError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
        self.store = store
        self.path = None if path is None else Path(path)
        self.kind = kind
        self.changes = -1  # the store change this index reflects (-1: nothing built)
        self.saved_changes = -2
        self.rebuilt = 0  # how many full rebuilds this object did (tests read it)
        self.loaded_from_disk = False
        self._built_here = False  # a (re)build happened in this object: worth saving
        self._subs: dict[tuple[str, str, str], _Sub] = {}
        self._built: set[tuple[str, str]] = set()  # (embedder, space) fully materialised
        self._dims: dict[str, int] = {}
        self._lock = threading.RLock()
        self._load()

    # -- persistence -------------------------------------------------------------------
    def _manifest_path(self) -> Path:
        assert self.path is not None
        return self.path / "manifest.json"

    def _load(self) -> None:
        """Memory-map the saved index if it belongs to this store and kind."""
        if self.path is None or not self._manifest_path().is_file():
            return
        faiss = _faiss()
        try:
            man = json.loads(self._manifest_path().read_text())
            if (man.get("format") != MANIFEST_FORMAT or man.get("store_id") !=
                    self.store.store_id() or man.get("kind") != self.kind
                    or int(man["changes"]) > self.store.changes()):
                return
            subs: dict[tuple[str, str, str], _Sub] = {}
            for entry in man["subs"]:
                index = faiss.read_index(str(self.path / entry["file"]), faiss.IO_FLAG_MMAP)
                idmap = np.load(self.path / entry["ids"])
                if idmap.shape != (2, index.ntotal) or index.ntotal != entry["count"]:
                    return
                subs[(entry["embedder"], entry["space"], entry["group"])] = _Sub(
                    index, np.array(idmap[0]), np.array(idmap[1]))
            self._subs = subs
            self._built = {(e, s) for e, s in man["built"]}
            self._dims = {k: int(v) for k, v in man["dims"].items()}
            self.changes = self.saved_changes = int(man["changes"])
            self.loaded_from_disk = True
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            self._subs, self._built, self._dims = {}, set(), {}
            self.changes = -1

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.path is not None
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @_synchronized
    def save(self) -> None:
        """Write the index beside the store (no-op when nothing changed since)."""
        if self.path is None or self.changes < 0 or self.changes == self.saved_changes:
            return
        faiss = _faiss()
        try:
            with self._locked():
                gen = uuid.uuid4().hex[:12]
                entries = []
                for n, ((emb, space, group), sub) in enumerate(sorted(self._subs.items())):
                    stem = f"{gen}-{n}"
                    faiss.write_index(sub.index, str(self.path / f"{stem}.faiss"))
                    np.save(self.path / f"{stem}.ids.npy", np.stack([sub.ids, sub.urefs]))
                    entries.append({"embedder": emb, "space": space, "group": group,
                                    "file": f"{stem}.faiss", "ids": f"{stem}.ids.npy",
                                    "count": sub.ntotal})
                man = {"format": MANIFEST_FORMAT, "store_id": self.store.store_id(),
                       "changes": self.changes, "kind": self.kind, "subs": entries,
                       "built": sorted(self._built), "dims": self._dims}
                tmp = self.path / f".manifest-{gen}.json"
                tmp.write_text(json.dumps(man, indent=1))
                os.replace(tmp, self._manifest_path())
                keep = {e["file"] for e in entries} | {e["ids"] for e in entries}
                for f in self.path.iterdir():
                    if f.name not in keep and f.name not in ("manifest.json", ".lock"):
                        f.unlink(missing_ok=True)
            self.saved_changes = self.changes
            self._built_here = False
        except OSError as exc:
            # the store holds the truth; an unsaved index is rebuilt next time
            import warnings

            warnings.warn(f"could not save the search index in {self.path}: {exc}",
                          stacklevel=2)

    # -- building ----------------------------------------------------------------------
    def _new_index(self, dim: int, space: str, train: np.ndarray | None) -> object:
        faiss = _faiss()
        metric = faiss.METRIC_INNER_PRODUCT if space == "ip" else faiss.METRIC_L2
        if self.kind == "flat":
            inner = faiss.IndexFlatIP(dim) if space == "ip" else faiss.IndexFlatL2(dim)
        elif self.kind in ("sq8", "fp16"):
            qt = faiss.ScalarQuantizer.QT_8bit if self.kind == "sq8" else \
                faiss.ScalarQuantizer.QT_fp16
            inner = faiss.IndexScalarQuantizer(dim, qt, metric)
            if not inner.is_trained:
                if train is None or len(train) == 0:
                    raise GalleryError("an sq8 index is trained on its first vectors")
                inner.train(train)
        else:
            inner = faiss.IndexHNSWFlat(dim, HNSW_M, metric)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(inner)  # the wrapper keeps a reference to inner

    def _build(self, embedder: str, space: str) -> None:
        """(Re)build every group's sub-index of one embedder and space from the store."""
        for key in [k for k in self._subs if k[0] == embedder and k[1] == space]:
            del self._subs[key]
        parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for ids, urefs, groups, vecs in self.store.vectors(embedder):
            self._dims[embedder] = vecs.shape[1]
            garr = np.array(groups)
            for g in np.unique(garr):
                sel = garr == g
                parts.setdefault(str(g), []).append((ids[sel], urefs[sel], vecs[sel]))
        for group, chunks in parts.items():
            ids = np.concatenate([c[0] for c in chunks])
            urefs = np.concatenate([c[1] for c in chunks])
            vecs = _prepare(np.concatenate([c[2] for c in chunks]), space)
            index = self._new_index(vecs.shape[1], space, vecs)
            index.add_with_ids(vecs, ids)  # type: ignore[attr-defined]
            self._subs[(embedder, space, group)] = _Sub(index, ids, urefs)
        self._built.add((embedder, space))
        self._built_here = True

    @_synchronized
    def rebuild(self) -> None:
        """Everything again from the store (what a missing or corrupt index gets)."""
        built = set(self._built)
        self._subs, self._built, self._dims = {}, set(), {}
        self.changes = self.store.changes()
        for embedder, space in built:
            self._build(embedder, space)
        if built:
            self.rebuilt += 1

    def _ensure(self, embedder: str, space: str) -> None:
        if (embedder, space) not in self._built:
            if self.changes < 0:
                self.changes = self.store.changes()
            self._build(embedder, space)
            self.rebuilt += 1

    # -- changes -----------------------------------------------------------------------
    @_synchronized
    def sync(self) -> None:
        """Catch up with the store: replay its change log, or rebuild."""
        current = self.store.changes()
        if current == self.changes:
            return
        if self.changes < 0 or current < self.changes:
            self.rebuild()
            return
        log = self.store.changes_since(self.changes)
        if log is None:
            self.rebuild()
            return
        final: dict[int, bool] = {}
        for c in log:
            final[c.face_id] = c.added
        removed = [f for f, added in final.items() if not added]
        added = sorted(f for f, a in final.items() if a)
        if len(added) > 200_000:
            self.rebuild()
            return
        if removed:
            self.remove(removed)
        if added:
            for embedder in {e for e, _ in self._built}:
                for ids, urefs, groups, vecs in self.store.vectors(embedder, added):
                    garr = np.array(groups)
                    for g in np.unique(garr):
                        sel = garr == g
                        self.add(embedder, str(g), ids[sel], urefs[sel], vecs[sel])
        if log:
            self.changes = max(self.changes, log[-1].seq)

    @_synchronized
    def add(self, embedder: str, group_id: str, face_ids: np.ndarray, user_refs: np.ndarray,
            vectors: np.ndarray) -> None:
        """Add faces to every materialised space of ``embedder`` (ids already present are
        skipped, so replaying the log twice is harmless)."""
        face_ids = np.asarray(face_ids, np.int64)
        user_refs = np.asarray(user_refs, np.int64)
        for emb, space in list(self._built):
            if emb != embedder:
                continue
            key = (embedder, space, group_id)
            sub = self._subs.get(key)
            keep = np.ones(len(face_ids), bool)
            if sub is not None and sub.ntotal:
                pos = np.searchsorted(sub.ids, face_ids)
                keep = ~((pos < sub.ntotal) & (sub.ids[np.minimum(pos, sub.ntotal - 1)]
                                              == face_ids))
            if not keep.any():
                continue
            ids, refs = face_ids[keep], user_refs[keep]
            vecs = _prepare(np.asarray(vectors)[keep], space)
            if sub is None:
                sub = _Sub(self._new_index(vecs.shape[1], space, vecs),
                           np.zeros(0, np.int64), np.zeros(0, np.int64))
                self._subs[key] = sub
            sub.index.add_with_ids(vecs, ids)  # type: ignore[attr-defined]
            if sub.scan is not None:
                sub.scan.append(ids, vecs)
            order = np.argsort(np.concatenate([sub.ids, ids]), kind="stable")
            sub.ids = np.concatenate([sub.ids, ids])[order]
            sub.urefs = np.concatenate([sub.urefs, refs])[order]
            self._dims[embedder] = vecs.shape[1]

    @_synchronized
    def remove(self, face_ids: Sequence[int]) -> None:
        faiss = _faiss()
        gone = np.asarray(sorted({int(f) for f in face_ids}), np.int64)
        if not len(gone):
            return
        for key, sub in list(self._subs.items()):
            present = np.isin(sub.ids, gone)
            if not present.any():
                continue
            if self.kind == "hnsw":  # HNSW graphs cannot drop nodes: rebuild that space
                self._built.discard((key[0], key[1]))
                for k in [k for k in self._subs if k[:2] == key[:2]]:
                    del self._subs[k]
                continue
            sub.index.remove_ids(faiss.IDSelectorBatch(sub.ids[present]))  # type: ignore
            if sub.scan is not None:
                sub.scan.drop(sub.ids[present])
            sub.ids, sub.urefs = sub.ids[~present], sub.urefs[~present]

    # -- search ------------------------------------------------------------------------
    @_synchronized
    def size(self, embedder: str, groups: Sequence[str] | None = None) -> int:
        spaces = sorted(sp for em, sp in self._built if em == embedder)
        return sum(s.ntotal for (e, sp, g), s in self._subs.items()
                   if e == embedder and spaces and sp == spaces[0]
                   and (groups is None or g in groups))

    @_synchronized
    def search(self, embedder: str, vectors: np.ndarray, groups: Sequence[str],
               k_faces: int, metric: Metric
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per query: (distances in ``metric``, face ids, user refs), nearest first."""
        space = SPACES.get(metric)
        if space is None:
            raise GalleryError(f"the FAISS index has no {metric!r} space")
        self._ensure(embedder, space)
        queries = _prepare(np.atleast_2d(vectors), space)
        nq = len(queries)
        found: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in range(nq)]
        for group in dict.fromkeys(groups):
            sub = self._subs.get((embedder, space, group))
            if sub is None or sub.ntotal == 0:
                continue
            kk = min(k_faces, sub.ntotal)
            dist, ids = self._search_sub(sub, space, queries, kk)
            for q in range(nq):
                ok = ids[q] >= 0
                fid = ids[q][ok]
                pos = np.searchsorted(sub.ids, fid)
                found[q].append((dist[q][ok], fid, sub.urefs[pos]))
        out = []
        for q in range(nq):
            if not found[q]:
                out.append((np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64)))
                continue
            d = np.concatenate([f[0] for f in found[q]]).astype(np.float64)
            fid = np.concatenate([f[1] for f in found[q]])
            refs = np.concatenate([f[2] for f in found[q]])
            if self.kind in ("flat", "hnsw"):
                d = self._rescore(embedder, space, vectors[q], fid, refs, metric)
            elif space == "ip":
                d = 1.0 - d
            else:
                d = np.maximum(d, 0.0) if metric == "sqeuclidean" else \
                    np.sqrt(np.maximum(d, 0.0))
            order = np.lexsort((fid, d))[:k_faces]
            out.append((d[order], fid[order], refs[order]))
        return out

    def _search_sub(self, sub: _Sub, space: str, queries: np.ndarray, k: int
                    ) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's (scores, ids) of one sub-index; a large flat one through its int8
        first pass once it has answered ``PASS_AFTER`` queries (building the pass costs
        about 20 FAISS scans: a one-off search is cheaper without it), built again when
        changes made it stale."""
        before, sub.answered = sub.answered, sub.answered + len(queries)
        if self.kind != "flat" or sub.ntotal < MIN_VECTORS or (
                sub.scan is None and before < PASS_AFTER):
            return _search(sub.index, queries, k)
        if sub.scan is None or sub.scan.stale:
            faiss = _faiss()
            inner = faiss.downcast_index(sub.index.index)  # type: ignore[attr-defined]
            base = faiss.rev_swig_ptr(inner.get_xb(), inner.ntotal * inner.d)
            rows = faiss.vector_to_array(sub.index.id_map)  # type: ignore[attr-defined]
            sub.scan = Int8Scan(base.reshape(inner.ntotal, inner.d), rows, space)
        return sub.scan.search(queries, k, sub.index.reconstruct_batch)  # type: ignore

    def _rescore(self, embedder: str, space: str, query: np.ndarray, fid: np.ndarray,
                 refs: np.ndarray, metric: Metric) -> np.ndarray:
        """Exact distances of the candidates, as the old gallery computed them."""
        vecs = np.empty((len(fid), self._dims[embedder]), np.float32)
        for (e, s, _), sub in self._subs.items():
            if e == embedder and s == space and sub.ntotal:
                pos = np.searchsorted(sub.ids, fid)
                hit = (pos < sub.ntotal) & (sub.ids[np.minimum(pos, sub.ntotal - 1)] == fid)
                if hit.any():
                    vecs[hit] = sub.index.reconstruct_batch(fid[hit])  # type: ignore
        return pairwise(np.asarray(query, np.float64)[None], vecs, metric)[0]

    def memory_bytes(self) -> int:
        """Bytes the vectors of the sub-indexes take (codes only)."""
        total = 0
        for (emb, _, _), sub in self._subs.items():
            d = self._dims.get(emb, 0)
            per = {"flat": 4 * d, "hnsw": 4 * d + 8 * HNSW_M, "sq8": d, "fp16": 2 * d}[self.kind]
            total += per * sub.ntotal
            if sub.scan is not None:  # its codes (held packed by ONNX Runtime), norms
                total += (d + 8) * len(sub.scan.ids)
        return total

    @_synchronized
    def close(self) -> None:
        """Save when this object built something or is far ahead of the saved files
        (a few new faces are cheaper to replay from the store's log next time than
        to rewrite the whole index for)."""
        if self._built_here or self.changes - self.saved_changes > SAVE_AFTER_CHANGES:
            self.save()
        self._subs = {}
