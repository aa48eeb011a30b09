"""What every command group shares: the parser class, the common options, building
the pipeline and the gallery from them, and presenting results (JSON, tables,
per-image errors)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ..errors import FaceprintError, UsageError
from ..registry import (
    DEFAULT_DETECTOR,
    DEFAULT_EMBEDDER,
    PRESETS,
    engines_help,
    list_detectors,
    list_embedders,
)

if TYPE_CHECKING:
    from ..gallery import Gallery
    from ..pipeline import Pipeline

EXIT_USAGE = UsageError.exit_code

T = TypeVar("T")

# -- the parser -------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a usage line and one ``faceprint: error:``
    line, exit status 2 (like every other usage mistake)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"faceprint: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


if TYPE_CHECKING:
    #: what ``add_subparsers`` returns (argparse names it only privately)
    Subparsers = argparse._SubParsersAction[Parser]


def add_subcommands(parser: argparse.ArgumentParser, dest: str, metavar: str) -> Subparsers:
    """A required sub-command group whose parsers report errors like the top one."""
    sub = parser.add_subparsers(dest=dest, metavar=metavar, parser_class=Parser)
    sub.required = True
    return sub


def add_detector_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default=DEFAULT_DETECTOR, metavar="NAME",
                   help=f"one of {', '.join(list_detectors())} (default {DEFAULT_DETECTOR}), "
                        "or A+B: an ensemble, each face aligned by both")
    p.add_argument("--min-face-size", type=int, metavar="PX",
                   help="ignore faces narrower than this (pixels)")
    p.add_argument("--upsample", type=int, metavar="N",
                   help="double the image N times before searching (finds smaller faces)")
    p.add_argument("--threshold", type=float, metavar="SCORE",
                   help="detection score threshold, in the detector's own units")
    p.add_argument("--max-faces", type=int, metavar="N", help="keep the N best faces")
    p.add_argument("--detector-engine", metavar="NAME",
                   help=f"detector implementation ({engines_help('detector')})")


def add_embedder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedder", default=DEFAULT_EMBEDDER, metavar="NAME",
                   help=f"one of {', '.join(list_embedders())} (default {DEFAULT_EMBEDDER})")
    p.add_argument("--engine", metavar="NAME", help=f"embedder engine ({engines_help('embedder')})")
    p.add_argument("--flip", action="store_true",
                   help="average each embedding with that of the mirrored face")
    p.add_argument("--jitter", type=int, default=0, metavar="N",
                   help="also average over N randomly jittered chips (slower by N+1)")
    p.add_argument("--preset", choices=tuple(PRESETS),
                   help="; ".join(f"{k}: {v.detector} + {v.embedder}" for k, v in PRESETS.items())
                   + " (see docs/models-accuracy.md)")
    p.add_argument("--whole-image", action="store_true",
                   help="each image is one already-cropped face: no detection")


def add_db_arg(p: argparse.ArgumentParser) -> None:
    from ..gallery.base import default_db_path

    p.add_argument("--db", default=str(default_db_path()), metavar="PATH",
                   help="gallery file (default %(default)s; or set FACEPRINT_DB)")


# -- options -> library objects -----------------------------------------------------
def detector_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for key in ("min_face_size", "upsample", "threshold", "max_faces"):
        value = getattr(args, key, None)
        if value is not None:
            opts[key] = value
    if getattr(args, "detector_engine", None):
        opts["engine"] = args.detector_engine
    return opts


def embedder_options(args: argparse.Namespace) -> dict[str, Any]:
    engine = getattr(args, "engine", None)
    return {"engine": engine} if engine else {}


def apply_preset(args: argparse.Namespace) -> None:
    """``--preset NAME`` sets the detector, embedder and flip that were left at their
    defaults (an explicit --detector/--embedder wins)."""
    name = getattr(args, "preset", None)
    if not name:
        return
    from ..registry import preset

    chosen = preset(name)
    if getattr(args, "detector", DEFAULT_DETECTOR) == DEFAULT_DETECTOR:
        args.detector = chosen.detector
    if getattr(args, "embedder", DEFAULT_EMBEDDER) == DEFAULT_EMBEDDER:
        args.embedder = chosen.embedder
    if not getattr(args, "flip", False):
        args.flip = chosen.flip


def pipeline(args: argparse.Namespace) -> Pipeline:
    from ..pipeline import Pipeline

    apply_preset(args)
    return Pipeline(args.detector, getattr(args, "embedder", DEFAULT_EMBEDDER),
                    detector_options=detector_options(args),
                    embedder_options=embedder_options(args),
                    threshold=getattr(args, "match_threshold", None),
                    flip=getattr(args, "flip", False), jitter=getattr(args, "jitter", 0),
                    whole_image=getattr(args, "whole_image", False))


def gallery(args: argparse.Namespace) -> Gallery:
    """The gallery ``--db`` names (see :func:`faceprint.gallery.open_gallery`)."""
    from ..gallery import open_gallery

    return open_gallery(args.db)


def int_list(text: str | None, option: str, one_based: bool = False) -> list[int] | None:
    """``"1,2,3"`` -> ``[1, 2, 3]`` (``[0, 1, 2]`` when ``one_based``); None for no text."""
    if not text:
        return None
    try:
        values = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{option} takes numbers like 1,2,3; got {text!r}") from None
    if one_based:
        if any(v < 1 for v in values):
            raise UsageError(f"{option} counts from 1; got {text!r}")
        return [v - 1 for v in values]
    return values


def names(text: str) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]``; at least one name."""
    out = [n.strip() for n in text.split(",") if n.strip()]
    if not out:
        raise UsageError("no name given")
    return out


# -- presenting -------------------------------------------------------------------
def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def write_json(path: str | None, obj: object) -> None:
    if not path:
        return
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(obj, indent=2) + "\n")
    except OSError as exc:
        raise FaceprintError(f"cannot write {p}: {exc.strerror or exc}") from None
    print(f"  wrote {p}")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(map(str, headers))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, r in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def draw_target(out: str, image: str, count: int) -> Path:
    """Where to write the drawing of ``image``: OUT itself for one image, else
    OUT/<name>.jpg (OUT is then a folder)."""
    if count == 1 and Path(out).suffix:
        return Path(out)
    return Path(out) / (Path(image).stem + ".jpg")


def progress(items: Sequence[T], desc: str) -> Iterable[T]:
    """``items`` with a progress bar on stderr from five items on."""
    from tqdm import tqdm

    bar: Iterable[T] = tqdm(items, desc=desc, unit="img", disable=len(items) < 5 or None,
                            file=sys.stderr)
    return bar


class ImageErrors:
    """The images of a multi-image command that could not be read: each is reported
    (an ``{"path", "error"}`` entry in the JSON, one line on stderr in text mode) and
    the others still get their results; the command's exit status is the first
    failure's."""

    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode
        self.first: FaceprintError | None = None

    def add(self, path: str, exc: FaceprintError) -> dict[str, object]:
        """Record the failure of ``path``; returns its JSON entry."""
        if self.first is None:
            self.first = exc
        if not self.json_mode:
            from tqdm import tqdm

            tqdm.write(f"faceprint: {exc}", file=sys.stderr)  # above a progress bar
        return {"path": path, "error": str(exc)}

    @property
    def exit_code(self) -> int:
        return 0 if self.first is None else self.first.exit_code
