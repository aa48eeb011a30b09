"""``faceprint figure``: the course's pictures, one command each.

    faceprint figure recognized PHOTO... --out PNG [--db PATH]   "Recognized as NAME"
    faceprint figure pairs A B [A B ...] --out PNG               "Distance = d" under pairs
    faceprint figure similarity PERSON_DIR... --out PNG          distances between people
    faceprint figure map PERSON_DIR... --out PNG                 t-SNE map coloured by person

A PERSON_DIR is a folder of one person's photos (its name is the person's, e.g. an
LFW folder); the largest face of each photo is used.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import FaceprintError


def register(subparsers: Any) -> None:
    """Add ``figure`` and its sub-commands to the ``faceprint`` command."""
    from ._common import add_db_arg, add_detector_args, add_embedder_args, add_subcommands

    fig = subparsers.add_parser("figure", help="draw the course's figures (recognized, pairs, "
                                               "similarity, map)")
    sub = add_subcommands(fig, "figure", "FIGURE")

    p = sub.add_parser("recognized", help='each face of a photo boxed, "Recognized as NAME" '
                                          'under it (from the gallery)')
    p.add_argument("images", nargs="+", metavar="PHOTO")
    p.add_argument("--out", required=True, metavar="PNG",
                   help="the picture (a folder when several photos are given)")
    p.add_argument("--match-threshold", type=float, metavar="D",
                   help="distance threshold (default: the embedder's calibrated one)")
    p.add_argument("--no-distance", action="store_true", help="names only")
    add_db_arg(p)
    add_detector_args(p)
    add_embedder_args(p)
    p.set_defaults(func=cmd_recognized)

    p = sub.add_parser("pairs", help='pairs of faces side by side, "Distance = d" under them')
    p.add_argument("images", nargs="+", metavar="IMG", help="A1 B1 A2 B2 ... (an even number)")
    p.add_argument("--out", required=True, metavar="PNG")
    p.add_argument("--truth", choices=("folders", "none"), default="folders",
                   help="folders (default): two photos in folders of the same name are the "
                        "same person, and a caption is green when the verdict at the "
                        "threshold is right, red when wrong; none: black captions")
    p.add_argument("--match-threshold", type=float, metavar="D",
                   help="distance threshold (default: the embedder's calibrated one)")
    add_detector_args(p)
    add_embedder_args(p)
    p.set_defaults(func=cmd_pairs)

    for name, helptext, func in (
            ("similarity", "the distance between every two faces of chosen people",
             cmd_similarity),
            ("map", "a t-SNE map of people's faces, coloured by person, with thumbnails",
             cmd_map)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("people", nargs="+", metavar="PERSON_DIR",
                       help="one folder of photos per person")
        p.add_argument("--out", required=True, metavar="PNG")
        p.add_argument("--per-person", type=int, default=6 if name == "similarity" else 40,
                       metavar="N", help="at most N photos of each person (the first, sorted)")
        if name == "map":
            p.add_argument("--perplexity", type=float, default=30.0)
            p.add_argument("--no-thumbs", action="store_true", help="dots only")
        add_detector_args(p)
        add_embedder_args(p)
        p.set_defaults(func=func)


def cmd_recognized(args: argparse.Namespace) -> int:
    from ..errors import EmptyGalleryError
    from ..figures import recognized
    from ._common import draw_target, gallery, pipeline

    pipe = pipeline(args)
    with gallery(args) as g:
        if g.count_faces(pipe.embedder_name) == 0:
            raise EmptyGalleryError(f"the gallery {args.db} has no faces for "
                                    f"{pipe.embedder_name}; enroll someone first")
        for path in args.images:
            image = pipe.load(path)
            found = pipe.identify(image, g)
            target = draw_target(args.out, path, len(args.images))
            if target.parent == Path(args.out):  # a folder of pictures: PNGs
                target = target.with_suffix(".png")
            boxes = [(i.face.box.left, i.face.box.top, i.face.box.width, i.face.box.height)
                     for i in found]
            recognized(image, boxes,
                       [i.name for i in found], target,
                       None if args.no_distance else [i.distance for i in found])
            names = ", ".join(i.name or "unknown" for i in found) or "no face"
            print(f"{path}: {names}; wrote {target}")
    return 0


def _largest(pipe: Any, path: str) -> tuple[Any, Any, Any]:
    """(chip, embedding, face) of the largest face of a photo."""
    from ..errors import NoFaceError
    from ..pipeline import largest

    image = pipe.load(path)
    faces = pipe.detector.detect(image)
    if not faces:
        raise NoFaceError(f"{path}: no face found (detector {pipe.detector_name})")
    face = largest(faces)
    chips = pipe.chips(image, [face])
    return chips[0], pipe.embed_chips(chips)[0], face


def cmd_pairs(args: argparse.Namespace) -> int:
    from ..viz import plot_pairs
    from ._common import pipeline

    if len(args.images) % 2:
        raise FaceprintError(f"pairs takes an even number of images (A1 B1 A2 B2 ...), got "
                             f"{len(args.images)}")
    pipe = pipeline(args)
    pairs = []
    for a, b in zip(args.images[::2], args.images[1::2]):
        ca, ea, _ = _largest(pipe, a)
        cb, eb, _ = _largest(pipe, b)
        d = pipe.distance(ea, eb)
        ok = None
        if args.truth == "folders":
            same = Path(a).resolve().parent.name == Path(b).resolve().parent.name
            ok = (d <= pipe.threshold) == same
        pairs.append((ca, cb, f"Distance = {d:.2f}", ok))
        print(f"{a} {b}: distance {d:.4f} ({pipe.metric}, threshold {pipe.threshold:.4f})")
    out = plot_pairs(pairs, args.out)
    print(f"wrote {out}")
    return 0


def _people(pipe: Any, folders: list[str], per_person: int
            ) -> tuple[Any, list[str], list[Any]]:
    """Embeddings, person names and chips of the largest face of each person's photos
    (photos without a face are skipped and said)."""
    import sys

    import numpy as np

    from ..batch import image_files
    from ..errors import NoFaceError

    vectors, names, chips = [], [], []
    for folder in folders:
        person = Path(folder).resolve().name
        files = image_files([folder])[:per_person]
        if not files:
            raise FaceprintError(f"{folder}: no image files")
        for f in files:
            try:
                chip, vec, _ = _largest(pipe, str(f))
            except NoFaceError as exc:
                print(f"  skipped {exc}", file=sys.stderr)
                continue
            vectors.append(vec)
            names.append(person)
            chips.append(chip)
    if not vectors:
        raise NoFaceError("no face found in any of the photos")
    return np.stack(vectors), names, chips


def cmd_similarity(args: argparse.Namespace) -> int:
    from ..figures import similarity_matrix
    from ._common import pipeline

    pipe = pipeline(args)
    x, names, _ = _people(pipe, args.people, args.per_person)
    out = similarity_matrix(x, names, args.out, metric=pipe.metric, threshold=pipe.threshold,
                            title=f"{pipe.embedder_name}: distances between {len(names)} "
                                  f"faces of {len(set(names))} people")
    print(f"wrote {out}")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from ..figures import embedding_map
    from ._common import pipeline

    pipe = pipeline(args)
    x, names, chips = _people(pipe, args.people, args.per_person)
    out = embedding_map(x, [n.replace("_", " ") for n in names], args.out, metric=pipe.metric,
                        thumbs=None if args.no_thumbs else chips, perplexity=args.perplexity,
                        title=f"t-SNE of {len(names)} faces of {len(set(names))} people "
                              f"({pipe.embedder_name})")
    print(f"wrote {out}")
    return 0
