"""What a detector ensemble costs: ms per LFW image (detect + embed the largest face)
of each pipeline, one process, medians of ``--repeats`` passes over the same images,
and the ratio against the first pipeline, all in one run.

Usage::

    python benchmarks/bench_ensemble.py --images 40 --repeats 3 \\
        --pipelines blazeface-onet/sface+dlib-resnet yunet/sface+dlib-resnet \\
        yunet+blazeface-onet/sface+dlib-resnet
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from faceprint.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pipelines", nargs="+", required=True, metavar="DETECTOR/EMBEDDER")
    args = parser.parse_args(argv)
    paths = sorted((args.data / "images").glob("*/*_0001.jpg"))[:args.images]
    pipes = [Pipeline(*spec.split("/", 1)) for spec in args.pipelines]
    for pipe in pipes:  # load the models and warm up, untimed
        pipe.embed_largest(paths[0])
    times: dict[str, list[float]] = {spec: [] for spec in args.pipelines}
    for _ in range(args.repeats):  # alternate the pipelines within each pass
        for spec, pipe in zip(args.pipelines, pipes):
            start = time.perf_counter()
            for p in paths:
                pipe.embed_largest(p)
            times[spec].append((time.perf_counter() - start) * 1000 / len(paths))
    base = statistics.median(times[args.pipelines[0]])
    print(f"{'pipeline':45s} {'ms/image':>9s} {'ratio':>6s}")
    for spec in args.pipelines:
        ms = statistics.median(times[spec])
        print(f"{spec:45s} {ms:9.1f} {ms / base:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
