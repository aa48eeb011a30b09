"""``faceprint embed``: every face of many images (folders too) to one file."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from ..errors import UsageError
from ._common import add_detector_args, add_embedder_args, pipeline

if TYPE_CHECKING:
    from ._common import Subparsers


def cmd_embed(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..batch import check_output, embed_many, image_files, save_embeddings

    check_output(args.out)
    files = image_files(args.images)
    if not files:
        raise UsageError("no image files found in " + ", ".join(args.images))
    pipe = pipeline(args)
    started = time.perf_counter()
    results = []
    for result in tqdm(embed_many(pipe, files, workers=args.workers, batch_size=args.batch_size,
                                  largest_only=args.largest,
                                  processes=False if args.threads else None),
                       total=len(files), desc="embed", unit="img", file=sys.stderr,
                       disable=len(files) < 5 or None):
        results.append(result)
    seconds = time.perf_counter() - started
    out = save_embeddings(results, args.out, embedder=pipe.embedder_name,
                          detector=pipe.detector_name, metric=pipe.metric)
    faces = sum(len(r.faces) for r in results if r.error is None)
    failed = [r for r in results if r.error]
    no_face = sum(1 for r in results if r.error is None and not r.faces)
    print(f"{len(files)} images, {faces} faces ({no_face} images without a face, "
          f"{len(failed)} unreadable) in {seconds:.1f} s ({len(files) / seconds:.1f} images/s); "
          f"wrote {out}")
    for r in failed[:10]:
        print(f"  skipped {r.error}", file=sys.stderr)
    return 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser("embed", help="embed every face of many images (folders too) to a file")
    p.add_argument("images", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="embeddings.npz or embeddings.parquet (needs pyarrow)")
    p.add_argument("--largest", action="store_true", help="only the largest face of each image")
    p.add_argument("--workers", type=int, default=0,
                   help="worker processes, each taking images through the whole job "
                        "(default: one per core; 1: no worker process)")
    p.add_argument("--threads", action="store_true",
                   help="worker threads that decode and detect while this process embeds "
                        "in batches, instead of worker processes")
    p.add_argument("--batch-size", type=int, default=32,
                   help="faces per embedding batch (with --threads)")
    add_detector_args(p)
    add_embedder_args(p)
    p.set_defaults(func=cmd_embed)
