"""Milliseconds per face for each attribute, on real faces (LFW images and the
six-face photo), one thread, after a warm-up; medians of ``--repeats`` runs.

The baseline, run in the same script on the same faces and thread, is the detector
itself (``detect``: default detector with its five and 68 landmarks and the pose):
each attribute's cost is also given as a ratio to it. Face crops are recomputed for
every attribute (nothing is shared between them here, unlike a request for several).

    PYTHONPATH=src FACEPRINT_THREADS=1 nice -n 5 python benchmarks/bench_attributes.py \\
        --images 20 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("FACEPRINT_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    from faceprint.attributes import ATTRIBUTE_NAMES
    from faceprint.attributes import liveness as liveness_model
    from faceprint.pipeline import Pipeline

    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", default="../shared/data/lfw/images")
    ap.add_argument("--photos", default="../shared/data/photos")
    ap.add_argument("--images", type=int, default=20, help="LFW images")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    pipe = Pipeline()
    files = sorted(Path(args.lfw).glob("*/*.jpg"))
    files = files[:: max(1, len(files) // args.images)][: args.images]
    images = [pipe.load(f) for f in files] + [pipe.load(Path(args.photos) / "multiface.jpg")]
    found = [(im, pipe.detector.detect(im)) for im in images]
    n_faces = sum(len(f) for _, f in found)

    def per_face(run: object) -> float:
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            run()  # type: ignore[operator]
            times.append((time.perf_counter() - t) * 1000 / n_faces)
        return statistics.median(times)

    def detect_all() -> None:
        for im, _ in found:
            pipe.detector.detect(im)

    detect_all()  # warm-up
    base = per_face(detect_all)
    print(f"{len(images)} images, {n_faces} faces, 1 thread, median of {args.repeats} runs; "
          f"baseline detect (blazeface-onet + 68 landmarks + pose): {base:.1f} ms/face")
    for name in ATTRIBUTE_NAMES:
        if name == "liveness" and not liveness_model.installed():
            print(f"  {name:12} (model not installed: make liveness-model)")
            continue

        def attrs(name: str = name) -> None:
            for im, faces in found:
                pipe.attributes(im, faces, (name,))

        attrs()  # warm-up: loads the model
        ms = per_face(attrs)
        print(f"  {name:12} {ms:7.1f} ms/face  ({ms / base:.2f} x detect)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
