"""Clustering faces into people, measured on LFW: faceprint's three methods and dlib's
own ``chinese_whispers_clustering`` (the anchor) on the same embeddings.

The set (the issue's): every LFW person with at least 5 images, plus as many people
with a single image as distractors (a seeded draw), deep-funneled images, each
image's central face embedded by the default pipeline (blazeface-onet +
dlib-resnet, plain L2; embeddings cached as ``faceprint eval lfw`` caches them).
It is made per View 1 people file, so that parameters can be chosen on people the
score never sees:

* ``train``: people of ``peopleDevTrain.txt`` (298 with >= 5 images, 298 alone);
  ``--tune`` chooses each method's threshold scale (and dlib's threshold) here;
* ``test``: people of ``peopleDevTest.txt`` (125 + 125), never used to choose;
* ``all``: the two together (423 + 423 people, 6,408 images): the issue's set.

    python benchmarks/cluster_lfw.py --data ../shared/data/lfw --tune --json build/cluster_lfw.json

Scores (see :func:`faceprint.cluster.score`): pairwise precision, recall and F1,
BCubed precision, recall and F1, clusters of two faces or more against the people
with two images or more, and faces left alone against the single-image people.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

SCALES = [round(0.70 + 0.02 * i, 2) for i in range(17)]  # 0.70 ... 1.02


def lfw_set(lfw: Path, people_file: str, seed: int = 0) -> list[str]:
    from faceprint.datasets.lfw import person_images, read_people

    (people,) = read_people(lfw / people_file)
    many = [p for p in people if p[1] >= 5]
    singles = sorted(p for p in people if p[1] == 1)
    chosen = many + random.Random(seed).sample(singles, len(many))
    return person_images(lfw / "images", chosen)


def run(method: str, x: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    from faceprint.cluster import cluster_labels, renumber

    t0 = time.perf_counter()
    if method == "dlib":
        import dlib

        vecs = [dlib.vector(v.astype(float).tolist()) for v in x]
        labels = renumber(np.array(dlib.chinese_whispers_clustering(vecs, threshold)))
    else:
        labels = cluster_labels(x, method, threshold=threshold, metric="euclidean")
    return labels, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/lfw", help="LFW folder")
    ap.add_argument("--tune", action="store_true",
                    help="choose each method's threshold scale on the train people")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    from faceprint.cluster import METHODS, THRESHOLD_SCALE, score
    from faceprint.datasets.lfw import person_of
    from faceprint.embedders.dlib_resnet import THRESHOLD
    from faceprint.eval.lfw import embed_images
    from faceprint.pipeline import PipelineRecipe

    lfw = Path(args.data)
    sets = {"train": lfw_set(lfw, "peopleDevTrain.txt"),
            "test": lfw_set(lfw, "peopleDevTest.txt")}
    sets["all"] = sets["train"] + sets["test"]
    emb = embed_images(sets["all"], PipelineRecipe(), workers=args.workers)
    data = {}
    for name, paths in sets.items():
        kept = [p for p in paths if p in emb.vectors]
        data[name] = (np.stack([emb.vectors[p] for p in kept]), [person_of(p) for p in kept])
        print(f"{name}: {len(kept)} images of {len(set(data[name][1]))} people "
              f"({len(paths) - len(kept)} unreadable)")

    methods = [*METHODS, "dlib"]
    # dlib has no scale of its own: its threshold is tuned the same way (0.6130 x scale)
    scales: dict[str, float] = {**THRESHOLD_SCALE, "dlib": 0.5 / THRESHOLD}
    tuning: dict[str, list[dict[str, Any]]] = {}
    if args.tune:
        x, truth = data["train"]
        for method in methods:
            grid = SCALES if method != "dlib" else SCALES[::2]
            rows = []
            for s in grid:
                labels, _ = run(method, x, s * THRESHOLD)
                rows.append({"scale": s, "threshold": round(s * THRESHOLD, 4),
                             **score(truth, labels).to_dict()})
            best = max(rows, key=lambda r: r["bcubed_f1"])
            tuning[method] = rows
            print(f"tune {method}: best scale {best['scale']} (threshold "
                  f"{best['threshold']}): BCubed F1 {best['bcubed_f1']:.4f} on train; "
                  + ", ".join(f"{r['scale']}: {r['bcubed_f1']:.3f}" for r in rows))
            if method == "dlib":
                scales["dlib"] = best["scale"]
            elif abs(best["scale"] - THRESHOLD_SCALE[method]) > 1e-9:
                print(f"  note: THRESHOLD_SCALE[{method!r}] is {THRESHOLD_SCALE[method]}")
    results: list[dict[str, Any]] = []
    print("\n| set | method | threshold (L2) | pairwise P / R / F1 | BCubed P / R / F1 | "
          "clusters (people with >= 2) | alone (single-image people) | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in ("train", "test", "all"):
        x, truth = data[name]
        for method in methods:
            thr = scales[method] * THRESHOLD
            labels, secs = run(method, x, thr)
            sc = score(truth, labels)
            results.append({"set": name, "method": method, "threshold": round(thr, 4),
                            "seconds": round(secs, 3), **sc.to_dict()})
            singles = sc.people - sc.people_with_two
            print(f"| {name} | {method} | {thr:.4f} | {sc.pairwise_precision:.4f} / "
                  f"{sc.pairwise_recall:.4f} / {sc.pairwise_f1:.4f} | "
                  f"{sc.bcubed_precision:.4f} / {sc.bcubed_recall:.4f} / "
                  f"**{sc.bcubed_f1:.4f}** | {sc.clusters} ({sc.people_with_two}) | "
                  f"{sc.singletons} ({singles}) | {secs:.2f} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"results": results, "tuning": tuning,
                                               "scales": scales}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
