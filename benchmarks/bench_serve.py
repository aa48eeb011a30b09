"""Throughput and latency of ``faceprint serve`` against a face_recognition baseline
service, in the same run, on the same request.

faceprint: ``faceprint serve --workers W`` (subprocess on 127.0.0.1), the cloud shape's
``/detect`` and ``/search`` (search = detect + embed + 1:N search of a gallery of
``--users`` users: random unit vectors bulk-loaded through the store plus real LFW
faces enrolled through the library).
baseline: a tiny FastAPI app (``benchmarks/_serve_baseline.py``) on uvicorn with the same
number of workers, answering like face_recognition's README web example:
``face_locations`` for detect; ``face_encodings`` + ``face_distance`` over the same
vectors held in memory for search.

The request: a 640x480 photo with one face (an LFW photo padded onto a 640x480 canvas).
Each (service, endpoint, clients) cell runs ``--seconds`` of closed-loop load, ``--runs``
times; medians are printed, and faceprint/baseline ratios.

    PYTHONPATH=src python benchmarks/bench_serve.py                     # the full run
    PYTHONPATH=src python benchmarks/bench_serve.py --preset accurate   # the other preset
    PYTHONPATH=src python benchmarks/bench_serve.py --users 1000 --seconds 5 --clients 1,4 \\
        --runs 1                                                        # a small check

Needs the serve extra and ``pip install --no-deps face_recognition==1.3.0``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def photo_640x480(lfw: Path) -> bytes:
    from PIL import Image

    face = Image.open(lfw / "images" / "George_W_Bush" / "George_W_Bush_0005.jpg").convert("RGB")
    canvas = Image.new("RGB", (640, 480), (120, 110, 100))
    canvas.paste(face, (200, 100))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def fill_gallery(db: Path, users: int, lfw: Path, preset: str = "fast") -> np.ndarray:
    """``users`` users: random unit vectors (bulk load) + 20 real LFW people; returns
    every stored vector (the baseline's in-memory gallery)."""
    from faceprint.gallery import open_gallery
    from faceprint.gallery.store.sqlite import SqliteStore, new_token, now
    from faceprint.pipeline import Pipeline

    pipe = Pipeline.from_preset(preset)  # the service's own pipeline
    name, dim = pipe.embedder_name, pipe.embedder.dim
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(max(0, users - 20), dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs *= 0.9  # dlib's embeddings have norms near 0.9-1.0
    store = SqliteStore(db)
    t = now()

    def rows() -> Any:
        for i, v in enumerate(vecs):
            yield {"kind": "user", "group_id": "default", "user_id": f"random-{i:06d}",
                   "user_info": "{}", "user_created": t}
            yield {"kind": "face", "group_id": "default", "user_id": f"random-{i:06d}",
                   "face_token": new_token(), "embedder": name, "dim": dim,
                   "vector": v.astype("<f4").tobytes(), "source": None, "box": None,
                   "quality": None, "face_created": t}

    store.load(rows())
    store.close()
    real = []
    people = sorted(p for p in (lfw / "images").iterdir() if p.is_dir()
                    and len(list(p.glob("*.jpg"))) >= 6)[:20]
    g = open_gallery(db)
    try:
        for p in people:
            img = sorted(p.glob("*.jpg"))[0]
            pipe.enroll(g, p.name, [img])
            real.append(pipe.embed_largest(img).embedding)
        g.save_index()
    finally:
        g.close()
    return np.vstack([vecs, np.array(real, dtype=np.float32)])


def connect(host: str, port: int, nodelay: bool = True) -> http.client.HTTPConnection:
    """A keep-alive connection; ``nodelay`` sets TCP_NODELAY, as requests/urllib3 (the
    clients of both SDKs) do by default: http.client sends a request's headers and body
    in two writes, and without it Nagle's algorithm meeting the server's delayed ACK
    can hold each request back for up to 40 ms on loopback."""
    import socket

    conn = http.client.HTTPConnection(host, port, timeout=60)
    if nodelay:
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


NODELAY = True


def load(host: str, port: int, path: str, body: bytes, headers: dict[str, str],
         clients: int, seconds: float) -> dict[str, float]:
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        conn = connect(host, port, NODELAY)
        mine = []
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body, headers)
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = connect(host, port, NODELAY)
                ok = False
            if ok:
                mine.append(time.perf_counter() - t0)
            else:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if not lat:
        return {"rps": 0.0, "p50_ms": float("nan"), "p99_ms": float("nan"),
                "errors": float(errors[0])}
    a = np.array(lat) * 1000
    return {"rps": len(lat) / wall, "p50_ms": float(np.percentile(a, 50)),
            "p99_ms": float(np.percentile(a, 99)), "errors": float(errors[0])}


def wait_ready(port: int, path: str = "/readyz", wait_s: float = 300) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"port {port} not ready")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", default=str(ROOT.parent / "shared" / "data" / "lfw"))
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--preset", default="fast",
                    help="faceprint serve's --preset (default fast, the service's default)")
    ap.add_argument("--detector", default=None,
                    help="faceprint serve's --detector, overriding the preset's (e.g. "
                         "blazeface-onet, the library's default detector)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-nodelay", action="store_true",
                    help="clients without TCP_NODELAY (plain http.client, as before)")
    ap.add_argument("--json", help="write the medians here")
    args = ap.parse_args()
    global NODELAY
    NODELAY = not args.no_nodelay
    lfw = Path(args.lfw)
    from serve_process import create_key, free_port, start, stop

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    db = tmp / "gallery.sqlite"
    t0 = time.perf_counter()
    vectors = fill_gallery(db, args.users, lfw, args.preset)
    print(f"gallery: {len(vectors):,} users in {time.perf_counter() - t0:.1f} s")
    np.save(tmp / "vectors.npy", vectors)
    key = create_key(db, "*", "detect,search,manage")
    photo = photo_640x480(lfw)
    image = base64.b64encode(photo).decode()
    extra = ["--detector", args.detector] if args.detector else []
    server = start(db, "--workers", str(args.workers), "--rate", "0", "--preset", args.preset,
                   *extra)
    print(f"faceprint serve --preset {args.preset} {' '.join(extra)}, {args.workers} workers")
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    c.request("GET", f"/oauth/2.0/token?grant_type=client_credentials&client_id="
                     f"{key['api_key']}&client_secret={key['secret_key']}")
    token = json.loads(c.getresponse().read())["access_token"]
    jh = {"Content-Type": "application/json"}
    fp = {"detect": (f"/rest/2.0/face/v3/detect?access_token={token}",
                     json.dumps({"image": image, "image_type": "BASE64"}).encode(), jh),
          "search": (f"/rest/2.0/face/v3/search?access_token={token}",
                     json.dumps({"image": image, "image_type": "BASE64",
                                 "group_id_list": "default", "match_threshold": 0}).encode(),
                     jh)}
    base = None
    if not args.no_baseline:
        port = free_port()
        env = {**os.environ, "BASELINE_VECTORS": str(tmp / "vectors.npy")}
        # the baseline's workers share a listening socket with TCP_NODELAY too, as
        # faceprint serve's do (faceprint.serve.nodelay): the same transport for both
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "benchmarks"),
                                             env.get("PYTHONPATH", "")])
        launch = ("from faceprint.serve.nodelay import NoDelayConfig\n"
                  "from uvicorn.supervisors import Multiprocess\n"
                  f"c = NoDelayConfig('_serve_baseline:app', host='127.0.0.1', port={port}, "
                  f"workers={args.workers}, log_level='warning')\n"
                  "Multiprocess(c, sockets=[c.bind_socket()]).run()\n")
        base = subprocess.Popen([sys.executable, "-c", launch], env=env,
                                start_new_session=True)
        wait_ready(port, "/healthz")
        bl = {"detect": ("/detect", photo, {"Content-Type": "image/jpeg"}),
              "search": ("/search", photo, {"Content-Type": "image/jpeg"})}
    results: dict[str, Any] = {}
    try:
        for endpoint in ("detect", "search"):
            for n in [int(x) for x in args.clients.split(",")]:
                services = [("faceprint", server.port, fp[endpoint])]
                if base is not None:
                    services.append(("baseline", port, bl[endpoint]))
                for name, p, (path, body, headers) in services:
                    load("127.0.0.1", p, path, body, headers, 1, 1.0)  # warm-up
                    runs = [load("127.0.0.1", p, path, body, headers, n, args.seconds)
                            for _ in range(args.runs)]
                    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                    results[f"{name}/{endpoint}/{n}"] = med
                    print(f"{name:9s} {endpoint:6s} clients={n:2d}: {med['rps']:7.1f} req/s  "
                          f"p50 {med['p50_ms']:7.1f} ms  p99 {med['p99_ms']:7.1f} ms  "
                          f"errors {med['errors']:.0f}", flush=True)
                if base is not None:
                    f, b = results[f"faceprint/{endpoint}/{n}"], results[f"baseline/{endpoint}/{n}"]
                    ratio = f["rps"] / b["rps"] if b["rps"] else float("inf")
                    print(f"  ratio faceprint/baseline {endpoint} clients={n}: {ratio:.1f}x")
    finally:
        stop(server)
        if base is not None:
            import signal

            os.killpg(base.pid, signal.SIGTERM)
            base.wait(timeout=30)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
