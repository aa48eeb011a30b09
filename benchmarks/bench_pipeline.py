"""faceprint's pipelines against face_recognition, on the same LFW images and cores.

In one run, on the same ``--images`` LFW images (every k-th image of the
View 2 pairs, a fixed list), each system runs in its own fresh process so that
its peak memory is its own:

* **face_recognition 1.3.0** (the baseline, as its README uses it):
  ``load_image_file`` then ``face_encodings`` (HOG detector, upsampling 1,
  5-point alignment, dlib's ResNet on dlib, one descriptor per face), run the
  way its own CLI runs many images with ``--cpus N``: a ``multiprocessing`` pool
  of N processes (``--workers``, default one per core: as many as faceprint's
  worker processes), images handed out one at a time;
* **faceprint**'s default pipeline through its batch mode
  (:func:`faceprint.batch.embed_many`: one worker process per core, each taking
  chunks of images through decoding, detection, alignment and embedding with
  single-threaded models; ``--threads-too`` also times the worker-threads way).

Printed, each as the median of ``--repeats`` timed passes after a warm-up (for
end to end: a pass over the first 50 images, which loads the models and starts
the worker processes):
end-to-end images/s; detection ms per image (each system's detector alone);
embedding ms per face (face_recognition: dlib per face; faceprint: batches of
32, two threads); peak RSS (faceprint: the main process plus its worker
processes); the faceprint / face_recognition ratios; and the physical
limit - the embedder's FLOPs per face, the GFLOP/s it reaches, and the
machine's float32 peak from a large numpy matmul.

    pip install --no-deps face_recognition==1.3.0 && pip install Click psutil
    python benchmarks/bench_pipeline.py --images 1000 --repeats 3 [--detectors blazeface]
    python benchmarks/bench_pipeline.py --images 1000 --repeats 3 \
        --pipelines yunet+sface,yunet+sface+dlib-resnet,blazeface-onet+dlib-resnet

``--detectors`` also times faceprint with other detectors against the same
baseline run; ``--pipelines`` times DETECTOR+EMBEDDER pairs (the embedder may
itself be fused, ``A+B``) against it too, each with its images/s, ms per face
and ratio. ``--workers N`` gives every system N processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data"))


def image_list(count: int) -> list[str]:
    """``count`` images spread evenly over the LFW View 2 pairs' images (sorted)."""
    from faceprint.datasets.lfw import image_path, images_dir, read_pairs

    lfw = DATA / "lfw"
    images = images_dir(lfw)
    paths = sorted({str(image_path(images, n, i)) for p in read_pairs(lfw / "pairs.txt")
                    for n, i in ((p.name1, p.index1), (p.name2, p.index2))})
    step = max(1, len(paths) // count)
    return paths[::step][:count]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn, repeats: int, warm_up=None) -> list[float]:  # type: ignore[no-untyped-def]
    """``repeats`` timings of ``fn()`` after one warm-up call (``warm_up()`` when given:
    a shorter call that loads the models and starts the workers just the same)."""
    (warm_up or fn)()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


#: images of the end-to-end warm-up pass
WARM_UP_IMAGES = 50


def _fr_encode(path: str) -> int:
    """One image through face_recognition (in a pool process): faces found."""
    import face_recognition as fr

    return len(fr.face_encodings(fr.load_image_file(path)))


