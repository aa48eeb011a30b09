"""Gallery search at 10k, 100k and 1M faces: latency, memory, recall@1.

Faces: real LFW dlib-resnet embeddings (``faceprint embed`` of 6 images each of
the first 60 LFW people with 6 or more: 5 enrolled per person, the 6th is the
probe) plus random distractors: random directions scaled to norms drawn from
the real faces' norms (dlib-resnet's vectors are not unit length; unit-length
distractors would sit far from every probe), 20 per distractor user.

For each size, in one run and one process: faceprint 0.1's ``SqliteGallery.search``
(the baseline, numpy over every vector; ``benchmarks/_gallery_v1.py``), the new
gallery's exact index (``flat``: from 20,000 faces a group is searched by the int8
first pass with proven bounds, then exactly), the same exact index with FAISS's
flat scan alone (``flat-faiss``, the way before the first pass), and the
approximate kinds (``sq8``,
``fp16``, ``hnsw``) with recall@1 against exact (the same top-1 user). Latency
is the median of several runs of a single query and of batches of 32 (per
query). Both sides get the same threads (``--threads``, default 2: FAISS's
OpenMP and numpy's BLAS).

    python -m faceprint.cli embed $(cat build/bench/lfw_list.txt) --largest \\
        --workers 1 --out build/bench/lfw360.npz
    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 python benchmarks/bench_gallery.py \\
        --embeddings build/bench/lfw360.npz --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    return timed_cpu(fn, repeat)[0]


def timed_cpu(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of this process of ``repeat`` calls
    (the CPU time of a single-threaded search is what it costs a free core; the
    wall time also holds the waits for a core on a loaded machine)."""
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(times), statistics.median(cpu)


def make_faces(emb_file: Path, size: int, seed: int = 0
               ) -> tuple[list[tuple[str, np.ndarray]], np.ndarray, list[str]]:
    """(users with their vectors, probe vectors, probe truth)."""
    z = np.load(emb_file, allow_pickle=False)
    vecs, paths = z["embeddings"].astype(np.float32), [str(p) for p in z["paths"]]
    people: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        people.setdefault(Path(p).parent.name, []).append(i)
    users = [(name, vecs[idx[:5]]) for name, idx in sorted(people.items())]
    probes = np.stack([vecs[idx[5]] for _, idx in sorted(people.items())])
    truth = sorted(people)
    real = sum(len(v) for _, v in users)
    rng = np.random.default_rng(seed)
    norms = np.linalg.norm(vecs, axis=1)
    left, n = size - real, 0
    while left > 0:
        m = min(20, left)
        d = rng.standard_normal((m, vecs.shape[1])).astype(np.float32)
        d *= (rng.choice(norms, m) / np.linalg.norm(d, axis=1))[:, None]
        users.append((f"distractor-{n:07d}", d.astype(np.float32)))
        left -= m
        n += 1
    return users, probes, truth


def load_new(db: Path, users: list[tuple[str, np.ndarray]]) -> None:
    """Bulk-load through the store's import path (one transaction)."""
    from faceprint.gallery.store.sqlite import SqliteStore, new_token, now

    store = SqliteStore(db)
    t = now()

    def rows() -> Any:
        for name, v in users:
            yield {"kind": "user", "group_id": "default", "user_id": name, "user_info": "{}",
                   "user_created": t}
            for vec in v:
                yield {"kind": "face", "group_id": "default", "user_id": name,
                       "face_token": new_token(), "embedder": "dlib-resnet", "dim": len(vec),
                       "vector": vec.astype("<f4").tobytes(), "source": None, "box": None,
                       "quality": None, "face_created": t}

    store.load(rows())
    store.close()


def milvus_rows(users: list[tuple[str, np.ndarray]]) -> Any:
    from faceprint.gallery.store.sqlite import new_token, now

    t = now()
    for name, v in users:
        yield {"kind": "user", "group_id": "default", "user_id": name, "user_info": "{}",
               "user_created": t}
        for vec in v:
            yield {"kind": "face", "group_id": "default", "user_id": name,
                   "face_token": new_token(), "embedder": "dlib-resnet", "dim": len(vec),
                   "vector": vec.astype("<f4").tobytes(), "source": None, "box": None,
                   "quality": None, "face_created": t}


