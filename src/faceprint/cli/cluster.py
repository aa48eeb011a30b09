"""``faceprint cluster``: a photo collection grouped into people.

    faceprint cluster DIR... --out OUT [--method M] [--threshold D] [--json FILE] [--copy]
    faceprint cluster --incremental OUT DIR...      new photos join the clusters
    faceprint cluster name OUT ID NAME [--db PATH]  name a cluster, enrol its faces
    faceprint cluster map OUT [--png FILE]          t-SNE map of the album's faces

(``name`` and ``map`` are words the first positional argument may be; a folder of
that name is written ``./name``.) What OUT holds: :mod:`faceprint.album`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import FaceprintError

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add ``cluster`` to the ``faceprint`` command's sub-parsers."""
    from ..cluster import METHODS
    from ..registry import DEFAULT_DETECTOR, list_detectors
    from ._common import add_db_arg, add_embedder_args
    from .groups import add_group_arg

    p = subparsers.add_parser(
        "cluster", help="group the faces of many photos into people (also: cluster name, "
                        "cluster map)",
        description="Group every face of the photos into people. Also: 'faceprint cluster "
                    "name OUT ID NAME' names a cluster and enrols its faces in the gallery; "
                    "'faceprint cluster map OUT' draws the album's embedding.",
        epilog="Exit status: 0 ok, 2 usage, 3 no readable image, 4 no face in any photo, "
               "5 model missing, 6 gallery error, 7 OUT is not an album, 1 other.")
    p.add_argument("paths", nargs="*", metavar="DIR",
                   help="photo folders or files (or: name OUT ID NAME; map OUT)")
    p.add_argument("--out", metavar="OUT", help="the album folder (outputs, cache, state)")
    p.add_argument("--incremental", metavar="OUT",
                   help="add the photos to the album in OUT: new faces join its clusters "
                        "or form new ones; nothing is reclustered")
    p.add_argument("--method", choices=METHODS, default=None,
                   help="chinese-whispers (default), agglomerative or hdbscan")
    p.add_argument("--threshold", type=float, metavar="D",
                   help="linking distance in the embedder's metric (default: a per-method "
                        "multiple of the embedder's verification threshold)")
    p.add_argument("--linkage", choices=("average", "complete"), default="average",
                   help="agglomerative linkage (default average)")
    p.add_argument("--min-size", type=int, default=2, metavar="N",
                   help="smaller clusters are noise (default 2)")
    p.add_argument("--seed", type=int, default=0, help="chinese whispers' random order")
    p.add_argument("--json", metavar="FILE", help="also write the clusters' JSON here")
    p.add_argument("--copy", action="store_true",
                   help="copy the photos into OUT/people/ instead of linking them")
    p.add_argument("--workers", type=int, default=0,
                   help="embedding worker processes (default: one per core)")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, metavar="NAME",
                   help=f"one of {', '.join(list_detectors())} (default {DEFAULT_DETECTOR})")
    p.add_argument("--min-face-size", type=int, metavar="PX",
                   help="ignore faces narrower than this (pixels)")
    p.add_argument("--upsample", type=int, metavar="N", help="detector upsampling")
    p.add_argument("--detection-threshold", type=float, metavar="SCORE",
                   help="detection score threshold, in the detector's own units")
    add_embedder_args(p)
    add_db_arg(p)
    add_group_arg(p)
    p.add_argument("--png", metavar="FILE", help="map: the picture (default OUT/map.png)")
    p.add_argument("--perplexity", type=float, default=30.0, help="map: t-SNE perplexity")
    p.add_argument("--no-thumbs", action="store_true", help="map: dots only")
    p.set_defaults(func=cmd_cluster)


