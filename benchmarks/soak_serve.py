"""Soak test of ``faceprint serve`` (not CI): ``--minutes`` of mixed traffic (detect,
search, user add, face list, face delete, CompreFace recognize) from ``--clients``
threads; the servers' resident memory (every uvicorn worker, by psutil) is sampled
each ``--every`` seconds. Reports RSS growth after warm-up (the first 20 % of the run)
and the error count. Goal: growth < 10 %, no error.

    PYTHONPATH=src python benchmarks/soak_serve.py --minutes 10
    PYTHONPATH=src python benchmarks/soak_serve.py --minutes 1      # a quick check
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def rss_mb(pid: int) -> float:
    p = psutil.Process(pid)
    procs = [p, *p.children(recursive=True)]
    total = 0
    for q in procs:
        with contextlib.suppress(psutil.Error):
            total += q.memory_info().rss
    return total / 2 ** 20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", default=str(ROOT.parent / "shared" / "data" / "lfw"))
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--every", type=float, default=5.0)
    args = ap.parse_args()
    from serve_process import create_key, start, stop

    lfw = Path(args.lfw)
    tmp = Path(tempfile.mkdtemp(prefix="soak-serve-"))
    db = tmp / "gallery.sqlite"
    key = create_key(db, "soak", "detect,search,manage")
    people = sorted(p for p in (lfw / "images").iterdir() if p.is_dir())[:300]
    images = [base64.b64encode(sorted(p.glob("*.jpg"))[0].read_bytes()).decode()
              for p in people]
    server = start(db, "--workers", str(args.workers), "--rate", "0")
    jh = {"Content-Type": "application/json"}

    def post(conn: http.client.HTTPConnection, path: str, body: object,
             headers: dict[str, str] = jh) -> tuple[int, dict[str, object]]:
        conn.request("POST", path, json.dumps(body).encode(), headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read())

    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    c.request("GET", f"/oauth/2.0/token?grant_type=client_credentials&client_id="
                     f"{key['api_key']}&client_secret={key['secret_key']}")
    q = "?access_token=" + json.loads(c.getresponse().read())["access_token"]
    v3 = "/rest/2.0/face/v3"
    post(c, v3 + "/faceset/group/add" + q, {"group_id": "soak"})
    for i in range(10):
        post(c, v3 + "/faceset/user/add" + q, {"image": images[i], "image_type": "BASE64",
                                               "group_id": "soak", "user_id": f"seed-{i}"})
    stop_at = time.monotonic() + args.minutes * 60
    counts = {"ok": 0, "errors": 0}
    lock = threading.Lock()
    unexpected: list[str] = []

    def client(tid: int) -> None:
        rng = random.Random(tid)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        n = 0
        while time.monotonic() < stop_at:
            img = rng.choice(images)
            op = rng.random()
            try:
                if op < 0.3:
                    st, got = post(conn, v3 + "/detect" + q, {"image": img,
                                                              "image_type": "BASE64"})
                    good = st == 200
                elif op < 0.6:
                    st, got = post(conn, v3 + "/search" + q, {
                        "image": img, "image_type": "BASE64", "group_id_list": "soak"})
                    good = st == 200 or got.get("error_code") == 222207
                elif op < 0.75:
                    uid = f"t{tid}-{n % 50}"
                    n += 1
                    st, got = post(conn, v3 + "/faceset/user/add" + q, {
                        "image": img, "image_type": "BASE64", "group_id": "soak",
                        "user_id": uid, "action_type": "REPLACE"})
                    good = st == 200
                elif op < 0.85:
                    st, got = post(conn, v3 + "/faceset/face/getlist" + q, {
                        "group_id": "soak", "user_id": f"seed-{rng.randrange(10)}"})
                    good = st == 200
                else:
                    body = {"file": img}
                    st, got = post(conn, "/api/v1/recognition/recognize", body,
                                   {**jh, "x-api-key": key["api_key"]})
                    good = st == 200
            except (OSError, http.client.HTTPException, ValueError) as exc:
                good, got = False, {"exception": repr(exc)}
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            with lock:
                counts["ok" if good else "errors"] += 1
                if not good and len(unexpected) < 5:
                    unexpected.append(json.dumps(got)[:200])

    threads = [threading.Thread(target=client, args=(t,), daemon=True)
               for t in range(args.clients)]
    start_t = time.monotonic()
    for t in threads:
        t.start()
    samples: list[tuple[float, float]] = []
    while time.monotonic() < stop_at:
        samples.append((time.monotonic() - start_t, rss_mb(server.proc.pid)))
        time.sleep(args.every)
    for t in threads:
        t.join(timeout=120)
    stop(server)
    warm = [m for t, m in samples if t >= 0.2 * args.minutes * 60] or [samples[-1][1]]
    growth = (warm[-1] - warm[0]) / warm[0] * 100
    print(f"{counts['ok']} ok, {counts['errors']} errors in {args.minutes:g} min "
          f"({args.clients} clients, {args.workers} workers)")
    print(f"RSS after warm-up {warm[0]:.0f} MiB -> end {warm[-1]:.0f} MiB: "
          f"{growth:+.1f} % (max {max(warm):.0f} MiB)")
    for line in unexpected:
        print("error:", line)


if __name__ == "__main__":
    main()
