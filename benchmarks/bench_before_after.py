"""Speed of two checkouts of faceprint, alternated in one run: did a change slow
the batch pipeline (or the LFW evaluation) down?

Each timing is a whole fresh process of one checkout (``PYTHONPATH=CHECKOUT/src``),
the two checkouts taking turns (before, after, after, before, ...) so that a change
of the machine's load touches both alike:

* ``bench_pipeline.py --child faceprint`` of each checkout on the same ``--images``
  LFW images (the default pipeline, worker processes, one per core; a warm-up pass
  of 50 images, then ``--repeats`` timed passes): end-to-end images/s;
* with ``--eval-pairs N``: ``faceprint eval lfw --folds 1 --pairs-per-fold N
  --no-cache`` of each checkout, wall time of the whole command (worker start-up
  included), with a converted-model cache shared by both.

Printed: each checkout's medians and the ratio after / before (above 1: the change
is faster).

    git worktree add /tmp/fp-before c6e62b5
    python benchmarks/bench_before_after.py --before /tmp/fp-before --images 300 \\
        --rounds 3 --eval-pairs 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data"))


def image_list(count: int) -> list[str]:
    """``count`` images spread evenly over the LFW View 2 pairs' images (sorted), as
    ``bench_pipeline.py`` chooses them."""
    from faceprint.datasets.lfw import image_path, images_dir, read_pairs

    lfw = DATA / "lfw"
    images = images_dir(lfw)
    paths = sorted({str(image_path(images, n, i)) for p in read_pairs(lfw / "pairs.txt")
                    for n, i in ((p.name1, p.index1), (p.name2, p.index2))})
    step = max(1, len(paths) // count)
    return paths[::step][:count]


def _env(checkout: Path, cache: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(checkout / "src"), "FACEPRINT_CACHE_DIR": cache}


def pipeline_run(checkout: Path, list_file: str, repeats: int, cache: str) -> list[float]:
    """Images/s of each timed pass of ``bench_pipeline.py --child faceprint``."""
    out = subprocess.run([sys.executable, str(checkout / "benchmarks" / "bench_pipeline.py"),
                          "--child", "faceprint", list_file, "--repeats", str(repeats),
                          "--sample", "10"], capture_output=True, text=True, check=True,
                         env=_env(checkout, cache), cwd=checkout)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    count = len(Path(list_file).read_text().split("\n"))
    return [count / t for t in result["end_to_end_s"]]


def eval_run(checkout: Path, pairs: int, cache: str) -> float:
    """Wall seconds of ``faceprint eval lfw`` on fold 1's first ``pairs`` pairs."""
    faceprint = Path(sys.executable).with_name("faceprint")
    started = time.perf_counter()
    subprocess.run([str(faceprint), "eval", "lfw", "--data", str(DATA / "lfw"), "--folds", "1",
                    "--pairs-per-fold", str(pairs), "--no-cache"], capture_output=True,
                   text=True, check=True, env=_env(checkout, cache), cwd=checkout)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the older checkout")
    parser.add_argument("--after", type=Path, default=ROOT, help="the newer checkout")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1, help="timed passes per process")
    parser.add_argument("--rounds", type=int, default=3, help="processes per checkout")
    parser.add_argument("--eval-pairs", type=int, default=0,
                        help="also time faceprint eval lfw on this many pairs of fold 1")
    args = parser.parse_args()
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    paths = image_list(args.images)
    cache = tempfile.mkdtemp(prefix="fp-bench-cache-")  # converted models, shared
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(paths))
    print(f"{len(paths)} LFW images, {args.rounds} rounds x {args.repeats} timed passes per "
          f"checkout, alternated; {os.cpu_count()} cores; load average before: "
          f"{os.getloadavg()[0]:.1f}")
    speed: dict[str, list[float]] = {k: [] for k in sides}
    wall: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in order:
            speed[name] += pipeline_run(sides[name], fh.name, args.repeats, cache)
            if args.eval_pairs:
                wall[name].append(eval_run(sides[name], args.eval_pairs, cache))
        print(f"  round {r + 1}: " + ", ".join(
            f"{k} {speed[k][-1]:.1f} img/s" + (f" eval {wall[k][-1]:.1f} s" if wall[k] else "")
            for k in sides) + f" (load {os.getloadavg()[0]:.1f})")
    os.unlink(fh.name)
    med = {k: statistics.median(v) for k, v in speed.items()}
    print(f"\nbench_pipeline end to end (median images/s): before {med['before']:.1f}, "
          f"after {med['after']:.1f}; after / before = {med['after'] / med['before']:.3f}")
    result: dict[str, object] = {"images": len(paths), "images_per_s": speed,
                                 "median_images_per_s": med}
    if args.eval_pairs:
        mw = {k: statistics.median(v) for k, v in wall.items()}
        print(f"eval lfw, {args.eval_pairs} pairs, --no-cache (median wall s): before "
              f"{mw['before']:.1f}, after {mw['after']:.1f}; before / after = "
              f"{mw['before'] / mw['after']:.3f}")
        result |= {"eval_wall_s": wall, "median_eval_wall_s": mw}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
