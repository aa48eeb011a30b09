"""``faceprint video``: track and name the faces of a video file, a camera or a stream.

Exit status: 0 ok (also when a stream ends or stalls: that is its end); 2 bad usage;
3 the source cannot be opened (no such file, not a video, truncated, no such camera,
a stream that does not answer); 5 unknown model; 6 gallery error (empty gallery,
groups on a gallery without groups).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import FaceprintError, UsageError


def register(subparsers: Any) -> None:
    """Add the ``video`` command to the ``faceprint`` sub-parsers."""
    from ._common import add_detector_args, add_embedder_args

    p = subparsers.add_parser(
        "video", help="track and name faces in a video file, camera or stream",
        description="Track the faces of a video (detection every K frames, adaptive by "
                    "default, a Kalman/IoU tracker in between) and name them from a "
                    "gallery by a vote over each track's embeddings.")
    p.add_argument("source", nargs="?", metavar="SOURCE",
                   help="a video file, a camera index, or a stream URL (rtsp://, http://)")
    p.add_argument("--camera", type=int, metavar="N", help="read camera N instead of SOURCE")
    p.add_argument("--db", metavar="PATH", help="gallery to name faces from (default: none, "
                   "tracks stay unnamed)")
    p.add_argument("--group", metavar="G1,G2", help="only these gallery groups")
    p.add_argument("--out", metavar="FILE.mp4", help="write the annotated video (mp4v)")
    p.add_argument("--json", metavar="FILE", help="write the tracks as JSON ('-': stdout)")
    p.add_argument("--csv", metavar="FILE", help="write every detection as CSV")
    p.add_argument("--thumbs", metavar="DIR", help="write each track's best face as PNG")
    p.add_argument("--every", type=int, metavar="K",
                   help="detect every K frames (default: adaptive, up to --max-every)")
    p.add_argument("--max-every", type=int, default=10, metavar="K",
                   help="longest interval of adaptive detection (default 10)")
    p.add_argument("--detect-width", type=int, metavar="PX",
                   help="detect on frames resized to this width (faster; small faces lost)")
    p.add_argument("--live", action="store_true",
                   help="print recognitions as they happen; drop frames rather than lag")
    p.add_argument("--read-timeout", type=float, default=10.0, metavar="S",
                   help="a stream that sends no frame for S seconds ends (default 10)")
    p.add_argument("--match-threshold", type=float, metavar="D",
                   help="distance threshold (default: the embedder's calibrated one)")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    add_detector_args(p)
    add_embedder_args(p)
    p.set_defaults(func=cmd_video)


def cmd_video(args: argparse.Namespace) -> int:
    from ..video import VideoRecognizer, open_source
    from ..video.draw import draw_tracks
    from ._common import pipeline

    if args.camera is not None and args.source is not None:
        raise UsageError("give SOURCE or --camera N, not both")
    spec: str | int
    if args.camera is not None:
        spec = args.camera
    elif args.source is not None:
        spec = args.source
    else:
        raise UsageError("give a SOURCE (file, camera index, URL) or --camera N")
    for name in ("every", "max_every", "detect_width", "max_frames"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    groups = [g.strip() for g in args.group.split(",") if g.strip()] if args.group else []
    if groups and not args.db:
        raise UsageError("--group needs a gallery (--db)")
    pipe = pipeline(args)
    gallery = None
    if args.db:
        from ..gallery import open_gallery

        gallery = open_gallery(args.db)
    try:
        recognizer = VideoRecognizer(pipe, gallery, groups=groups, every=args.every,
                                     max_every=args.max_every, detect_width=args.detect_width)
        source = open_source(spec, live=True if args.live else None,
                             read_timeout=args.read_timeout)
        writer = None
        progress = None
        if not args.live and source.frame_count:
            from tqdm import tqdm

            progress = tqdm(total=source.frame_count, unit="frame", desc="video",
                            file=sys.stderr, disable=None)
        start = time.perf_counter()
        with source:
            for result in recognizer.run(source):
                for event in result.events:
                    if args.live:
                        print(event, flush=True)
                if not result.final:
                    if args.out:
                        if writer is None:
                            writer = _writer(args.out, source.fps, result.frame.image)
                        label = f"frame {result.frame.index}"
                        writer.write(_bgr(draw_tracks(result.frame.image, result.tracks,
                                                      label)))
                    if progress is not None:
                        progress.update(1)
                if args.max_frames and recognizer.frames >= args.max_frames:
                    for event in recognizer.finish(result.frame.index, result.frame.time):
                        if args.live:
                            print(event, flush=True)
                    break
        elapsed = time.perf_counter() - start
        if progress is not None:
            progress.close()
        if writer is not None:
            writer.release()
    finally:
        if gallery is not None:
            gallery.close()
    tracks = recognizer.all_tracks()
    if source.end_reason and source.end_reason.startswith("stalled"):
        print(f"faceprint: {source.name}: the stream {source.end_reason}; ended there",
              file=sys.stderr)
    elif source.end_reason and source.end_reason.startswith("error"):
        print(f"faceprint: {source.name}: decoding stopped ({source.end_reason})",
              file=sys.stderr)
    if source.truncated:
        print(f"faceprint: {source.name}: ended after {source.decoded} of "
              f"{source.frame_count} frames (truncated?)", file=sys.stderr)
    track_dicts = [t.to_dict() for t in tracks]
    report = {
        "source": source.name, "fps": source.fps, "frames": recognizer.frames,
        "width": source.width, "height": source.height,
        "decoded": source.decoded, "dropped": source.dropped, "end": source.end_reason,
        "detection_frames": recognizer.detection_frames,
        "embeddings": recognizer.embeddings, "seconds": round(elapsed, 3),
        "detector": pipe.detector_name, "embedder": pipe.embedder_name,
        "metric": pipe.metric, "threshold": pipe.threshold if gallery is not None else None,
        "tracks": track_dicts,
    }
    if args.thumbs:
        from ..viz import save_image

        folder = Path(args.thumbs)
        for t, d in zip(tracks, track_dicts):
            if t.thumbnail is not None:
                path = save_image(t.thumbnail, folder / f"track-{t.id:04d}.png")
                d["thumbnail"] = str(path)
    if args.json:
        text = json.dumps(report, indent=2, ensure_ascii=False)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    if args.csv:
        _write_csv(args.csv, tracks, source.fps)
    if args.json != "-":
        fps = recognizer.frames / max(elapsed, 1e-9)
        print(f"{source.name}: {recognizer.frames} frames ({fps:.1f} frames/s, "
              f"{recognizer.detection_frames} with detection, {source.dropped} dropped), "
              f"{len(tracks)} tracks")
        if not args.live:
            for t in tracks:
                dist = f" (distance {t.distance:.3f})" if t.name and t.distance else ""
                print(f"  track {t.id}: frames {t.first_frame}-{t.last_frame}, "
                      f"{len(t.detections)} detections, {t.name or 'unknown'}{dist}")
    return 0


def _bgr(image: Any) -> Any:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def _writer(path: str, fps: float, first: Any) -> Any:
    import cv2

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise FaceprintError(f"{out}: cannot write a video there (use .mp4)")
    return writer


def _write_csv(path: str, tracks: list[Any], fps: float) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "time", "track", "name", "distance", "left", "top", "width",
                    "height", "score", "detected"])
        rows = []
        for t in tracks:
            for o in t.observations:
                rows.append([o.frame, round(o.frame / fps, 3), t.id, t.name or "",
                             "" if t.distance is None else round(t.distance, 4),
                             *o.box.as_list(), "" if o.score is None else round(o.score, 4),
                             int(o.detected)])
        rows.sort(key=lambda r: (r[0], r[2]))
        w.writerows(rows)