def _usage(message: str) -> int:
    print(f"faceprint cluster: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def pipeline(args: argparse.Namespace) -> Any:
    from ..pipeline import Pipeline

    opts: dict[str, Any] = {}
    for key, dest in (("min_face_size", "min_face_size"), ("upsample", "upsample"),
                      ("threshold", "detection_threshold")):
        value = getattr(args, dest, None)
        if value is not None:
            opts[key] = value
    return Pipeline(args.detector, args.embedder, detector_options=opts,
                    embedder_options={"engine": args.engine} if args.engine else {},
                    flip=args.flip, jitter=args.jitter)


def cmd_cluster(args: argparse.Namespace) -> int:
    if args.paths and args.paths[0] == "name" and not args.incremental and not args.out:
        if len(args.paths) != 4:
            return _usage("usage: faceprint cluster name OUT ID NAME [--db PATH]")
        return cmd_name(Path(args.paths[1]), args.paths[2], args.paths[3], args)
    if args.paths and args.paths[0] == "map" and not args.incremental and not args.out:
        if len(args.paths) != 2:
            return _usage("usage: faceprint cluster map OUT [--png FILE]")
        return cmd_map(Path(args.paths[1]), args)
    if args.incremental and args.out:
        return _usage("give --out OUT or --incremental OUT, not both")
    if not (args.incremental or args.out):
        return _usage("--out OUT is required (or --incremental OUT)")
    if not args.paths:
        return _usage("give the photo folders or files to cluster")
    if args.threshold is not None and args.threshold <= 0:
        return _usage("--threshold must be > 0")
    if args.min_size < 2:
        return _usage("--min-size must be at least 2")
    return cmd_run(args)


def cmd_run(args: argparse.Namespace) -> int:
    from .. import album
    from ..batch import image_files
    from ..cluster import default_threshold

    incremental = args.incremental is not None
    out = Path(args.incremental or args.out)
    files = image_files(args.paths)
    if not files:
        from ..errors import ImageError

        raise ImageError("no image files found in " + ", ".join(args.paths))
    previous = album.load_state(out) if incremental else None
    if previous is None and (out / album.STATE).exists():
        try:
            previous = album.load_state(out)
        except FaceprintError:
            previous = None  # a damaged state is remade from scratch
    pipe = pipeline(args)
    if incremental:
        assert previous is not None
        if previous.embedder != pipe.embedder_name or previous.detector != pipe.detector_name:
            raise FaceprintError(
                f"{out} was clustered with {previous.detector} + {previous.embedder}; add "
                f"photos with the same --detector and --embedder")
    faces, embedded = album.embed_album(pipe, files, out, workers=args.workers)
    wanted = {str(f.resolve()) for f in files}
    if not incremental:  # a fresh run clusters only the photos named now
        keep = [i for i, p in enumerate(faces.paths) if p in wanted]
        faces = album.AlbumFaces([faces.paths[i] for i in keep], [faces.index[i] for i in keep],
                                 [faces.boxes[i] for i in keep],
                                 [faces.scores[i] for i in keep], faces.vectors[keep],
                                 {p: s for p, s in faces.photos.items() if p in wanted},
                                 {p: e for p, e in faces.failed.items() if p in wanted})
        album.check_found(faces, files)
    elif not len(faces):
        album.check_found(faces, files)
    options: dict[str, Any] = {"min_size": args.min_size}
    if incremental:
        assert previous is not None
        state = previous
        if args.method and args.method != state.method:
            raise FaceprintError(f"{out} was clustered with {state.method}; an incremental "
                                 f"run keeps it (recluster with --out to change)")
        if args.threshold is not None:
            state.threshold = args.threshold
        options.update(_method_options(state.method, args))
        joined, created = album.cluster_incremental(faces, state, seed=args.seed, **options)
    else:
        method = args.method or "chinese-whispers"
        threshold = args.threshold or default_threshold(method, pipe.threshold)
        state = album.AlbumState(method, threshold, pipe.metric, pipe.embedder_name,
                                 pipe.detector_name)
        options.update(_method_options(method, args))
        album.cluster_all(faces, state, seed=args.seed, previous=previous, **options)
    album.save_state(out, state, faces.failed)
    result = album.clustering(faces, state)
    album.write_outputs(result, out, faces.failed, copy=args.copy,
                        json_path=Path(args.json) if args.json else None)
    photos = len(faces.photos)
    clustered = sum(c.size for c in result.clusters)
    print(f"{photos} photos ({embedded} files embedded now, {len(faces.failed)} unreadable), "
          f"{len(faces)} faces: {len(result.clusters)} people ({clustered} faces), "
          f"{len(result.noise)} faces alone; {state.method}, threshold "
          f"{state.threshold:.4f} ({state.metric})")
    if incremental:
        print(f"{joined} new faces joined existing people, {created} new people")
    for c in result.clusters[:10]:
        label = f" {c.name}" if c.name else ""
        print(f"  #{c.id}{label}: {c.size} faces in {c.photos} photos")
    for _, error in sorted(faces.failed.items())[:10]:
        print(f"  skipped {error}", file=sys.stderr)
    print(f"wrote {out / 'index.html'}, {out / 'clusters.json'}, {out / 'people'}/")
    return 0


def _method_options(method: str, args: argparse.Namespace) -> dict[str, Any]:
    return {"linkage": args.linkage} if method == "agglomerative" else {}


def cmd_name(out: Path, cluster_id: str, name: str, args: argparse.Namespace) -> int:
    """Name cluster ``cluster_id`` of the album in ``out`` and enrol its faces (those
    not enrolled before) in the gallery ``--db`` as ``name``."""
    from .. import album
    from ..errors import DataError
    from ..gallery import open_gallery

    try:
        cid = int(cluster_id)
    except ValueError:
        return _usage(f"the cluster id must be a number, got {cluster_id!r}")
    name = name.strip()
    if not name:
        return _usage("the name must not be empty")
    state = album.load_state(out)
    faces = album.load_album_faces(out)
    keys = faces.face_keys()
    rows = [i for i, k in enumerate(keys) if state.labels.get(k) == cid]
    if not rows:
        known = sorted({v for v in state.labels.values() if v >= 0})
        raise DataError(f"{out} has no cluster {cid} (clusters: "
                        f"{', '.join(map(str, known[:20]))}{' ...' if len(known) > 20 else ''})")
    new_rows = [i for i in rows if state.enrolled.get(keys[i]) != name]
    refs = faces.refs()
    with open_gallery(args.db) as gallery:
        ids = album.enroll_cluster(gallery, name, state.embedder, faces.vectors[new_rows],
                                   [refs[i] for i in new_rows], args.group) if new_rows else []
        total = gallery.person(name, args.group).face_count
    state.names[cid] = name
    for i in new_rows:
        state.enrolled[keys[i]] = name
    album.save_state(out, state, faces.failed)
    result = album.clustering(faces, state)
    album.write_outputs(result, out, faces.failed)
    print(f"cluster {cid} is {name}: enrolled {len(ids)} face{'s' if len(ids) != 1 else ''} "
          f"({total} in all) in {args.db}")
    return 0


def cmd_map(out: Path, args: argparse.Namespace) -> int:
    from .. import album
    from ..figures import embedding_map

    state = album.load_state(out)
    faces = album.load_album_faces(out)
    result = album.clustering(faces, state)
    thumbs = album.write_thumbnails(result, out / "thumbs")
    keys = faces.face_keys()
    labels = [state.labels.get(k, -1) for k in keys]
    names = {c.id: (c.name or f"#{c.id}") for c in result.clusters}
    tags = [names.get(v, "alone") if v >= 0 else "alone" for v in labels]
    pics = None if args.no_thumbs else [
        thumbs.get(f"{f.path}|{f.box.as_list()}") for f in faces.refs()]
    target = Path(args.png) if args.png else out / "map.png"
    embedding_map(faces.vectors, tags, target, metric=state.metric, thumbs=pics,
                  perplexity=args.perplexity,
                  title=f"t-SNE of the {len(faces)} faces of {out.resolve().name}: "
                        f"{len(result.clusters)} people found ({state.method}, "
                        f"{state.embedder})")
    print(f"wrote {target}")
    return 0
