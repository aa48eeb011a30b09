"""Where MTCNN's time goes, and what writing PReLU as ``relu(x) + a * min(x, 0)`` buys.

On ``--images`` LFW images (the list bench_pipeline.py uses, thinned), one thread:

1. each of the three networks on the inputs the cascade really gives it (P-Net on
   every pyramid level, R-Net and O-Net on each image's batch of candidates), built
   with ONNX's ``PRelu`` op and with faceprint's ``relu + a * min`` form: the time
   per image of each (median of ``--repeats`` passes), their ratio, and the largest
   difference between the two forms' outputs (they are the same numbers);
2. the whole detector, ms per image, split into its stages (pyramid and crops,
   the three networks, NMS and the rest).

    python benchmarks/bench_mtcnn.py --images 200 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("FACEPRINT_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_pipeline import image_list

NETS = {"pnet": ("prob", "reg"), "rnet": ("prob", "reg"), "onet": ("prob", "reg", "points")}


def recorded_inputs(images: list[np.ndarray]) -> dict[str, list[list[np.ndarray]]]:
    """Per network, per image: the batches the cascade fed it."""
    from faceprint.detectors import mtcnn

    seen: dict[str, list[list[np.ndarray]]] = {k: [] for k in NETS}
    nets = mtcnn._nets()
    by_session = {id(nets.pnet): "pnet", id(nets.rnet): "rnet", id(nets.onet): "onet"}
    forward = mtcnn._forward

    def recording(session, x, outputs):  # type: ignore[no-untyped-def]
        seen[by_session[id(session)]][-1].append(x)
        return forward(session, x, outputs)

    detector = mtcnn.MtcnnDetector()
    mtcnn._forward = recording
    try:
        for image in images:
            for per_image in seen.values():
                per_image.append([])
            detector.detect(image)
    finally:
        mtcnn._forward = forward
    return seen


def time_networks(inputs: dict[str, list[list[np.ndarray]]], repeats: int) -> None:
    from faceprint._torchfile import load_state_dict
    from faceprint.detectors import mtcnn
    from faceprint.weights import weight_path

    count = len(next(iter(inputs.values())))
    print(f"{'network':8} {'PRelu op ms/img':>16} {'relu+min ms/img':>16} {'speed-up':>9} "
          f"{'max |diff|':>11}")
    for key, outputs in NETS.items():
        build = getattr(mtcnn, f"_{key}_graph")
        state = load_state_dict(weight_path(f"mtcnn-{key}"))
        results = {}
        for native in (True, False):
            session = mtcnn._session(build(state, native_prelu=native))
            batches = [x for per_image in inputs[key] for x in per_image]
            out = [session.run(list(outputs), {"image": x}) for x in batches]  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                for x in batches:
                    session.run(list(outputs), {"image": x})
                times.append(time.perf_counter() - start)
            results[native] = (1000 * statistics.median(times) / count, out)
        diff = max(float(np.abs(a - b).max()) for ra, rb in zip(results[True][1],
                                                                 results[False][1])
                   for a, b in zip(ra, rb))
        print(f"{key:8} {results[True][0]:16.2f} {results[False][0]:16.2f} "
              f"{results[True][0] / results[False][0]:8.2f}x {diff:11.1e}")


def time_stages(images: list[np.ndarray], repeats: int) -> None:
    from faceprint.detectors import mtcnn

    detector = mtcnn.MtcnnDetector()
    spent: dict[str, float] = defaultdict(float)
    wrapped = {}
    stages = {"_summed_area": "summed-area table", "_pyramid_level": "pyramid levels",
              "_crops": "R/O-Net crops", "nms": "NMS"}
    for name, label in stages.items():
        original = getattr(mtcnn, name)

        def timed(*a, _f=original, _label=label, **k):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            result = _f(*a, **k)
            spent[_label] += time.perf_counter() - start
            return result

        wrapped[name] = original
        setattr(mtcnn, name, timed)
    nets = mtcnn._nets()
    labels = {id(nets.pnet): "P-Net", id(nets.rnet): "R-Net", id(nets.onet): "O-Net"}
    forward = mtcnn._forward

    def timed_forward(session, x, outputs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        result = forward(session, x, outputs)
        spent[labels[id(session)]] += time.perf_counter() - start
        return result

    mtcnn._forward = timed_forward
    totals = []
    try:
        for im in images[:5]:
            detector.detect(im)
        for _ in range(repeats):
            spent.clear()
            start = time.perf_counter()
            for im in images:
                detector.detect(im)
            totals.append((time.perf_counter() - start, dict(spent)))
    finally:
        mtcnn._forward = forward
        for name, original in wrapped.items():
            setattr(mtcnn, name, original)
    total, parts = sorted(totals, key=lambda t: t[0])[len(totals) // 2]
    n = len(images)
    print(f"\nMTCNN (min face 20 px), one thread: {1000 * total / n:.2f} ms per image "
          f"(median of {repeats} passes over {n} images)")
    for label, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {label:20} {1000 * seconds / n:6.2f} ms")
    rest = total - sum(parts.values())
    print(f"  {'the rest (Python)':20} {1000 * rest / n:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from faceprint.image import load_image

    paths = image_list(1000)[::max(1, 1000 // args.images)][:args.images]
    images = [load_image(p) for p in paths]
    time_networks(recorded_inputs(images), args.repeats)
    time_stages(images, args.repeats)


if __name__ == "__main__":
    main()
