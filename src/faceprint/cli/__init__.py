"""The ``faceprint`` command line: a thin layer over the library, one module per
command group (``detect``, ``compare``, ``gallery``, ``groups``, ``embed``, ``info``,
``cluster``, ``figure``, ``video``, ``eval``, ``train``), each with a
``register(subparsers)`` that adds its commands.

Exit status: 0 success; 1 unexpected failure; 2 bad usage (an unknown attribute name
too); 3 unreadable image or video; 4 no face where one was needed; 5 model missing or
unknown name; 6 gallery error; 7 evaluation data missing or malformed; 8 a face
refused for its quality (``enroll --min-quality``). A command over many images
(``detect``, ``identify``) reports every image it could read and exits with the
status of the first one it could not. Errors are one line on stderr, never a
traceback (set FACEPRINT_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import FaceprintError
from . import (
    cluster,
    compare,
    detect,
    embed,
    figure,
    gallery,
    groups,
    index,
    info,
    serve,
    video,
)
from . import eval as eval_commands
from . import train as train_commands
from ._common import Parser, add_subcommands

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="faceprint", description="Offline face detection and recognition.",
                    epilog="Exit status: 0 ok, 2 usage, 3 bad image, 4 no face, 5 model, "
                           "6 gallery, 7 data, 8 poor quality, 1 other.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"faceprint {__version__}")
    sub = add_subcommands(parser, "command", "COMMAND")
    detect.register(sub)
    embed.register(sub)
    info.register(sub)
    compare.register(sub)
    gallery.register(sub)
    groups.register(sub)
    cluster.register(sub)
    figure.register(sub)
    video.register(sub)
    index.register(sub)
    eval_commands.register(sub)
    train_commands.register(sub)
    serve.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except FaceprintError as exc:
        if os.environ.get("FACEPRINT_DEBUG") == "1":
            raise
        print(f"faceprint: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        sys.stderr.close()
        return 0
    except (ValueError, OSError) as exc:
        if os.environ.get("FACEPRINT_DEBUG") == "1":
            raise
        print(f"faceprint: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("faceprint: interrupted", file=sys.stderr)
        return 130
