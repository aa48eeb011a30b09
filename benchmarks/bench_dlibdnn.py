"""dlib's networks run by dlib vs faceprint's ONNX conversion (faceprint.dlibdnn).

Prints, as medians over ``--runs`` timed runs (after one warm-up run):

* the ResNet face descriptor: ms per face for dlib and for ONNX Runtime at batch 1
  and 32, with 1 and 2 threads (dlib runs as its wheel is built; it has no thread
  setting), and the speed-up;
* the MMOD CNN detector: ms per 512x512 image (scikit-image's astronaut) for dlib
  and ONNX Runtime (2 threads), and the speed-up;
* the ResNet's floating-point operations per face, counted from the ONNX graph
  (2 per multiply-add of every Conv and MatMul), the GFLOP/s ONNX Runtime reaches,
  and the machine's float32 peak measured by a 2048x2048 numpy matmul on 1 and 2
  BLAS threads;
* whether the goals hold: ResNet <= 15 ms/face on 2 cores (batch 32), MMOD >= 5x
  faster than dlib.

Usage::

    python benchmarks/bench_dlibdnn.py            # about a minute on 2 cores
    python benchmarks/bench_dlibdnn.py --runs 3 --dlib-batch 8

Converted models go to the faceprint cache (``FACEPRINT_CACHE_DIR`` overrides it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from faceprint.dlibdnn import OnnxMmod, OnnxResnet, onnx_model_path
from faceprint.weights import weight_path

RESNET_GOAL_MS = 15.0
MMOD_GOAL_SPEEDUP = 5.0


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``fn()`` over ``runs`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


_PEAK_SNIPPET = """
import statistics, time, numpy as np
n = {n}
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
a @ b
times = []
for _ in range({runs}):
    t = time.perf_counter(); a @ b; times.append(time.perf_counter() - t)
print(2 * n**3 / statistics.median(times) / 1e9)
"""


def peak_gflops(threads: int, n: int = 2048, runs: int = 5) -> float:
    """float32 GFLOP/s of an ``n`` x ``n`` numpy matmul with ``threads`` BLAS threads
    (measured in a fresh interpreter, since BLAS threads are fixed at start-up)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", _PEAK_SNIPPET.format(n=n, runs=runs)],
                         env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--dlib-batch", type=int, default=32,
                        help="batch size for the dlib ResNet batch timing (slow: ~0.2 s/face)")
    args = parser.parse_args()

    import dlib
    from skimage import data

    from faceprint.dlibdnn.to_onnx import count_flops

    image = np.ascontiguousarray(data.astronaut())  # 512 x 512 RGB
    detector = dlib.get_frontal_face_detector()
    sp5 = dlib.shape_predictor(str(weight_path("dlib-sp5")))
    chip = np.asarray(dlib.get_face_chip(image, sp5(image, detector(image, 1)[0]), 150, 0.25))

    import onnx

    model = onnx.load(str(onnx_model_path("dlib-resnet")))
    flops = count_flops(model, {"chips": [1, 150, 150, 3]})
    peak = {threads: peak_gflops(threads) for threads in (1, 2)}

    print(f"faceprint.dlibdnn benchmark (medians of {args.runs} runs)")
    print(f"machine peak, float32 numpy matmul 2048^3: {peak[1]:.1f} GFLOP/s on 1 thread, "
          f"{peak[2]:.1f} GFLOP/s on 2 threads")
    print(f"ResNet FLOPs per face (Conv + MatMul, from the ONNX graph): {flops / 1e9:.3f} GFLOP")
    print()

    # ---- ResNet
    fr = dlib.face_recognition_model_v1(str(weight_path("dlib-resnet")))
    dlib_ms = {
        1: median_seconds(lambda: fr.compute_face_descriptor(chip), args.runs) * 1e3,
    }
    dlib_chips = [chip] * args.dlib_batch
    dlib_ms[32] = median_seconds(lambda: fr.compute_face_descriptor(dlib_chips),
                                 max(1, min(args.runs, 3))) * 1e3 / args.dlib_batch
    print("ResNet descriptor, ms per face")
    print(f"{'':24s}{'batch 1':>12s}{'batch 32':>12s}")
    print(f"{'dlib (its own threads)':24s}{dlib_ms[1]:12.1f}{dlib_ms[32]:12.1f}")
    best_2 = float("inf")
    for threads in (1, 2):
        net = OnnxResnet(intra_op_num_threads=threads)
        row = {}
        for batch in (1, 32):
            chips = np.repeat(chip[None], batch, axis=0)
            row[batch] = median_seconds(partial(net, chips), args.runs) * 1e3 / batch
        if threads == 2:
            best_2 = row[32]
        label = f"onnx, {threads} thread{'s' if threads > 1 else ''}"
        print(f"{label:24s}{row[1]:12.1f}{row[32]:12.1f}   "
              f"x{dlib_ms[1] / row[1]:.1f} / x{dlib_ms[32] / row[32]:.1f} vs dlib, "
              f"{flops / (row[32] / 1e3) / 1e9:.1f} GFLOP/s at batch 32")
    print()

    # ---- MMOD
    cnn = dlib.cnn_face_detection_model_v1(str(weight_path("dlib-mmod")))
    mmod = OnnxMmod(intra_op_num_threads=2)
    dlib_s = median_seconds(lambda: cnn(image, 0), max(1, min(args.runs, 3)))
    onnx_s = median_seconds(lambda: mmod.detect(image, 0), args.runs)
    speedup = dlib_s / onnx_s
    print("MMOD detector on a 512x512 image, ms per image (upsample 0)")
    print(f"{'dlib (its own threads)':24s}{dlib_s * 1e3:12.1f}")
    print(f"{'onnx, 2 threads':24s}{onnx_s * 1e3:12.1f}   x{speedup:.1f} vs dlib")
    print()

    print(f"goal ResNet <= {RESNET_GOAL_MS:.0f} ms/face on 2 cores: "
          f"{'met' if best_2 <= RESNET_GOAL_MS else 'NOT met'} ({best_2:.1f} ms)")
    print(f"goal MMOD >= {MMOD_GOAL_SPEEDUP:.0f}x faster than dlib: "
          f"{'met' if speedup >= MMOD_GOAL_SPEEDUP else 'NOT met'} (x{speedup:.1f})")


if __name__ == "__main__":
    main()
