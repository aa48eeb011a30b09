"""``make demo``: enrol a few people into a fresh gallery, identify other photos
of them and of a stranger, print what was found, and draw it.

With the shared LFW data beside the project (``../shared/data/lfw``, or
``$FACEPRINT_DATA/lfw``) it enrols four public figures from three photos each
and identifies two other photos of each plus two people it never saw. Without
it, it uses scikit-image's photos: the astronaut Eileen Collins is enrolled
from her portrait, then recognised in an altered copy (smaller, turned,
darker, heavily compressed), and the cameraman photo plays the stranger.

    python -m faceprint.demo [--out build/demo] [--detector NAME]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

from .datasets.lfw import image_path
from .errors import FaceprintError
from .gallery.sqlite import SqliteGallery
from .image import load_image
from .pipeline import Pipeline
from .types import Identification
from .viz import draw_faces, save_image

ROOT = Path(__file__).resolve().parents[2]
ENROL = {  # LFW person -> image numbers enrolled; the probes are other images
    "Colin_Powell": (1, 2, 3), "Serena_Williams": (1, 2, 3),
    "Gerhard_Schroeder": (1, 2, 3), "Junichiro_Koizumi": (1, 2, 3),
}
PROBES = [("Colin_Powell", 10), ("Colin_Powell", 20), ("Serena_Williams", 10),
          ("Serena_Williams", 20), ("Gerhard_Schroeder", 10), ("Gerhard_Schroeder", 20),
          ("Junichiro_Koizumi", 10), ("Junichiro_Koizumi", 20),
          ("Hugo_Chavez", 1), ("Jennifer_Aniston", 1)]  # the last two were never enrolled


def _lfw() -> Path | None:
    base = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data"))
    images = base / "lfw" / "images"
    return images if images.is_dir() else None


def _altered(image: np.ndarray) -> np.ndarray:
    """The astronaut re-photographed: 70 % size, turned 8 degrees, darker, JPEG q=35."""
    import cv2
    from PIL import Image

    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 0.7)
    turned = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    darker = np.clip(turned.astype(np.float32) * 0.75, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(darker).save(buf, format="JPEG", quality=35)
    return load_image(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faceprint.demo", description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "build" / "demo"), help="output folder")
    parser.add_argument("--detector", default=None, help="detector (default: the pipeline's)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "gallery.db"
    for suffix in ("", "-wal", "-shm", ".keys", ".keys-wal", ".keys-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)

    images = _lfw()
    enrol: dict[str, list[object]] = {}
    probes: list[tuple[str, object, str | None]] = []  # label, image, true name
    if images is not None:
        print(f"faceprint demo: LFW photos from {images}")
        for name, numbers in ENROL.items():
            enrol[name] = [image_path(images, name, n) for n in numbers]
        for name, number in PROBES:
            truth = name if name in ENROL else None
            probes.append((f"{name}_{number:04d}.jpg", image_path(images, name, number), truth))
    else:
        from skimage import data

        print("faceprint demo: ../shared/data not found; using scikit-image's photos")
        astronaut = np.ascontiguousarray(data.astronaut())
        enrol["Eileen_Collins"] = [astronaut]
        probes = [("astronaut, altered copy", _altered(astronaut), "Eileen_Collins"),
                  ("cameraman", np.ascontiguousarray(data.camera()), None)]

    pipe = Pipeline(args.detector) if args.detector else Pipeline()
    print(f"pipeline: detector {pipe.detector_name}, embedder {pipe.embedder_name}, "
          f"threshold {pipe.threshold:.4f} ({pipe.metric} distance)")
    started = time.perf_counter()
    with SqliteGallery(db) as gallery:
        for name, sources in enrol.items():
            pipe.enroll(gallery, name, sources)  # type: ignore[arg-type]
            print(f"  enrolled {name.replace('_', ' ')} from {len(sources)} photo(s)")
        print(f"gallery {db}: {gallery.count_faces()} faces of {len(gallery.people())} people\n")
        right = 0
        tiles = []
        for label, source, truth in probes:
            image = pipe.load(source)  # type: ignore[arg-type]
            found = pipe.identify(image, gallery)
            if not found:
                print(f"{label}: no face found")
                continue
            main_face = max(found, key=lambda i: i.face.box.area)
            ok = main_face.name == truth
            right += ok
            said = _said(main_face)
            who = truth.replace("_", " ") if truth else "a stranger"
            print(f"{label:32} {said:48} [{'right' if ok else 'WRONG'}: {who}]")
            labels = [i.name.replace("_", " ") if i.name else "unknown" for i in found]
            tiles.append(draw_faces(image, [i.face for i in found], labels,
                                    [i.name is not None for i in found]))
    seconds = time.perf_counter() - started
    picture = save_image(_montage(tiles), out / "identified.png")
    print(f"\n{right} of {len(probes)} answers right in {seconds:.1f} s; "
          f"picture: {picture}")
    console_ok = _console(db)
    return 0 if right == len(probes) and console_ok else 1


def _console(db: Path) -> bool:
    """Start ``faceprint serve`` on the demo's gallery, check that its web console and
    a sign-in answer, print how to open it, and stop it again. True when it answered
    (or when the serve extra is not installed, which is said)."""
    import importlib.util
    import json
    import socket
    import subprocess
    import urllib.request

    if any(importlib.util.find_spec(m) is None for m in ("fastapi", "uvicorn")):
        print("console: not started (faceprint serve needs the serve extra: "
              "pip install -e '.[serve]')")
        return True
    exe = [sys.executable, "-m", "faceprint.cli"]
    made = subprocess.run([*exe, "keys", "create", "--db", str(db), "--groups", "default",
                           "--scopes", "detect,search,manage", "--json"],
                          capture_output=True, text=True, timeout=120)
    if made.returncode != 0:
        print(f"console: faceprint keys create failed: {made.stderr.strip()}")
        return False
    key = json.loads(made.stdout)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    log = db.with_name("serve.log")
    started = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen([*exe, "serve", "--db", str(db), "--port", str(port)],
                                stdout=fh, stderr=subprocess.STDOUT)
    try:
        page = ""
        while time.perf_counter() - started < 120 and proc.poll() is None:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=5):
                    pass
                with urllib.request.urlopen(base + "/", timeout=5) as r:
                    page = r.read().decode("utf-8", "replace")
                break
            except OSError:
                time.sleep(0.3)
        query = (f"grant_type=client_credentials&client_id={key['api_key']}"
                 f"&client_secret={key['secret_key']}")
        token = ""
        if page:
            req = urllib.request.Request(f"{base}/oauth/2.0/token?{query}", method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:
                token = json.loads(r.read()).get("access_token", "")
        if "faceprint console" not in page or not token:
            print(f"console: faceprint serve did not answer as it should (log: {log})")
            return False
        print(f"console: {base}/ served the web console and signed the demo key in "
              f"({time.perf_counter() - started:.1f} s); stopped again. To use it:\n"
              f"  faceprint serve --db {db}   then open http://127.0.0.1:8000/ and sign in "
              f"with API key {key['api_key']}, secret key {key['secret_key']}")
        return True
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _said(ident: Identification) -> str:
    """What the demo prints for one identified face."""
    best = ident.best
    if ident.name is not None and best is not None:
        return f"Recognized as {ident.name.replace('_', ' ')} (distance {best.distance:.2f})"
    if best is None:
        return "unknown"
    return f"unknown (nearest {best.name.replace('_', ' ')} at {best.distance:.2f})"


def _montage(tiles: list[np.ndarray], height: int = 250) -> np.ndarray:
    """The images side by side (rows of five), each scaled to ``height`` pixels."""
    import cv2

    scaled = [cv2.resize(t, (round(t.shape[1] * height / t.shape[0]), height),
                         interpolation=cv2.INTER_AREA) for t in tiles]
    rows = [scaled[i:i + 5] for i in range(0, len(scaled), 5)]
    width = max(sum(t.shape[1] for t in row) for row in rows)
    canvas = np.full((height * len(rows), width, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        x = 0
        for t in row:
            canvas[r * height:(r + 1) * height, x:x + t.shape[1]] = t
            x += t.shape[1]
    return canvas


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FaceprintError as exc:
        print(f"faceprint demo: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
