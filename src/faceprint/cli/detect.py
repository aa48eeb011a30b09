"""``faceprint detect``: boxes, landmarks and head pose of every face of many images."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import ImageError
from ._common import (
    ImageErrors,
    add_detector_args,
    draw_target,
    pipeline,
    print_json,
    progress,
)

if TYPE_CHECKING:
    from ._common import Subparsers


def cmd_detect(args: argparse.Namespace) -> int:
    from ..attributes import parse_attributes
    from ..viz import draw_faces, save_image

    wanted = parse_attributes(args.attributes)  # a bad name fails before any work
    pipe = pipeline(args)
    report: list[dict[str, object]] = []
    errors = ImageErrors(args.json)
    for path in progress(args.images, "detect"):
        try:
            image = pipe.load(path)
        except ImageError as exc:
            report.append(errors.add(path, exc))
            continue
        faces = pipe.find_faces(image)
        if wanted:
            faces = pipe.attributes(image, faces, wanted)
        report.append({"path": path, "faces": [f.to_dict(landmarks68=args.landmarks68)
                                               for f in faces]})
        if args.draw:
            save_image(draw_faces(image, faces, landmarks68=args.landmarks68),
                       draw_target(args.draw, path, len(args.images)))
        if not args.json:
            print(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
            for f in faces:
                b = f.box
                pose = (f" yaw {f.pose.yaw:+.0f} pitch {f.pose.pitch:+.0f} roll "
                        f"{f.pose.roll:+.0f}") if f.pose else ""
                print(f"  box left={b.left:.0f} top={b.top:.0f} width={b.width:.0f} "
                      f"height={b.height:.0f}  score {f.score:.2f}{pose}")
                if f.attributes is not None:
                    from ..attributes.base import describe

                    print(f"    {describe(f.attributes)}")
    if args.json:
        print_json({"images": report})
    return errors.exit_code


def register(sub: Subparsers) -> None:
    p = sub.add_parser("detect", help="find faces: boxes, landmarks, head pose")
    p.add_argument("images", nargs="+", metavar="IMG")
    add_detector_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--draw", metavar="OUT", help="write the image(s) with boxes and landmarks "
                   "(and dlib's 68 points, the mesh, when asked for)")
    p.add_argument("--attributes", metavar="NAMES", default="",
                   help="comma-separated attributes per face: age, gender, emotion, quality, "
                        "liveness (opt-in model), mesh, age_levi, gender_levi")
    p.add_argument("--landmarks68", action="store_true",
                   help="also show dlib's 68 landmarks (JSON and drawing)")
    p.set_defaults(func=cmd_detect)
