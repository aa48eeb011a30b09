"""How often each detector finds a face in LFW (all 13,233 images by default).

Every LFW image holds a face near its centre, so the fraction of images with
at least one detection is the detector's find rate; missed images are listed
in a text file beside the output. Work is split over processes (one per core,
:func:`faceprint.batch.map_images`).

    python benchmarks/lfw_detection_rate.py --detector hog [--limit N] [--out build/]

``--every K`` takes every K-th image of the sorted list instead (a fixed,
evenly spread sample, for the slow ``cnn`` detector).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from faceprint.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data"))


def count_faces(pipe: Pipeline, path: str) -> tuple[int, float]:
    """The job: faces found in one image, and the detector's time on it (s)."""
    image = pipe.load(path)
    start = time.perf_counter()
    n = len(pipe.detector.detect(image))
    return n, time.perf_counter() - start


def main() -> None:
    from faceprint.batch import map_images
    from faceprint.pipeline import PipelineRecipe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", required=True)
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument("--every", type=int, default=1,
                        help="only every K-th image (a fixed sample spread over all people)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    args = parser.parse_args()
    paths = sorted(str(p) for p in (DATA / "lfw" / "images").glob("*/*.jpg"))
    paths = paths[::max(1, args.every)]
    if args.limit:
        paths = paths[:args.limit]
    started = time.perf_counter()
    recipe = PipelineRecipe(args.detector, detector_options=(("landmarks", False),))
    results = []
    for out in map_images(recipe, paths, count_faces, workers=args.workers, chunk_size=16,
                          threads_per_worker=1, progress=True, desc=args.detector):
        if out.value is None:
            raise SystemExit(f"{out.source}: {out.error}")
        results.append((out.source, *out.value))
    wall = time.perf_counter() - started
    missed = [p for p, n, _ in results if n == 0]
    times = sorted(t for _, _, t in results)
    found = len(paths) - len(missed)
    args.out.mkdir(parents=True, exist_ok=True)
    listing = args.out / f"lfw-missed-{args.detector}.txt"
    listing.write_text("".join(f"{p}\n" for p in missed))
    print(f"{args.detector}: face found in {found} of {len(paths)} LFW images "
          f"({100 * found / len(paths):.2f} %); median {1000 * times[len(times) // 2]:.1f} ms "
          f"per image on one core; {wall:.0f} s on {args.workers} processes; "
          f"missed images listed in {listing}")


if __name__ == "__main__":
    main()
