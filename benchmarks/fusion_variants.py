"""Choose a fused embedder's variant on LFW View 1 only: fit on ``pairsDevTrain.txt``,
score on ``pairsDevTest.txt``. View 2 (``pairs.txt``) is never read.

A variant is a detector (or an ensemble, ``yunet+blazeface-onet``: each part's
vectors from every detector's alignment of the same face are averaged, see
:mod:`faceprint.detectors.ensemble`), flip or not,
and how the weights are chosen:

* ``fit``: the standardised logistic fit of ``benchmarks/fit_fusion.py`` on this
  variant's own DevTrain similarities;
* ``shipped``: the weights in ``src/faceprint/data/fusion.json``.

For each variant the script prints the weights, the DevTrain-fitted threshold (cosine
distance), and on DevTest: the accuracy at that threshold (the number of wrong pairs
of 1,000), the best accuracy any threshold reaches, AUC and EER. The rule used to
choose (docs/models-accuracy.md): most DevTest pairs right at the DevTrain threshold,
ties broken by the higher DevTest AUC (and an exact tie by keeping the shipped
weights).

Usage::

    python benchmarks/fusion_variants.py --detectors yunet blazeface-onet \\
        yunet+blazeface-onet --flip both

Embeddings come from (and go to) the evaluation's embedding cache.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from faceprint.datasets.lfw import pair_paths
from faceprint.embedders.base import l2_normalize
from faceprint.eval.lfw import _load_pairs, embed_images
from faceprint.eval.metrics import accuracy, auc, best_threshold, eer, roc
from faceprint.pipeline import PipelineRecipe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_fusion import fusion_weights

ROOT = Path(__file__).resolve().parents[1]
FUSION_FILE = ROOT / "src" / "faceprint" / "data" / "fusion.json"


def part_vectors(paths: list[str], detector: str, part: str, flip: bool,
                 workers: int) -> dict[str, np.ndarray]:
    """``part``'s unit vectors of ``paths`` (a detector ensemble's views averaged as the
    pipeline averages them: :func:`faceprint.eval.lfw.embed_images`)."""
    emb = embed_images(paths, PipelineRecipe(detector, part, flip=flip), workers=workers,
                       progress=False)
    return {p: l2_normalize(emb.vectors[p][None].astype(np.float64))[0] for p in paths}


def similarities(data: Path, pairs_name: str, detector: str, parts: list[str],
                 flip: bool, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n_pairs, n_parts)`` cosine similarities and the same/different labels."""
    images, pfile, pairs = _load_pairs(data, data / pairs_name, None, None)
    p1, p2 = pair_paths(images, pairs, pfile)
    p1 = [str(Path(p).resolve()) for p in p1]
    p2 = [str(Path(p).resolve()) for p in p2]
    paths = sorted(set(p1 + p2))
    cols = []
    for part in parts:
        vec = part_vectors(paths, detector, part, flip, workers)
        a = np.stack([vec[p] for p in p1])
        b = np.stack([vec[p] for p in p2])
        cols.append((a * b).sum(axis=1))
    return np.stack(cols, axis=1), np.array([p.same for p in pairs])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["sface", "dlib-resnet"])
    parser.add_argument("--detectors", nargs="+", default=["yunet"],
                        help="detectors; D1+D2 averages the parts over both alignments")
    parser.add_argument("--flip", choices=["no", "yes", "both"], default="both")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args(argv)
    name = "+".join(args.parts)
    shipped = json.loads(FUSION_FILE.read_text()).get(name) if FUSION_FILE.is_file() else None
    flips = {"no": [False], "yes": [True], "both": [False, True]}[args.flip]
    rows = []
    print(f"{'detector':30s} {'flip':5s} {'weights':9s} {'w_' + args.parts[0]:>8s} "
          f"{'thr':>7s} {'test acc':>9s} {'wrong':>5s} {'best acc':>9s} {'AUC':>8s} "
          f"{'EER':>6s} {'train acc':>9s}")
    for spec in args.detectors:
        for flip in flips:
            s_train, y_train = similarities(args.data, "pairsDevTrain.txt", spec, args.parts,
                                            flip, args.workers)
            s_test, y_test = similarities(args.data, "pairsDevTest.txt", spec, args.parts,
                                          flip, args.workers)
            choices = [("fit", fusion_weights(s_train, y_train)[0])]
            if shipped is not None:
                choices.append(("shipped", np.array(shipped["weights"])))
            for how, w in choices:
                d_train, d_test = 1.0 - s_train @ w, 1.0 - s_test @ w
                thr = best_threshold(d_train, y_train)
                acc = accuracy(d_test, y_test, thr)
                far, tar, _ = roc(d_test, y_test)
                row = {"detector": spec, "flip": flip, "weights_from": how,
                       "weights": [round(float(x), 6) for x in w],
                       "threshold": round(float(thr), 6),
                       "devtest_accuracy": acc,
                       "devtest_wrong": round((1 - acc) * len(y_test)),
                       "devtest_best_accuracy": accuracy(d_test, y_test,
                                                         best_threshold(d_test, y_test)),
                       "devtest_auc": auc(far, tar), "devtest_eer": eer(d_test, y_test),
                       "devtrain_accuracy": accuracy(d_train, y_train, thr)}
                rows.append(row)
                print(f"{spec:30s} {flip!s:5s} {how:9s} {w[0]:8.4f} {thr:7.4f} "
                      f"{100 * acc:8.2f}% {row['devtest_wrong']:5d} "
                      f"{100 * row['devtest_best_accuracy']:8.2f}% {row['devtest_auc']:8.5f} "
                      f"{100 * row['devtest_eer']:5.2f}% {100 * row['devtrain_accuracy']:8.2f}%")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
