"""The ``faceprint`` command line: a thin layer over the library.

Exit status: 0 success; 1 unexpected failure; 2 bad usage; 3 unreadable image;
4 no face where one was needed; 5 model missing or unknown name; 6 gallery
error; 7 evaluation data missing or malformed. Errors are one line on stderr,
never a traceback (set FACEPRINT_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import FaceprintError
from .models import DEFAULT_DETECTOR, DEFAULT_EMBEDDER, list_detectors, list_embedders

EXIT_USAGE = 2


# -- shared helpers ---------------------------------------------------------------
def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def detector_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for key in ("min_face_size", "upsample", "threshold", "max_faces"):
        value = getattr(args, key, None)
        if value is not None:
            opts[key] = value
    if getattr(args, "detector_engine", None):
        opts["engine"] = args.detector_engine
    return opts


def _apply_preset(args: argparse.Namespace) -> None:
    """``--preset NAME`` sets the detector, embedder and flip that were left at their
    defaults (an explicit --detector/--embedder wins)."""
    name = getattr(args, "preset", None)
    if not name:
        return
    from .models import preset

    chosen = preset(name)
    if args.detector == DEFAULT_DETECTOR:
        args.detector = chosen.detector
    if getattr(args, "embedder", DEFAULT_EMBEDDER) == DEFAULT_EMBEDDER:
        args.embedder = chosen.embedder
    if not getattr(args, "flip", False):
        args.flip = chosen.flip


def _pipeline(args: argparse.Namespace) -> Any:
    from .pipeline import Pipeline

    _apply_preset(args)
    return Pipeline(args.detector, getattr(args, "embedder", DEFAULT_EMBEDDER),
                    detector_options=detector_options(args),
                    embedder_options=embedder_options(args),
                    threshold=getattr(args, "match_threshold", None),
                    flip=getattr(args, "flip", False), jitter=getattr(args, "jitter", 0),
                    whole_image=getattr(args, "whole_image", False))


def embedder_options(args: argparse.Namespace) -> dict[str, Any]:
    engine = getattr(args, "engine", None)
    return {"engine": engine} if engine else {}


def _draw_target(out: str, image: str, count: int) -> Path:
    """Where to write the drawing of ``image``: OUT itself for one image, else
    OUT/<name>.jpg (OUT is then a folder)."""
    if count == 1 and Path(out).suffix:
        return Path(out)
    return Path(out) / (Path(image).stem + ".jpg")


def _progress(items: Sequence[str], desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", disable=len(items) < 5 or None, file=sys.stderr)


def _gallery(args: argparse.Namespace) -> Any:
    from .gallery.sqlite import SqliteGallery

    return SqliteGallery(args.db)


# -- commands ---------------------------------------------------------------------
def cmd_detect(args: argparse.Namespace) -> int:
    from .viz import draw_faces, save_image

    pipe = _pipeline(args)
    report = []
    for path in _progress(args.images, "detect"):
        image = pipe.load(path)
        faces = pipe.find_faces(image)
        report.append({"path": path, "faces": [f.to_dict() for f in faces]})
        if args.draw:
            save_image(draw_faces(image, faces), _draw_target(args.draw, path, len(args.images)))
        if not args.json:
            print(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
            for f in faces:
                b = f.box
                pose = (f" yaw {f.pose.yaw:+.0f} pitch {f.pose.pitch:+.0f} roll "
                        f"{f.pose.roll:+.0f}") if f.pose else ""
                print(f"  box left={b.left:.0f} top={b.top:.0f} width={b.width:.0f} "
                      f"height={b.height:.0f}  score {f.score:.2f}{pose}")
    if args.json:
        _print_json({"images": report})
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from .batch import embed_many, image_files, save_embeddings

    files = image_files(args.images)
    if not files:
        raise FaceprintError("no image files found in " + ", ".join(args.images))
    pipe = _pipeline(args)
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


def cmd_info(args: argparse.Namespace) -> int:
    from .info import collect

    info = collect()
    if args.json:
        _print_json(info)
        return 0
    print(f"faceprint {info['faceprint']} on Python {info['python']} ({info['platform']})")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    print(f"engine: ONNX Runtime {info['providers']['onnxruntime']}, providers "
          f"{', '.join(info['providers']['chosen'])} "
          f"(available: {', '.join(info['providers']['available'])}); "
          f"{info['threads']} threads; NVIDIA GPU "
          f"{'present' if info['providers']['gpu_present'] else 'not seen'}; BlazeFace on "
          f"{'LiteRT' if info['blazeface_engine'] == 'litert' else 'OpenCV DNN'}")
    print(f"defaults: detector {info['defaults']['detector']}, "
          f"embedder {info['defaults']['embedder']}")
    print(f"detectors: {', '.join(info['detectors'])}")
    print(f"embedders: {', '.join(info['embedders'])}")
    print("models:")
    for key, m in info["models"].items():
        if m["path"]:
            licence = f"  ({m['licence']})" if m.get("licence") else ""
            print(f"  {key:16} {m['size_mb']:7.1f} MB  sha256 {m['sha256'][:16]}  "
                  f"{m['path']}{licence}")
        else:
            print(f"  {key:16} MISSING: {m['error']}")
    print(f"cache: {info['cache']}")
    for name, path in info["onnx_conversions"].items():
        print(f"  converted {name}: {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    result = _pipeline(args).compare(args.image_a, args.image_b)
    if args.json:
        _print_json(result.to_dict())
    else:
        verdict = "same person" if result.same else "different people"
        print(f"distance {result.distance:.4f} ({result.metric}), threshold "
              f"{result.threshold:.4f}: {verdict}")
    return 0


def cmd_enroll(args: argparse.Namespace) -> int:
    metadata = None
    if args.meta:
        metadata = {}
        for item in args.meta:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise FaceprintError(f"--meta takes KEY=VALUE, got {item!r}")
            metadata[key] = value
    pipe = _pipeline(args)
    with _gallery(args) as gallery:
        ids = pipe.enroll(gallery, args.name, list(_progress(args.images, "enroll")),
                          metadata=metadata)
        person = gallery.person(args.name)
    print(f"enrolled {len(ids)} face{'s' if len(ids) != 1 else ''} for {person.name} "
          f"({person.face_count} in all) in {args.db}")
    return 0


def cmd_people(args: argparse.Namespace) -> int:
    with _gallery(args) as gallery:
        people = gallery.people()
    if args.json:
        _print_json({"people": [{"name": p.name, "faces": p.face_count, "metadata": p.metadata}
                                for p in people]})
    elif not people:
        print(f"no one is enrolled in {args.db}")
    else:
        for p in people:
            meta = f"  {json.dumps(p.metadata, ensure_ascii=False)}" if p.metadata else ""
            print(f"{p.name}: {p.face_count} face{'s' if p.face_count != 1 else ''}{meta}")
    return 0


def cmd_faces(args: argparse.Namespace) -> int:
    with _gallery(args) as gallery:
        faces = gallery.faces(args.name)
    for f in faces:
        box = f" box {f.box.as_list()}" if f.box else ""
        print(f"face {f.id}: {f.embedder} from {f.source or '?'}{box} ({f.created})")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    with _gallery(args) as gallery:
        if args.face is not None:
            gallery.remove_face(args.face)
            print(f"forgot face {args.face}")
        elif args.name:
            count = gallery.remove_person(args.name)
            print(f"forgot {args.name} and {count} face{'s' if count != 1 else ''}")
        else:
            raise FaceprintError("forget needs a NAME or --face ID")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    with _gallery(args) as gallery:
        person = gallery.rename(args.old, args.new)
    print(f"renamed {args.old} to {person.name}")
    return 0


def cmd_identify(args: argparse.Namespace) -> int:
    from .viz import draw_faces, save_image

    pipe = _pipeline(args)
    report = []
    with _gallery(args) as gallery:
        if gallery.count_faces(pipe.embedder_name) == 0:
            from .errors import EmptyGalleryError

            raise EmptyGalleryError(f"the gallery {args.db} has no faces for "
                                    f"{pipe.embedder_name}; enroll someone first")
        for path in _progress(args.images, "identify"):
            image = pipe.load(path)
            found = pipe.identify(image, gallery, k=args.k)
            faces = []
            for ident in found:
                entry: dict[str, object] = {
                    "box": ident.face.box.as_list(), "name": ident.name,
                    "distance": None if ident.distance is None else round(ident.distance, 4)}
                if args.k > 1:
                    entry["candidates"] = [{"name": m.name, "distance": round(m.distance, 4)}
                                           for m in ident.candidates]
                faces.append(entry)
            report.append({"path": path, "faces": faces})
            if args.draw:
                labels = [f"{i.name} {i.distance:.2f}" if i.name else "unknown" for i in found]
                save_image(draw_faces(image, [i.face for i in found], labels,
                                      [i.name is not None for i in found]),
                           _draw_target(args.draw, path, len(args.images)))
            if not args.json:
                if not found:
                    print(f"{path}: no face found")
                for i in found:
                    b = i.face.box
                    where = f"face at ({b.left:.0f}, {b.top:.0f}, {b.width:.0f}x{b.height:.0f})"
                    if i.name:
                        print(f"{path}: {where}: Recognized as {i.name} "
                              f"(distance {i.distance:.2f})")
                    else:
                        near = (f"; nearest {i.best.name} at {i.best.distance:.2f}"
                                if i.best else "")
                        print(f"{path}: {where}: unknown (threshold {i.threshold:.2f}{near})")
    if args.json:
        _print_json({"images": report})
    return 0


# -- the parser -------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 2 with one line, like other errors
        self.print_usage(sys.stderr)
        print(f"faceprint: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def add_subcommands(parser: argparse.ArgumentParser, dest: str, metavar: str) -> Any:
    """A required sub-command group whose parsers report errors like the top one."""
    sub = parser.add_subparsers(dest=dest, metavar=metavar, parser_class=_Parser)
    sub.required = True
    return sub


def add_detector_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default=DEFAULT_DETECTOR, metavar="NAME",
                   help=f"one of {', '.join(list_detectors())} (default {DEFAULT_DETECTOR})")
    p.add_argument("--min-face-size", type=int, metavar="PX",
                   help="ignore faces narrower than this (pixels)")
    p.add_argument("--upsample", type=int, metavar="N",
                   help="double the image N times before searching (finds smaller faces)")
    p.add_argument("--threshold", type=float, metavar="SCORE",
                   help="detection score threshold, in the detector's own units")
    p.add_argument("--max-faces", type=int, metavar="N", help="keep the N best faces")
    p.add_argument("--detector-engine", metavar="NAME",
                   help="detector implementation (cnn: onnx, the default, or dlib; "
                        "blazeface: litert, opencv or auto, the default)")


def add_embedder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedder", default=DEFAULT_EMBEDDER, metavar="NAME",
                   help=f"one of {', '.join(list_embedders())} (default {DEFAULT_EMBEDDER})")
    p.add_argument("--engine", metavar="NAME", help="embedder engine (dlib-resnet: dlib)")
    p.add_argument("--flip", action="store_true",
                   help="average each embedding with that of the mirrored face")
    p.add_argument("--jitter", type=int, default=0, metavar="N",
                   help="also average over N randomly jittered chips (slower by N+1)")
    p.add_argument("--preset", choices=("accurate", "fast"),
                   help="accurate: blazeface-onet + sface+dlib-resnet; fast: yunet + "
                        "dlib-resnet (see docs/models.md)")
    p.add_argument("--whole-image", action="store_true",
                   help="each image is one already-cropped face: no detection")


def add_db_arg(p: argparse.ArgumentParser) -> None:
    from .gallery.base import default_db_path

    p.add_argument("--db", default=str(default_db_path()), metavar="PATH",
                   help="gallery file (default %(default)s; or set FACEPRINT_DB)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="faceprint", description="Offline face detection and recognition.",
                     epilog="Exit status: 0 ok, 2 usage, 3 bad image, 4 no face, 5 model, "
                            "6 gallery, 7 data, 1 other.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"faceprint {__version__}")
    sub = add_subcommands(parser, "command", "COMMAND")

    p = sub.add_parser("detect", help="find faces: boxes, landmarks, head pose")
    p.add_argument("images", nargs="+", metavar="IMG")
    add_detector_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--draw", metavar="OUT", help="write the image(s) with boxes and landmarks")
    p.set_defaults(func=cmd_detect)

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

    p = sub.add_parser("info", help="versions, models, their sources and hashes, engine")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("compare", help="are the largest faces of two images the same person?")
    p.add_argument("image_a", metavar="A")
    p.add_argument("image_b", metavar="B")
    add_detector_args(p)
    add_embedder_args(p)
    p.add_argument("--match-threshold", type=float, metavar="D",
                   help="distance threshold (default: the embedder's calibrated one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("enroll", help="add a person's faces to the gallery")
    p.add_argument("name", metavar="NAME")
    p.add_argument("images", nargs="+", metavar="IMG")
    p.add_argument("--meta", action="append", metavar="KEY=VALUE",
                   help="metadata to store with the person (repeatable)")
    add_db_arg(p)
    add_detector_args(p)
    add_embedder_args(p)
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("people", help="list enrolled people")
    add_db_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_people)

    p = sub.add_parser("faces", help="list one person's stored faces")
    p.add_argument("name", metavar="NAME")
    add_db_arg(p)
    p.set_defaults(func=cmd_faces)

    p = sub.add_parser("forget", help="remove a person (or one face) from the gallery")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--face", type=int, metavar="ID", help="remove only this face")
    add_db_arg(p)
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("rename", help="rename an enrolled person")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    add_db_arg(p)
    p.set_defaults(func=cmd_rename)

    p = sub.add_parser("identify", help="name every face of the images from the gallery")
    p.add_argument("images", nargs="+", metavar="IMG")
    add_db_arg(p)
    add_detector_args(p)
    add_embedder_args(p)
    p.add_argument("--match-threshold", type=float, metavar="D",
                   help="distance threshold (default: the embedder's calibrated one)")
    p.add_argument("-k", type=int, default=1, help="list the k nearest people (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--draw", metavar="OUT", help="write the image(s) with names under boxes")
    p.set_defaults(func=cmd_identify)

    from .eval.cli import add_parsers as add_eval_parsers

    add_eval_parsers(sub)
    from .train.cli import add_parsers as add_train_parsers

    add_train_parsers(sub)
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


if __name__ == "__main__":
    sys.exit(main())
