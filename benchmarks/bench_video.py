"""Video recognition speed: faceprint (tracking, detection every K frames) against
face_recognition's way (its README's video example: ``face_locations`` and
``face_encodings`` on every frame), on the same clip, cores and run.

    python benchmarks/bench_video.py [--frames 105] [--baseline-frames 12] [--repeats 3]

Both sides get the same cores (``--cores``, default 2, set by CPU affinity):
faceprint runs one process (decoding in its own thread, ONNX Runtime on those
cores); face_recognition runs one process per core, each taking half of the frames
(each decodes its own half). Input: ``../shared/data/video/video.mp4`` (1080p) and
the same clip resized to 720p (written to a temporary mp4 first, so decoding is
measured too). frames/s are medians over ``--repeats`` runs; ratios are against
face_recognition's median at the same size.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faceprint.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
CLIP = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data")) / "video" / \
    "video.mp4"


def resized_clip(src: Path, height: int, folder: Path) -> Path:
    import cv2

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out = folder / f"clip{height}.mp4"
    writer = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        size = (round(w * height / h), height)
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    cap.release()
    assert writer is not None
    writer.release()
    return out


def faceprint_fps(pipe: Pipeline, path: Path, every: int | None, frames: int, db: Path
                  ) -> tuple[float, int, float]:
    """frames/s (wall clock), detection frames, frames per CPU second (all threads)."""
    from faceprint.gallery.sqlite import SqliteGallery
    from faceprint.video import VideoRecognizer, open_source

    with SqliteGallery(db) as g:
        rec = VideoRecognizer(pipe, g, every=every)
        start, cpu = time.perf_counter(), time.process_time()
        with open_source(path) as src:
            for _result in rec.run(src):
                if rec.frames >= frames:
                    break
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return rec.frames / elapsed, rec.detection_frames, rec.frames / cpu


def _fr_worker(args: tuple[str, int, int, list[object], int]) -> tuple[int, float]:
    """face_recognition's video example on frames [first, last) of the file."""
    import cv2
    import face_recognition

    path, first, last, known, core = args
    os.sched_setaffinity(0, {core})
    cap = cv2.VideoCapture(path)
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    cpu = time.process_time()
    n = 0
    for _ in range(first, last):
        ok, frame = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        locations = face_recognition.face_locations(rgb)
        encodings = face_recognition.face_encodings(rgb, locations)
        for enc in encodings:
            face_recognition.compare_faces(known, enc)
        n += 1
    return n, time.process_time() - cpu


def face_recognition_fps(path: Path, frames: int, cores: list[int], known: list[object]
                         ) -> tuple[float, float]:
    """frames/s (wall clock) and frames per CPU second (all worker processes)."""
    per = -(-frames // len(cores))
    jobs = [(str(path), i * per, min((i + 1) * per, frames), known, core)
            for i, core in enumerate(cores)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(len(cores)) as pool:
        pool.map(_fr_worker, [(str(path), 0, 1, known, c) for c in cores])  # warm up
        start = time.perf_counter()
        done = pool.map(_fr_worker, jobs)
        elapsed = time.perf_counter() - start
    n = sum(d[0] for d in done)
    return n / elapsed, n / sum(d[1] for d in done)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("--frames", type=int, default=105, help="frames per faceprint run")
    ap.add_argument("--baseline-frames", type=int, default=12,
                    help="frames per face_recognition run (it is slow)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--sizes", default="720,1080")
    ap.add_argument("--ks", default="1,3,10,adaptive")
    args = ap.parse_args()
    if not args.clip.exists():
        print(f"no clip at {args.clip}", file=sys.stderr)
        return 7
    cores = sorted(os.sched_getaffinity(0))[:args.cores]
    os.sched_setaffinity(0, set(cores))
    os.environ.setdefault("FACEPRINT_THREADS", str(len(cores)))
    import cv2
    import face_recognition
    import numpy as np

    from faceprint.gallery.sqlite import SqliteGallery
    from faceprint.pipeline import Pipeline

    cv2.setNumThreads(len(cores))
    tmp = Path(tempfile.mkdtemp(prefix="bench-video-"))
    # one enrolled face (from frame 60), so that both sides embed and compare
    cap = cv2.VideoCapture(str(args.clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
    _ok, frame = cap.read()
    cap.release()
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    pipe = Pipeline()
    db = tmp / "g.db"
    with SqliteGallery(db) as g:
        pipe.enroll(g, "someone", [rgb[620:860, 850:1060]])
    known = face_recognition.face_encodings(np.ascontiguousarray(rgb[620:860, 850:1060]))[:1]
    print(f"cores {cores}; clip {args.clip}; faceprint {args.frames} frames, "
          f"face_recognition {args.baseline_frames} frames; medians of {args.repeats}")
    print("frames/s: wall clock on the given cores; cpu: frames per CPU second x cores "
          "(what the cores would give if they were not shared; assumes both kept busy)")
    print(f"{'input':>6} {'method':>28} {'frames/s':>9} {'x face_rec':>10} {'detections':>10}"
          f" {'cpu f/s':>8} {'x':>6}")
    for size in [int(s) for s in args.sizes.split(",")]:
        path = args.clip if size == 1080 else resized_clip(args.clip, size, tmp)
        fr = [face_recognition_fps(path, args.baseline_frames, cores, known)
              for _ in range(args.repeats)]
        base = statistics.median(r[0] for r in fr)
        base_cpu = statistics.median(r[1] for r in fr) * len(cores)
        print(f"{size:>5}p {'face_recognition (2 procs)':>28} {base:9.2f} {1.0:10.1f} "
              f"{'':>10} {base_cpu:8.2f} {1.0:6.1f}", flush=True)
        faceprint_fps(pipe, path, 1, 3, db)  # warm up (models loaded)
        for k in args.ks.split(","):
            every = None if k == "adaptive" else int(k)
            runs = [faceprint_fps(pipe, path, every, args.frames, db) for _ in range(args.repeats)]
            fps = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[2] for r in runs) * len(cores)
            label = f"faceprint K={k}" if every else "faceprint adaptive (<=10)"
            print(f"{size:>5}p {label:>28} {fps:9.2f} {fps / base:10.1f} {runs[0][1]:>10} "
                  f"{cpu:8.2f} {cpu / base_cpu:6.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
