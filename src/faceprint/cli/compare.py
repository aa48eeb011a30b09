"""``faceprint compare``: are the largest faces of two images the same person?"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._common import add_detector_args, add_embedder_args, pipeline, print_json

if TYPE_CHECKING:
    from ._common import Subparsers


def cmd_compare(args: argparse.Namespace) -> int:
    result = pipeline(args).compare(args.image_a, args.image_b)
    if args.json:
        print_json(result.to_dict())
    else:
        verdict = "same person" if result.same else "different people"
        print(f"distance {result.distance:.4f} ({result.metric}), threshold "
              f"{result.threshold:.4f}: {verdict}")
    return 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser("compare", help="are the largest faces of two images the same person?")
    p.add_argument("image_a", metavar="A")
    p.add_argument("image_b", metavar="B")
    add_detector_args(p)
    add_embedder_args(p)
    p.add_argument("--match-threshold", type=float, metavar="D",
                   help="distance threshold (default: the embedder's calibrated one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_compare)
