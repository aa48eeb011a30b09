"""Time to cluster N faces after embedding (1k, 10k, 50k): faceprint's three methods
against dlib's ``chinese_whispers_clustering`` on the same vectors, in one process.

The vectors are synthetic, shaped like dlib-resnet's (128-d, plain L2): people's
centres at about 0.95 from each other (dlib's different-person distances), their
faces scattered about 0.38 from each other (same-person distances), people of 1 to
~300 faces (a third of them alone). Timing does not depend on whose faces they are,
only on how many and how linked; the BCubed F1 against the synthetic truth is
printed as a check that the clustering is doing its job.

    python benchmarks/bench_cluster.py --sizes 1000 10000 50000 --repeats 3

Medians of ``--repeats`` runs (a size above ``--dlib-max`` skips dlib, whose
all-pairs loop is quadratic and single-threaded: about 30 s at 10k here; above
``--repeats-max`` one run only). faceprint uses numpy's BLAS threads (all cores);
dlib one thread: set OMP_NUM_THREADS=1 / OPENBLAS_NUM_THREADS=1 to compare one core
each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np


def synthetic(n: int, seed: int = 0, dim: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """``n`` vectors in people of Zipf-like sizes, and each one's person."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(int(min(300, rng.zipf(1.6))))
    sizes[-1] -= sum(sizes) - n
    centres = rng.normal(0, 0.95 / np.sqrt(2 * dim), size=(len(sizes), dim))
    spread = 0.38 / np.sqrt(2 * dim)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    x = centres[truth] + rng.normal(0, spread, size=(n, dim))
    order = rng.permutation(n)
    return x[order].astype(np.float32), truth[order]


def timed(fn: object, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--repeats-max", type=int, default=20000,
                    help="sizes above this are timed once")
    ap.add_argument("--dlib-max", type=int, default=10000, help="largest size dlib runs")
    ap.add_argument("--threshold", type=float, default=0.5, help="plain L2")
    ap.add_argument("--methods", nargs="+",
                    default=["chinese-whispers", "agglomerative", "hdbscan"])
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    from faceprint.cluster import cluster_labels, link_graph, renumber, score

    rows = []
    for n in args.sizes:
        x, truth = synthetic(n)
        reps = args.repeats if n <= args.repeats_max else 1
        graph_s, graph = timed(lambda x=x: link_graph(x, args.threshold), reps)
        links = graph.nnz // 2  # type: ignore[attr-defined]
        row: dict[str, object] = {"faces": n, "people": int(truth.max() + 1), "links": links,
                                  "graph_s": round(graph_s, 3)}
        for method in args.methods:
            if method == "hdbscan" and n > 20000:
                row[method] = None  # sklearn's HDBSCAN in 128-d: see docs/clustering.md
                continue
            secs, labels = timed(lambda x=x, m=method: cluster_labels(
                x, m, threshold=args.threshold), reps)
            f1 = score(truth, labels).bcubed_f1  # type: ignore[arg-type]
            row[method] = {"s": round(secs, 3), "bcubed_f1": round(f1, 4)}
        if n <= args.dlib_max:
            import dlib

            vecs = [dlib.vector(v.astype(float).tolist()) for v in x]
            secs, labels = timed(lambda v=vecs: np.array(
                dlib.chinese_whispers_clustering(v, args.threshold)), reps)
            f1 = score(truth, renumber(labels)).bcubed_f1  # type: ignore[arg-type]
            row["dlib"] = {"s": round(secs, 3), "bcubed_f1": round(f1, 4)}
        rows.append(row)
        parts = [f"{n:>6} faces ({row['people']} people, {links:,} links): graph "
                 f"{graph_s:.2f} s"]
        for key in [*args.methods, "dlib"]:
            r = row.get(key)
            if isinstance(r, dict):
                ratio = ""
                d = row.get("dlib")
                if key != "dlib" and isinstance(d, dict):
                    ratio = f", {d['s'] / max(r['s'], 1e-9):.1f}x dlib"
                parts.append(f"{key} {r['s']:.2f} s (BCubed F1 {r['bcubed_f1']:.3f}{ratio})")
            elif key in row:
                parts.append(f"{key} not run")
        print("; ".join(parts), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