def run_face_recognition(paths: list[str], repeats: int, sample: int, workers: int = 1
                         ) -> dict[str, object]:
    import multiprocessing

    import face_recognition as fr

    # face_recognition's CLI (--cpus N): a pool of N processes, one image per task
    pool = multiprocessing.get_context("forkserver").Pool(processes=workers) \
        if workers > 1 else None

    def end_to_end(images: list[str] = paths) -> None:
        if pool is not None:
            pool.map(_fr_encode, images, chunksize=1)
        else:
            for p in images:
                _fr_encode(p)

    times = _timed(end_to_end, repeats, lambda: end_to_end(paths[:WARM_UP_IMAGES]))
    pool_rss = 0.0
    if pool is not None:
        import psutil

        pool_rss = sum(c.memory_info().rss for c in psutil.Process().children(recursive=True)
                       ) / 2**20
        pool.close()
        pool.join()
    images = [fr.load_image_file(p) for p in paths[:sample]]
    det = _timed(lambda: [fr.face_locations(im, 1, "hog") for im in images], repeats)
    locations = [fr.face_locations(im, 1, "hog") for im in images]
    faces = sum(len(loc) for loc in locations)
    emb = _timed(lambda: [fr.face_encodings(im, loc) for im, loc in zip(images, locations)
                          if loc], repeats)
    return {"images_per_s": len(paths) / statistics.median(times),
            "detect_ms_per_image": 1000 * statistics.median(det) / len(images),
            "embed_ms_per_face": 1000 * statistics.median(emb) / max(faces, 1),
            "peak_rss_mb": _peak_rss_mb() + pool_rss, "end_to_end_s": times,
            "workers": workers}


def _worker_peak_rss_mb() -> float:
    """Peak RSS (VmHWM) of faceprint's worker processes, summed."""
    from faceprint.batch import worker_pids

    total = 0.0
    for pid in worker_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += float(line.split()[1]) / 1024.0
    return total


def run_faceprint(paths: list[str], repeats: int, sample: int,
                  detector: str | None = None, processes: bool | None = None,
                  embedder: str | None = None, workers: int = 0) -> dict[str, object]:
    from faceprint.batch import embed_many
    from faceprint.pipeline import Pipeline

    kwargs = {k: v for k, v in (("detector", detector), ("embedder", embedder)) if v}
    pipe = Pipeline(**kwargs)  # type: ignore[arg-type]

    def end_to_end(images: list[str] = paths) -> None:
        for _ in embed_many(pipe, images, processes=processes, workers=workers):
            pass

    times = _timed(end_to_end, repeats, lambda: end_to_end(paths[:WARM_UP_IMAGES]))
    workers_rss = _worker_peak_rss_mb()
    images = [pipe.load(p) for p in paths[:sample]]
    det = _timed(lambda: [pipe.detector.detect(im) for im in images], repeats)
    chips = np.concatenate([pipe.chips(im, pipe.detector.detect(im)) for im in images])
    emb = _timed(lambda: pipe.embed_chips(chips), repeats)
    return {"images_per_s": len(paths) / statistics.median(times),
            "detect_ms_per_image": 1000 * statistics.median(det) / len(images),
            "embed_ms_per_face": 1000 * statistics.median(emb) / max(len(chips), 1),
            "peak_rss_mb": _peak_rss_mb() + workers_rss, "end_to_end_s": times,
            "workers": "threads" if processes is False or not workers_rss else "processes",
            "detector": pipe.detector_name, "embedder": pipe.embedder_name,
            "providers": pipe.embedder.providers}  # type: ignore[attr-defined]


def child(system: str, list_file: str, repeats: int, sample: int, workers: int) -> None:
    paths = Path(list_file).read_text().split("\n")
    if system == "face_recognition":
        print(json.dumps(run_face_recognition(paths, repeats, sample, workers)))
    else:  # "faceprint" (the default), "faceprint:DETECTOR[+EMBEDDER]", "faceprint+threads"
        name, _, spec = system.partition(":")
        detector, _, embedder = spec.partition("+")
        processes = False if name.endswith("+threads") else None
        print(json.dumps(run_faceprint(paths, repeats, sample, detector or None, processes,
                                       embedder or None, workers)))


