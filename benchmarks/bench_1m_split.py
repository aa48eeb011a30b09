"""Exact single-query search over 1M 128-d vectors on 2 cores: one FAISS flat scan
(one thread: FAISS parallelises a flat search over queries, not vectors) against
the same scan split in two halves searched by two threads at once and merged.

    OMP_NUM_THREADS=2 python benchmarks/bench_1m_split.py --n 1000000 --repeat 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import faiss
import numpy as np


def split_search(xb_parts: list[np.ndarray], offsets: list[int], q: np.ndarray, k: int,
                 pool: ThreadPoolExecutor) -> tuple[np.ndarray, np.ndarray]:
    """k nearest (squared L2) of ``q`` over the parts, each searched by its own thread."""
    found = list(pool.map(lambda p: faiss.knn(q, p, k, metric=faiss.METRIC_L2), xb_parts))
    d = np.concatenate([f[0] for f in found], axis=1)
    i = np.concatenate([f[1] + off for f, off in zip(found, offsets)], axis=1)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--parts", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    queries = rng.standard_normal((args.repeat, args.dim), dtype=np.float32)
    flat = faiss.IndexFlatL2(args.dim)
    flat.add(xb)
    shards = faiss.IndexShards(args.dim, True, False)  # threaded, ids kept by shard order
    halves = []
    for s in range(args.parts):
        h = faiss.IndexFlatL2(args.dim)
        lo, hi = s * (-(-args.n // args.parts)), min(args.n, (s + 1) * (-(-args.n // args.parts)))
        h.add(xb[lo:hi])
        halves.append(h)
        shards.add_shard(h)
    step = -(-args.n // args.parts)
    parts = [xb[s:s + step] for s in range(0, args.n, step)]
    offsets = list(range(0, args.n, step))
    print(f"{args.n:,} x {args.dim}, k={args.k}, faiss {faiss.__version__}, "
          f"omp threads {faiss.omp_get_max_threads()}, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")

    def timed(fn: object) -> float:
        out = []
        for q in queries:
            t = time.perf_counter()
            fn(q[None])  # type: ignore[operator]
            out.append(time.perf_counter() - t)
        return statistics.median(out)

    faiss.omp_set_num_threads(1)
    one = timed(lambda q: flat.search(q, args.k))
    sharded = timed(lambda q: shards.search(q, args.k))
    with ThreadPoolExecutor(args.parts) as pool:
        split = timed(lambda q: split_search(parts, offsets, q, args.k, pool))
        for q in queries[:5]:  # the same answer
            _, want = flat.search(q[None], args.k)
            _, got = split_search(parts, offsets, q[None], args.k, pool)
            assert (want == got).all()
    faiss.omp_set_num_threads(2)
    batch = np.concatenate([queries] * 2)[:32]
    t = time.perf_counter()
    flat.search(batch, args.k)
    b32 = (time.perf_counter() - t) / 32
    print(f"flat single query (1 thread): {1e3 * one:.1f} ms")
    print(f"faiss.IndexShards of {args.parts} flat halves (threaded): {1e3 * sharded:.1f} ms "
          f"({one / sharded:.2f}x)")
    print(f"{args.parts} halves by faiss.knn in {args.parts} Python threads: {1e3 * split:.1f} ms "
          f"({one / split:.2f}x), same ids as flat")
    print(f"batch of 32 on 2 OpenMP threads: {1e3 * b32:.1f} ms per query")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
