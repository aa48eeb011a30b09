"""The gallery commands: ``enroll``, ``people``, ``faces``, ``forget``, ``rename`` and
``identify`` (1:N search of every face of many images)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..errors import EmptyGalleryError, ImageError, UsageError
from ..gallery.model import DEFAULT_GROUP
from ._common import (
    ImageErrors,
    add_db_arg,
    add_detector_args,
    add_embedder_args,
    draw_target,
    gallery,
    pipeline,
    print_json,
    progress,
)
from .groups import add_group_arg

if TYPE_CHECKING:
    from ._common import Subparsers


def parse_meta(items: list[str] | None) -> dict[str, object] | None:
    """``["KEY=VALUE", ...]`` -> a dict (None when no item is given)."""
    if not items:
        return None
    metadata: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--meta takes KEY=VALUE, got {item!r}")
        metadata[key] = value
    return metadata


def cmd_enroll(args: argparse.Namespace) -> int:
    metadata = parse_meta(args.meta)
    pipe = pipeline(args)
    with gallery(args) as g:
        ids = pipe.enroll(g, args.name, list(progress(args.images, "enroll")),
                          metadata=metadata, group=args.group, min_quality=args.min_quality)
        person = g.person(args.name, args.group)
    print(f"enrolled {len(ids)} face{'s' if len(ids) != 1 else ''} for {person.name} "
          f"({person.face_count} in all) in {args.db}"
          + ("" if args.group == DEFAULT_GROUP else f", group {args.group}"))
    return 0


def cmd_people(args: argparse.Namespace) -> int:
    with gallery(args) as g:
        people = g.people(args.group)
    if args.json:
        print_json({"group": args.group, "people": [p.to_dict() for p in people]})
    elif not people:
        print(f"no one is enrolled in {args.db}")
    else:
        for p in people:
            meta = f"  {json.dumps(p.metadata, ensure_ascii=False)}" if p.metadata else ""
            print(f"{p.name}: {p.face_count} face{'s' if p.face_count != 1 else ''}{meta}")
    return 0


def cmd_faces(args: argparse.Namespace) -> int:
    with gallery(args) as g:
        faces = g.faces(args.name, args.group)
    if args.json:
        print_json({"name": args.name, "faces": [f.to_dict() for f in faces]})
        return 0
    for f in faces:
        box = f" box {f.box.as_list()}" if f.box else ""
        print(f"face {f.face_token}: {f.embedder} from {f.source or '?'}{box} ({f.created})")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    if args.face is None and not args.name:
        raise UsageError("forget needs a NAME or --face TOKEN")
    with gallery(args) as g:
        if args.face is not None:
            g.remove_face(int(args.face) if args.face.isdigit() else args.face)
            print(f"forgot face {args.face}")
        else:
            count = g.remove_person(args.name, args.group)
            print(f"forgot {args.name} and {count} face{'s' if count != 1 else ''}")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    with gallery(args) as g:
        person = g.rename(args.old, args.new, args.group)
    print(f"renamed {args.old} to {person.name}")
    return 0


def cmd_identify(args: argparse.Namespace) -> int:
    from ..viz import draw_faces, save_image

    if args.k < 1:
        raise UsageError(f"-k takes a number of people from 1 up; got {args.k}")
    pipe = pipeline(args)
    report: list[dict[str, object]] = []
    errors = ImageErrors(args.json)
    with gallery(args) as g:
        if g.count_faces(pipe.embedder_name) == 0:
            raise EmptyGalleryError(f"the gallery {args.db} has no faces for "
                                    f"{pipe.embedder_name}; enroll someone first")
        for path in progress(args.images, "identify"):
            try:
                image = pipe.load(path)
            except ImageError as exc:
                report.append(errors.add(path, exc))
                continue
            found = pipe.identify(image, g, k=args.k, groups=args.group)
            report.append({"path": path,
                           "faces": [i.to_dict(candidates=args.k > 1) for i in found]})
            if args.draw:
                labels = [f"{i.name} {i.distance:.2f}" if i.name else "unknown" for i in found]
                save_image(draw_faces(image, [i.face for i in found], labels,
                                      [i.name is not None for i in found]),
                           draw_target(args.draw, path, len(args.images)))
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
        print_json({"images": report})
    return errors.exit_code


def register(sub: Subparsers) -> None:
    p = sub.add_parser("enroll", help="add a person's faces to the gallery")
    p.add_argument("name", metavar="NAME")
    p.add_argument("images", nargs="+", metavar="IMG")
    p.add_argument("--meta", action="append", metavar="KEY=VALUE",
                   help="metadata to store with the person (repeatable)")
    p.add_argument("--min-quality", action="store_true",
                   help="refuse (exit 8, nothing stored) any photo whose face quality "
                        "verdict is poor: blur, light, size, pose, completeness")
    add_db_arg(p)
    add_group_arg(p)
    add_detector_args(p)
    add_embedder_args(p)
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("people", help="list enrolled people")
    add_db_arg(p)
    add_group_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_people)

    p = sub.add_parser("faces", help="list one person's stored faces")
    p.add_argument("name", metavar="NAME")
    add_db_arg(p)
    add_group_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_faces)

    p = sub.add_parser("forget", help="remove a person (or one face) from the gallery")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--face", metavar="TOKEN", help="remove only this face (its face token)")
    add_db_arg(p)
    add_group_arg(p)
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("rename", help="rename an enrolled person")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    add_db_arg(p)
    add_group_arg(p)
    p.set_defaults(func=cmd_rename)

    p = sub.add_parser("identify", help="name every face of the images from the gallery")
    p.add_argument("images", nargs="+", metavar="IMG")
    add_db_arg(p)
    add_group_arg(p, several=True)
    add_detector_args(p)
    add_embedder_args(p)
    p.add_argument("--match-threshold", type=float, metavar="D",
                   help="distance threshold (default: the embedder's calibrated one)")
    p.add_argument("-k", type=int, default=1, help="list the k nearest people (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--draw", metavar="OUT", help="write the image(s) with names under boxes")
    p.set_defaults(func=cmd_identify)
