"""The image list of bench_gallery.py: 6 images each of the first 60 LFW people (in
name order) with at least 6 images; 5 are enrolled and the 6th is the probe.

    python benchmarks/lfw_probe_list.py --lfw ../shared/data/lfw > build/bench/lfw_list.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", default="../shared/data/lfw")
    ap.add_argument("--people", type=int, default=60)
    ap.add_argument("--per-person", type=int, default=6)
    args = ap.parse_args()
    root = Path(args.lfw) / "images"
    taken = 0
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(person.glob("*.jpg"))
        if len(images) >= args.per_person and taken < args.people:
            print("\n".join(str(i) for i in images[:args.per_person]))
            taken += 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
