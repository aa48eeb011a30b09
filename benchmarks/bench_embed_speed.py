"""Embedding time per face: an exported ``onnx:MODEL`` against dlib-resnet (its ONNX
Runtime engine and dlib's own), on the same real LFW faces, chips cut beforehand (so
only the network is timed), with the same thread count for every engine.

    python benchmarks/bench_embed_speed.py --model src/faceprint/data/faceprint-small.onnx \
        --data ../shared/data/lfw --faces 256 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the exported .onnx")
    ap.add_argument("--data", default="../shared/data/lfw", help="LFW folder")
    ap.add_argument("--faces", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="best of N timings")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    os.environ["FACEPRINT_THREADS"] = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    from faceprint.embedders.onnx_model import OnnxEmbedder
    from faceprint.registry import create_embedder
    from faceprint.train.data import cut_chips

    images = sorted(Path(args.data, "images").glob("*/*.jpg"))
    paths = [str(p) for p in np.random.default_rng(0).choice(images, args.faces, replace=False)]
    student = OnnxEmbedder(args.model, threads=args.threads)
    engines = {
        f"onnx:{Path(args.model).name}": student,
        "dlib-resnet (onnx engine)": create_embedder("dlib-resnet", threads=args.threads),
        "dlib-resnet (dlib engine)": create_embedder("dlib-resnet", engine="dlib"),
    }
    specs = {name: e.chip for name, e in engines.items()}
    chips = dict(zip(specs, cut_chips(paths, list(specs.values()), progress=False)[0]))
    results = {}
    for name, emb in engines.items():
        c = chips[name]
        emb.embed_chips(c[:8])  # warm up (session creation, first-run allocations)
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            emb.embed_chips(c)
            best = min(best, time.perf_counter() - start)
        results[name] = {"ms_per_face": 1000 * best / len(c), "chip": c.shape[1]}
        print(f"{name:32s} {results[name]['ms_per_face']:7.2f} ms/face "
              f"({c.shape[1]}x{c.shape[1]} chips, {args.threads} thread(s))")
    base = results[f"onnx:{Path(args.model).name}"]["ms_per_face"]
    for r in results.values():
        r["times_slower_than_model"] = r["ms_per_face"] / base
    print("speed-up of the model: " + ", ".join(
        f"{r['times_slower_than_model']:.1f}x vs {n}" for n, r in results.items()
        if not n.startswith("onnx:")))
    if args.json:
        Path(args.json).write_text(json.dumps({"threads": args.threads, "faces": args.faces,
                                               "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
