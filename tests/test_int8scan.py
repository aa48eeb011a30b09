"""The int8 first pass of large flat sub-indexes gives exactly FAISS's flat answer.

Its bound is checked directly (every approximate score lies within it of the exact
one), its answers against ``faiss.IndexFlat*`` on random and on clustered vectors
(where the bound admits many candidates), and through a real SQLite gallery whose
faces are added and removed after the pass was built.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from faceprint.distance import pairwise
from faceprint.gallery import SqliteGallery
from faceprint.gallery.index import faiss as faiss_index
from faceprint.gallery.index.int8scan import Int8Scan


def _base(space: str, n: int, dim: int = 128, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    if space == "ip":
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    return (x * np.float32(1.4 / np.sqrt(dim))).astype(np.float32)  # dlib-like norms


def _queries(x: np.ndarray, space: str, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    near = x[rng.integers(0, len(x), n // 2)] + 0.03 * rng.standard_normal(
        (n // 2, x.shape[1])).astype(np.float32)
    far = rng.standard_normal((n - n // 2, x.shape[1])).astype(np.float32) * 0.12
    q = np.concatenate([near, far]).astype(np.float32)
    if space == "ip":
        q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q


def _flat(x: np.ndarray, space: str) -> faiss.Index:
    index = faiss.IndexFlatIP(x.shape[1]) if space == "ip" else faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    return index


@pytest.mark.parametrize("space", ["ip", "l2"])
def test_the_bound_holds_for_every_vector(space: str) -> None:
    x = _base(space, 5000)
    scan = Int8Scan(x, np.arange(len(x)), space)
    q = _queries(x, space, 20)
    codes, t, bound = scan._codes(q)
    products = scan._session.run(None, {"a": codes})[0].astype(np.float64)
    exact = q.astype(np.float64) @ x.T.astype(np.float64)
    err = np.abs(products * t[:, None] - exact)
    assert (err <= bound[:, None]).all()
    assert err.max() > 0.05 * bound.max()  # the bound is not vacuous either


@pytest.mark.parametrize("space", ["ip", "l2"])
@pytest.mark.parametrize("k", [1, 20])
def test_same_answer_as_faiss_flat(space: str, k: int) -> None:
    x = _base(space, 30_000)
    ids = np.arange(len(x), dtype=np.int64) * 7 + 3
    scan = Int8Scan(x, ids, space)
    q = _queries(x, space, 40)
    want_d, want_i = _flat(x, space).search(q, k)
    for batch in (q[:1], q[1:2], q):  # single queries and a batch
        got_d, got_i = scan.search(batch, k, lambda f: x[(f - 3) // 7])
        rows = slice(0, len(batch)) if len(batch) == len(q) else \
            slice(int(np.flatnonzero((q == batch[0]).all(1))[0]), None)
        assert (got_i == ids[want_i[rows][:len(batch)]]).all()
        assert np.allclose(got_d, want_d[rows][:len(batch)], atol=1e-5)


def test_clustered_vectors_still_exact() -> None:
    """All vectors close together: the bound admits many candidates, the answer stays
    exact (possibly through the float fallback)."""
    rng = np.random.default_rng(5)
    centre = rng.standard_normal(128).astype(np.float32)
    x = centre + 0.01 * rng.standard_normal((25_000, 128)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    scan = Int8Scan(x, np.arange(len(x)), "ip")
    q = _queries(x, "ip", 10)
    _, want = _flat(x, "ip").search(q, 10)
    _, got = scan.search(q, 10, lambda f: x[f])
    # scores this close tie in float32 (FAISS and numpy round differently): the
    # same scores, in float64, and nearly all the same ids
    exact = q.astype(np.float64) @ x.T.astype(np.float64)
    for row in range(len(q)):
        assert exact[row, got[row]] == pytest.approx(exact[row, want[row]], abs=2e-7)
    assert (got == want).mean() > 0.8


def test_added_and_removed_vectors() -> None:
    x = _base("l2", 21_000)
    scan = Int8Scan(x[:20_000], np.arange(20_000), "l2")
    scan.append(np.arange(20_000, 21_000), x[20_000:])
    gone = np.arange(0, 21_000, 3)
    scan.drop(gone)
    keep = np.setdiff1d(np.arange(21_000), gone)
    q = _queries(x, "l2", 12)
    _, want = _flat(x[keep], "l2").search(q, 15)
    _, got = scan.search(q, 15, lambda f: x[f])
    assert (got == keep[want]).all()
    assert scan.stale  # a third removed: its owner builds a new pass


def test_a_gallery_searches_through_the_pass(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A real SQLite gallery: the same people and distances as brute force, before and
    after faces are added and a user removed while the pass exists."""
    monkeypatch.setattr(faiss_index, "MIN_VECTORS", 500)
    monkeypatch.setattr(faiss_index, "PASS_AFTER", 4)
    rng = np.random.default_rng(2)
    vecs = _base("l2", 1500, dim=32)
    owners = [f"p{int(i)}" for i in rng.integers(0, 300, len(vecs))]
    q = _queries(vecs, "l2", 16)

    def check(g: SqliteGallery, held: list[int]) -> None:
        d = pairwise(q, vecs[held], "euclidean")
        for row, matches in enumerate(g.search("emb", q, "euclidean", k=5)):
            best: dict[str, float] = {}
            for j in np.argsort(d[row], kind="stable"):
                best.setdefault(owners[held[j]], float(d[row, j]))
            want = sorted(best.items(), key=lambda t: t[1])[:5]
            assert [m.name for m in matches] == [n for n, _ in want]
            assert [m.distance for m in matches] == pytest.approx([v for _, v in want],
                                                                  abs=1e-9)

    with SqliteGallery(tmp_path / "g.db") as g:
        first = list(range(1400))
        for name in sorted({owners[i] for i in first}):
            g.add_faces(name, "emb", vecs[[i for i in first if owners[i] == name]])
        check(g, first)  # 16 queries: answered by FAISS alone, the pass built after
        assert all(s.scan is None for s in g.index._subs.values())  # type: ignore
        check(g, first)
        subs = [s for s in g.index._subs.values() if s.scan is not None]  # type: ignore
        assert len(subs) == 1 and len(subs[0].scan.ids) == 1400
        for name in sorted({owners[i] for i in range(1400, 1500)}):
            g.add_faces(name, "emb", vecs[[i for i in range(1400, 1500) if owners[i] == name]])
        victim = owners[0]
        g.remove_person(victim)
        check(g, [i for i in range(1500) if owners[i] != victim])
