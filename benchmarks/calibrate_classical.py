"""Choose the classical embedders' settings on LFW View 1, never on View 2.

For each variant (chip padding, number of components, distance, LBP grid) the
fitted methods are fitted on every image of View 1's training people
(``peopleDevTrain.txt``, 9,525 images) and scored on View 1's test pairs
(``pairsDevTest.txt``, 1,000 pairs of other people): ROC AUC and the accuracy
at the threshold chosen on View 1's training pairs (``pairsDevTrain.txt``).
The last line prints the LBP threshold (chi-square) that maximises accuracy on
``pairsDevTrain.txt``: :data:`faceprint.embedders.classical.LBP_THRESHOLD`.

Usage::

    python benchmarks/calibrate_classical.py                 # the chosen settings
    python benchmarks/calibrate_classical.py --explore       # every variant (slow)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.align import ChipSpec
from faceprint.datasets.lfw import image_path, person_images, person_of, read_pairs, read_people
from faceprint.distance import paired
from faceprint.embedders import classical as C
from faceprint.eval.chips import extract_chips
from faceprint.eval.metrics import accuracy, auc, best_threshold, roc
from faceprint.pipeline import PipelineRecipe

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data")) / "lfw"


def pair_paths(lfw: Path, name: str) -> tuple[list[str], list[str], np.ndarray]:
    pairs = read_pairs(lfw / name)
    images = lfw / "images"
    return ([str(image_path(images, p.name1, p.index1).resolve()) for p in pairs],
            [str(image_path(images, p.name2, p.index2).resolve()) for p in pairs],
            np.array([p.same for p in pairs]))


def score(model: Any, chips: Any, pairs: tuple[list[str], list[str], np.ndarray],
          metric: Any) -> np.ndarray:
    a, b, _ = pairs
    return paired(model.embed_chips(chips.take(a)), model.embed_chips(chips.take(b)), metric)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="LFW folder")
    ap.add_argument("--explore", action="store_true", help="try every variant")
    ap.add_argument("--explore-lbp", action="store_true",
                    help="try LBP chip sizes, radii and grids")
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args(argv)
    lfw = args.data
    train_paths = person_images(lfw / "images", read_people(lfw / "peopleDevTrain.txt")[0])
    labels = [person_of(p) for p in train_paths]
    dev_train = pair_paths(lfw, "pairsDevTrain.txt")
    dev_test = pair_paths(lfw, "pairsDevTest.txt")
    every = sorted(set(train_paths) | set(dev_train[0] + dev_train[1])
                   | set(dev_test[0] + dev_test[1]))
    if args.explore_lbp:
        explore_lbp(every, dev_train, dev_test, args.workers)
        return 0
    paddings = [0.05, 0.15, 0.25] if args.explore else [C.CHIP_PADDING]
    print("variant | AUC on pairsDevTest | accuracy on pairsDevTest at the pairsDevTrain "
          "threshold")
    for padding in paddings:
        spec = ChipSpec(size=C.CHIP_SIZE, method="dlib5", padding=padding)
        chips = extract_chips(every, PipelineRecipe(), spec, workers=args.workers)
        variants: list[tuple[str, Any, Any]] = []
        comps = [50, 100] if args.explore else [C.EigenfacesEmbedder.default_components]
        for k in comps:
            m = C.EigenfacesEmbedder.fit(chips.take(train_paths), components=k)
            variants += [(f"eigenfaces k={k} euclidean", m, "euclidean"),
                         (f"eigenfaces k={k} cosine", m, "cosine")]
        fisher = [(150, 100), (300, 150)] if args.explore else \
            [(C.FisherfacesEmbedder.default_pca, C.FisherfacesEmbedder.default_lda)]
        for pca, lda in fisher:
            m = C.FisherfacesEmbedder.fit(chips.take(train_paths), labels, pca_components=pca,
                                          lda_components=lda)
            variants += [(f"fisherfaces pca={pca} lda={lda} euclidean", m, "euclidean"),
                         (f"fisherfaces pca={pca} lda={lda} cosine", m, "cosine")]
        lbp = C.LbpEmbedder(size=C.CHIP_SIZE)
        variants.append((f"lbp size={lbp.size} cells={lbp.cells} chi2", lbp, "chi2"))
        for name, model, metric in variants:
            d_train = score(model, chips, dev_train, metric)
            d_test = score(model, chips, dev_test, metric)
            t = best_threshold(d_train, dev_train[2])
            far, tar, _ = roc(d_test, dev_test[2])
            print(f"padding {padding:.2f} {name:42s} | {auc(far, tar):.4f} | "
                  f"{100 * accuracy(d_test, dev_test[2], t):.2f} %")
            sys.stdout.flush()
    if not args.explore:
        lbp = C.LbpEmbedder()
        chips = extract_chips(every, PipelineRecipe(), lbp.chip, workers=args.workers)
        d_train = score(lbp, chips, dev_train, "chi2")
        t = best_threshold(d_train, dev_train[2])
        print(f"LBP_THRESHOLD = {t:.2f}  (chi-square, LBP size {lbp.size} radius {lbp.radius}"
              f" cells {lbp.cells}; best accuracy on pairsDevTrain, "
              f"{100 * accuracy(d_train, dev_train[2], t):.2f} %)")
    return 0


def explore_lbp(every: list[str], dev_train: Any, dev_test: Any, workers: int) -> None:
    """LBP on larger chips, radius 1 or 2, several grids (no fitting: only the chip,
    the operator and the grid change)."""
    for size in (64, 96, 128):
        spec = ChipSpec(size=size, method="dlib5", padding=C.CHIP_PADDING)
        chips = extract_chips(every, PipelineRecipe(), spec, workers=workers)
        for radius in (1.0, 2.0):
            for cells in (7, 8, 10):
                model = C.LbpEmbedder(cells=cells, radius=radius, size=size)
                d_train = score(model, chips, dev_train, "chi2")
                d_test = score(model, chips, dev_test, "chi2")
                t = best_threshold(d_train, dev_train[2])
                far, tar, _ = roc(d_test, dev_test[2])
                print(f"lbp size={size} radius={radius:.0f} cells={cells:2d} | "
                      f"{auc(far, tar):.4f} | {100 * accuracy(d_test, dev_test[2], t):.2f} %")
                sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
