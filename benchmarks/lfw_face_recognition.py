"""face_recognition 1.3.0 on LFW View 2, scored by faceprint's own protocol code.

The baseline for the README: ``face_recognition.face_locations(img, 1, "hog")``
(HOG, upsampling once), the face nearest the image centre, then
``face_encodings`` (5-point alignment, dlib's ResNet on dlib, no jitter). When
HOG finds nothing, LFW's centred crop is used (the same fallback box as
faceprint's report). Distances are plain L2; the 10-fold protocol, VAL at
FAR=1e-3, AUC and EER come from :mod:`faceprint.eval.metrics`, exactly as for
faceprint's pipelines.

    pip install --no-deps face_recognition==1.3.0 && pip install Click
    python benchmarks/lfw_face_recognition.py [--workers 2] [--out build/lfw-face_recognition.json]
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data"))


def _encode(path: str) -> tuple[str, list[float], bool]:
    import face_recognition as fr

    from faceprint.datasets.lfw import CENTRE_BOX

    img = fr.load_image_file(path)
    h, w = img.shape[:2]
    locations = fr.face_locations(img, 1, "hog")
    found = bool(locations)
    if found:  # (top, right, bottom, left); nearest the centre
        loc = min(locations, key=lambda t: ((t[1] + t[3]) / 2 - w / 2) ** 2
                  + ((t[0] + t[2]) / 2 - h / 2) ** 2)
    else:
        fx, fy, fw, fh = CENTRE_BOX
        loc = (round(fy * h), round((fx + fw) * w), round((fy + fh) * h), round(fx * w))
    return path, list(fr.face_encodings(img, [loc])[0]), found


def main() -> None:
    from tqdm import tqdm

    from faceprint.datasets.lfw import image_path, images_dir, read_pairs
    from faceprint.distance import paired
    from faceprint.eval.metrics import kfold

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lfw-face_recognition.json")
    args = parser.parse_args()
    lfw = DATA / "lfw"
    images = images_dir(lfw)
    pairs = read_pairs(lfw / "pairs.txt")
    p1 = [str(image_path(images, p.name1, p.index1)) for p in pairs]
    p2 = [str(image_path(images, p.name2, p.index2)) for p in pairs]
    todo = sorted(set(p1 + p2))
    with ProcessPoolExecutor(args.workers) as pool:
        done = list(tqdm(pool.map(_encode, todo, chunksize=8), total=len(todo),
                         desc="face_recognition", unit="img"))
    vec = {p: np.array(v) for p, v, _ in done}
    found = {p: f for p, _, f in done}
    d = paired(np.stack([vec[p] for p in p1]), np.stack([vec[p] for p in p2]), "euclidean")
    same = np.array([p.same for p in pairs])
    r = kfold(d, same, np.array([p.fold for p in pairs]))
    fallback = np.array([not found[a] or not found[b] for a, b in zip(p1, p2)])
    report = {"accuracy_mean": r.accuracy_mean, "accuracy_std": r.accuracy_std,
              "val_at_far_1e-3": r.val_mean, "auc": r.auc, "eer": r.eer,
              "no_face_images": sum(1 for p in todo if not found[p]), "images": len(todo),
              "pairs": len(pairs), "fallback_pairs": int(fallback.sum()),
              "fallback_pairs_accuracy": float(r.correct[fallback].mean()),
              "other_pairs_accuracy": float(r.correct[~fallback].mean())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"face_recognition 1.3.0 on LFW View 2: {100 * r.accuracy_mean:.2f} % +- "
          f"{100 * r.accuracy_std:.2f}, VAL@FAR=1e-3 {100 * r.val_mean:.1f} %, AUC {r.auc:.5f}, "
          f"EER {100 * r.eer:.2f} %; no face in {report['no_face_images']} of {len(todo)} "
          f"images (fallback pairs {100 * report['fallback_pairs_accuracy']:.2f} %, others "
          f"{100 * report['other_pairs_accuracy']:.2f} %); wrote {args.out}")


if __name__ == "__main__":
    main()
