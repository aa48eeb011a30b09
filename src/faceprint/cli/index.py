"""``faceprint index DIR --group G``: enrol (or embed) every face of a folder tree
on Dask distributed, resumably (see :mod:`faceprint.indexing`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ._common import (
    add_db_arg,
    add_detector_args,
    add_embedder_args,
    gallery,
    pipeline,
    print_json,
)

if TYPE_CHECKING:
    from ._common import Subparsers


def cmd_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..indexing import run_index

    recipe = pipeline(args).recipe()
    if recipe is None:  # pragma: no cover - names always give a recipe
        raise UsageError("the pipeline cannot be rebuilt on the workers")
    manifest = args.manifest
    if manifest is None:
        if args.embed_only or "://" in args.db or ":" in args.db.split("/")[0]:
            raise UsageError("--manifest FILE is needed with --embed-only or a non-file --db")
        manifest = f"{args.db}.index-{args.group}.sqlite"
    g = None if args.embed_only else gallery(args)
    bar: list[tqdm] = []

    def start(todo: int, skipped: int) -> None:
        print(f"{todo} new or changed images, {skipped} already in {manifest}", file=sys.stderr)
        bar.append(tqdm(total=todo, desc="index", unit="img", file=sys.stderr,
                        disable=todo < 5 or None))

    started = time.perf_counter()
    try:
        counts = run_index(Path(args.dir), recipe, manifest, gallery=g, group=args.group,
                           workers=args.workers, scheduler=args.scheduler, chunk=args.chunk,
                           progress=lambda n: bar[0].update(n), on_start=start)
    finally:
        if bar:
            bar[0].close()
        if g is not None:
            g.close()
    seconds = time.perf_counter() - started
    done = sum(counts[k] for k in ("enrolled", "embedded", "no-face", "failed"))
    counts["seconds"] = round(seconds, 2)  # type: ignore[assignment]
    counts["images_per_s"] = round(done / seconds, 2) if done else 0  # type: ignore[assignment]
    if args.json:
        print_json(counts)
    else:
        print(f"{done} images in {seconds:.1f} s ({counts['images_per_s']} images/s): "
              f"{counts['enrolled']} enrolled, {counts['embedded']} embedded, "
              f"{counts['no-face']} without a face, {counts['failed']} failed; "
              f"{counts['skipped']} skipped (done before). Manifest {manifest}: "
              f"{counts['total_enrolled'] + counts['total_embedded']} done, "
              f"{counts['total_failed']} failed, {counts['total_no-face']} without a face")
    return 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser("index", help="enrol every face of a folder tree (one user per person "
                                     "folder) on Dask, resumably")
    p.add_argument("dir", metavar="DIR", help="DIR/PERSON/IMAGE... (LFW's layout)")
    p.add_argument("--group", default="default", help="the gallery group (default %(default)s)")
    add_db_arg(p)
    p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="a running Dask scheduler (default: a local cluster on 127.0.0.1)")
    p.add_argument("--workers", type=int, default=2,
                   help="local Dask worker processes, one thread each (default %(default)s)")
    p.add_argument("--embed-only", action="store_true",
                   help="only embed every face, into the manifest's embeddings table")
    p.add_argument("--manifest", metavar="FILE",
                   help="the resumable manifest (default: <db>.index-<group>.sqlite)")
    p.add_argument("--chunk", type=int, default=16, metavar="N",
                   help="images per Dask task; a killed run redoes at most the chunks in "
                        "flight (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    add_detector_args(p)
    add_embedder_args(p)
    p.set_defaults(func=cmd_index)
