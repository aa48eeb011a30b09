"""Fill the evaluation's embedding cache for the images of an LFW pairs file, without
scoring anything (so that a later ``faceprint eval lfw`` only reads the cache).

Usage::

    python benchmarks/embed_cache.py --pairs pairs.txt --detector blazeface-onet \\
        --embedder sface --flip
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from faceprint.datasets.lfw import pair_paths
from faceprint.eval.lfw import _load_pairs, embed_images
from faceprint.pipeline import PipelineRecipe

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--pairs", nargs="+", default=["pairs.txt"])
    parser.add_argument("--detector", required=True)
    parser.add_argument("--embedder", required=True)
    parser.add_argument("--flip", action="store_true")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args(argv)
    paths: list[str] = []
    for name in args.pairs:
        images, pfile, pairs = _load_pairs(args.data, args.data / name, None, None)
        p1, p2 = pair_paths(images, pairs, pfile)
        paths += p1 + p2
    emb = embed_images(paths, PipelineRecipe(args.detector, args.embedder, flip=args.flip),
                       workers=args.workers, progress=False)
    print(f"{len(emb.vectors)} images embedded (or read from the cache), "
          f"{len(emb.errors)} errors")
    return 1 if emb.errors else 0


if __name__ == "__main__":
    sys.exit(main())