def physical_limit(embed_ms: float) -> dict[str, float]:
    """FLOPs per face of dlib's ResNet, GFLOP/s achieved, and the matmul peak."""
    import onnx

    from faceprint.dlibdnn import onnx_model_path
    from faceprint.dlibdnn.to_onnx import count_flops

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_dlibdnn import peak_gflops

    flops = count_flops(onnx.load(str(onnx_model_path("dlib-resnet"))),
                        {"chips": [1, 150, 150, 3]})
    return {"gflop_per_face": flops / 1e9, "achieved_gflops": flops / 1e9 / (embed_ms / 1e3),
            "peak_gflops_1_thread": peak_gflops(1), "peak_gflops_all": peak_gflops(os.cpu_count()
                                                                                     or 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=200,
                        help="images for the detection-only and embedding-only timings")
    parser.add_argument("--detectors", default="",
                        help="also run faceprint with these detectors (comma-separated), "
                             "each against the same baseline run")
    parser.add_argument("--threads-too", action="store_true",
                        help="also run the default pipeline with worker threads instead of "
                             "worker processes")
    parser.add_argument("--pipelines", default="",
                        help="also run faceprint pipelines DETECTOR+EMBEDDER (comma-separated)")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes for every system (default: one per core)")
    parser.add_argument("--no-limit", action="store_true",
                        help="skip the FLOP count and matmul peak")
    parser.add_argument("--child", nargs=2, metavar=("SYSTEM", "LIST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    workers = args.workers or len(os.sched_getaffinity(0))
    if args.child:
        child(args.child[0], args.child[1], args.repeats, args.sample, workers)
        return
    paths = image_list(args.images)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(paths))
    print(f"{len(paths)} LFW images, {args.repeats} timed passes each (medians), "
          f"{os.cpu_count()} cores, {workers} processes for every system")
    results = {}
    extra = [f"faceprint:{d}" for d in args.detectors.split(",") if d.strip()]
    extra += [f"faceprint:{p.strip()}" for p in args.pipelines.split(",") if p.strip()]
    if args.threads_too:
        extra.append("faceprint+threads")
    for system in ("face_recognition", "faceprint", *extra):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--child", system, fh.name,
                              "--repeats", str(args.repeats), "--sample", str(args.sample),
                              "--workers", str(workers)],
                             capture_output=True, text=True, check=True)
        results[system] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {system} done in {time.perf_counter() - started:.0f} s")
    os.unlink(fh.name)
    base, ours = results["face_recognition"], results["faceprint"]
    rows = [("end to end, images/s", "images_per_s", True),
            ("detection, ms per image", "detect_ms_per_image", False),
            ("embedding, ms per face", "embed_ms_per_face", False),
            ("peak RSS, MB", "peak_rss_mb", False)]
    for system in ("faceprint", *extra):
        run = results[system]
        default = " (the default)" if system == "faceprint" else ""
        print(f"\nfaceprint pipeline{default}: {run['detector']} + {run['embedder']} on "
              f"{', '.join(run['providers'])}, worker {run['workers']}; face_recognition: "
              f"{base['workers']} processes")
        print(f"{'':28}{'face_recognition':>18}{'faceprint':>12}{'ratio':>9}")
        for label, key, higher in rows:
            b, o = float(base[key]), float(run[key])
            ratio = o / b if higher else b / o
            print(f"{label:28}{b:>18.1f}{o:>12.1f}{ratio:>8.1f}x")
    print(f"\n{'pipeline':44}{'images/s':>10}{'ms/face':>9}{'ratio':>8}")
    print(f"{'face_recognition (HOG + dlib ResNet)':44}{float(base['images_per_s']):>10.1f}"
          f"{float(base['embed_ms_per_face']):>9.1f}{1.0:>7.1f}x")
    for system in ("faceprint", *extra):
        run = results[system]
        label = f"{run['detector']}+{run['embedder']}"
        print(f"{label:44}{float(run['images_per_s']):>10.1f}"
              f"{float(run['embed_ms_per_face']):>9.1f}"
              f"{float(run['images_per_s']) / float(base['images_per_s']):>7.1f}x")
    if args.no_limit:
        print(json.dumps(results))
        return
    limit = physical_limit(float(ours["embed_ms_per_face"]))
    print(f"\ndlib ResNet: {limit['gflop_per_face']:.3f} GFLOP per face; faceprint reaches "
          f"{limit['achieved_gflops']:.0f} GFLOP/s; numpy float32 matmul peak "
          f"{limit['peak_gflops_1_thread']:.0f} GFLOP/s on 1 thread, "
          f"{limit['peak_gflops_all']:.0f} on all cores")
    print(json.dumps({**results, "limit": limit}))


if __name__ == "__main__":
    main()