def bench_milvus(url: str, users: list[tuple[str, np.ndarray]], probes: np.ndarray,
                 q1: list[np.ndarray], batch: np.ndarray, repeat: int
                 ) -> tuple[float, float, float, list[str]]:
    """Load ``users`` into a fresh Milvus gallery at ``url``; (single, batch32 per query,
    load seconds, top-1 names)."""
    from faceprint.gallery import open_gallery

    t = time.perf_counter()
    with open_gallery(url) as g:
        g.store.load(milvus_rows(users))  # type: ignore[attr-defined]
        load = time.perf_counter() - t
        top = [m[0].name for m in g.search("dlib-resnet", probes, "euclidean")]
        single = timed(lambda: [g.search("dlib-resnet", q, "euclidean") for q in q1],
                       repeat) / len(q1)
        b32 = timed(lambda: g.search("dlib-resnet", batch, "euclidean"), repeat) / 32
        g.store.drop()  # type: ignore[attr-defined]
    return single, b32, load, top


def load_old(db: Path, users: list[tuple[str, np.ndarray]]) -> None:
    from _gallery_v1 import SqliteGallery as OldGallery

    OldGallery(db).close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    for pid, (name, v) in enumerate(users, start=1):
        conn.execute("INSERT INTO people(id, name, metadata, created) VALUES (?, ?, '{}', '')",
                     (pid, name))
        conn.executemany("INSERT INTO faces(person_id, embedder, dim, vector, created) "
                         "VALUES (?, 'dlib-resnet', ?, ?, '')",
                         [(pid, len(x), x.astype("<f4").tobytes()) for x in v])
    conn.execute("COMMIT")
    conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embeddings", default="build/bench/lfw360.npz")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5, help="runs per median")
    ap.add_argument("--queries", type=int, default=20, help="single queries per run")
    ap.add_argument("--baseline-queries-1m", type=int, default=3)
    ap.add_argument("--kinds", default="flat,flat-faiss,sq8,fp16,hnsw")
    ap.add_argument("--hnsw-max", type=int, default=100_000,
                    help="largest size to build HNSW at (its build is slow on 2 cores)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--reuse", action="store_true",
                    help="keep gallery files of an earlier run in --workdir")
    ap.add_argument("--no-baseline", action="store_true", help="skip v0.1's search")
    ap.add_argument("--milvus", default="",
                    help="also milvus-lite and/or server (comma list; 'server' starts a "
                         "Milvus server, only inside `unshare -n`)")
    ap.add_argument("--milvus-max", type=int, default=100_000,
                    help="largest size to load into Milvus")
    args = ap.parse_args()

    import faiss

    faiss.omp_set_num_threads(args.threads)
    from _gallery_v1 import SqliteGallery as OldGallery
    from faceprint.gallery import SqliteGallery
    from faceprint.gallery.index import faiss as faiss_index

    first_pass_min = faiss_index.MIN_VECTORS

    print(f"threads {args.threads} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}), "
          f"faiss {faiss.__version__}, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-gallery-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        users, probes, truth = make_faces(Path(args.embeddings), size)
        batch = np.concatenate([probes] * (32 // len(probes) + 1))[:32]
        q1 = [probes[i % len(probes)][None] for i in range(args.queries)]
        new_db, old_db = work / f"new-{size}.db", work / f"old-{size}.db"
        reuse = args.reuse and new_db.is_file() and old_db.is_file()
        for f in ([] if reuse else work.glob(f"*-{size}.db*")):
            if f.is_dir():
                for g in f.iterdir():
                    g.unlink()
                f.rmdir()
            else:
                f.unlink()
        t = time.perf_counter()
        if not reuse:
            load_new(new_db, users)
            load_old(old_db, users)
        print(f"\n== {size:,} faces ({len(users):,} users) == loaded in "
              f"{time.perf_counter() - t:.0f} s")

        # baseline: faceprint 0.1
        nq = args.queries if size < 1_000_000 else args.baseline_queries_1m
        with OldGallery(old_db if not args.no_baseline else ":memory:") as old:
            if args.no_baseline:
                old.add_faces("x", "dlib-resnet", probes[:1])
            r0 = rss_mb()
            t = time.perf_counter()
            old_top = [m[0].name for m in old.search("dlib-resnet", probes, "euclidean")]
            first = time.perf_counter() - t
            single = timed(lambda q1=q1, nq=nq: [old.search("dlib-resnet", q, "euclidean")
                                                 for q in q1[:nq]],
                           max(1, args.repeat // 2)) / nq
            b32 = timed(lambda b=batch: old.search("dlib-resnet", b, "euclidean"),
                        max(1, args.repeat // 2)) / 32
            mem = rss_mb() - r0
        rows.append((size, "v0.1 numpy", single, b32, mem, 1.0, first))
        print(f"baseline v0.1: single {1e3 * single:.2f} ms, batch32 {1e3 * b32:.2f} ms/query, "
              f"first search (loads vectors) {first:.1f} s, +{mem:.0f} MB RSS")
        if args.no_baseline:
            old_top = truth
        rank1 = np.mean([a == b for a, b in zip(old_top, truth)])
        print(f"  rank-1 of the {len(truth)} real probes: {100 * rank1:.1f} %")

        exact_top: list[str] = []
        for label in args.kinds.split(","):
            if label == "hnsw" and size > args.hnsw_max:
                continue
            # flat-faiss: the exact index with FAISS's flat scan alone (no int8 first pass)
            kind = "flat" if label == "flat-faiss" else label
            faiss_index.MIN_VECTORS = 1 << 62 if label == "flat-faiss" else first_pass_min
            r0 = rss_mb()
            t = time.perf_counter()
            with SqliteGallery(new_db, index=kind) as g:
                got = g.search("dlib-resnet", probes, "euclidean")
                build = time.perf_counter() - t
            # reopen: memory-mapped from disk
            t = time.perf_counter()
            with SqliteGallery(new_db, index=kind) as g:
                g.search("dlib-resnet", probes[:1], "euclidean")
                reopen = time.perf_counter() - t
                # warm-up: enough single queries for a flat group to get its int8 pass
                t = time.perf_counter()
                for i in range(faiss_index.PASS_AFTER + 1):
                    g.search("dlib-resnet", probes[i % len(probes)][None], "euclidean")
                warm = time.perf_counter() - t
                assert g.index is not None
                codes = g.index.memory_bytes() / 2**20  # type: ignore[attr-defined]
                single, cpu = timed_cpu(lambda g=g, q1=q1: [g.search("dlib-resnet", q,
                                                                     "euclidean")
                                                            for q in q1], args.repeat)
                single, cpu = single / len(q1), cpu / len(q1)
                b32 = timed(lambda g=g, b=batch: g.search("dlib-resnet", b, "euclidean"),
                            args.repeat) / 32
                mem = rss_mb() - r0
            top = [m[0].name for m in got]
            if label == "flat":
                exact_top = top
                same = np.mean([a == b for a, b in zip(top, old_top)])
                extra = f"same top-1 as v0.1: {100 * same:.1f} %"
                recall = 1.0
            else:
                recall = float(np.mean([a == b for a, b in zip(top, exact_top)]))
                extra = f"recall@1 against exact: {100 * recall:.1f} %"
            base_single = next(r[2] for r in rows if r[0] == size and r[1] == "v0.1 numpy")
            rows.append((size, label, single, b32, mem, recall, build))
            print(f"{label:5}: single {1e3 * single:.2f} ms ({base_single / single:.1f}x v0.1; "
                  f"CPU {1e3 * cpu:.2f} ms), "
                  f"batch32 {1e3 * b32:.2f} ms/query, build {build:.1f} s, reopen "
                  f"{reopen:.2f} s, warm-up of {faiss_index.PASS_AFTER + 1} queries {warm:.2f} s, "
                  f"codes {codes:.0f} MB, +{mem:.0f} MB RSS; {extra}")
        for which in [m for m in args.milvus.split(",") if m] if size <= args.milvus_max \
                else []:
            if which == "lite":
                url = f"milvus-lite:{work / f'milvus-{size}.db'}"
                single, b32, load, top = bench_milvus(url, users, probes, q1, batch,
                                                      args.repeat)
            else:
                sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
                from milvus_server import milvus_server

                with milvus_server(work / f"milvus-server-{size}") as port:
                    url = f"milvus://127.0.0.1:{port}/bench{size}"
                    single, b32, load, top = bench_milvus(url, users, probes, q1, batch,
                                                          args.repeat)
                    s_single, s_b32, _, _ = bench_milvus(url + "?consistency=Session", users,
                                                         probes, q1, batch, args.repeat)
                print(f"milvus-server ?consistency=Session: single {1e3 * s_single:.2f} ms, "
                      f"batch32 {1e3 * s_b32:.2f} ms/query")
            same = float(np.mean([a == b for a, b in zip(top, exact_top)])) if exact_top \
                else float("nan")
            base_single = next(r[2] for r in rows if r[0] == size and r[1] == "v0.1 numpy")
            rows.append((size, f"milvus-{which}", single, b32, 0.0, same, load))
            print(f"milvus-{which}: single {1e3 * single:.2f} ms ({base_single / single:.1f}x "
                  f"v0.1), batch32 {1e3 * b32:.2f} ms/query, load {load:.0f} s; same top-1 "
                  f"as exact FAISS: {100 * same:.1f} %")
    print("\n| faces | search | single query (ms) | batch of 32 (ms/query) | recall@1 |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for size, kind, single, b32, _, recall, _ in rows:
        print(f"| {size:,} | {kind} | {1e3 * single:.2f} | {1e3 * b32:.2f} | "
              f"{100 * recall:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
