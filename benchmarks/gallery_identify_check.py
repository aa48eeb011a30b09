"""LFW identification through the new gallery gives the evaluation suite's numbers.

The identification benchmark (``faceprint eval identify``: seeded split, rank-k,
DIR at FAR) scores probes with numpy distances to every gallery image. Here the
same split and embeddings are scored twice: as the suite does, and with every
person's gallery images enrolled in a real SQLite + FAISS gallery whose search
(k = every person) gives each probe's distance to each person. Prints both and
exits 1 if any rank-k or DIR differs.

    python benchmarks/gallery_identify_check.py --data ../shared/data/lfw
    python benchmarks/gallery_identify_check.py --max-people 20 --max-probes 5 \\
        --impostors 40 --gallery 1,3 --far 0.05        # what the test runs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def gallery_search(db: Path, vectors: np.ndarray, people: list[str], metric: Any,
                   index: str = "flat") -> tuple[Any, Callable[[np.ndarray, list[str]],
                                                                np.ndarray]]:
    """Enrol ``vectors`` (one row per image of ``people``) in a new gallery; returns
    it and a ``search(vectors, names)`` for :func:`faceprint.eval.identify.score`."""
    from faceprint.gallery import SqliteGallery

    g = SqliteGallery(db, index=index)
    owners = np.array(people)
    for name in sorted(set(people)):
        g.add_faces(name, "eval", vectors[owners == name])

    def search(queries: np.ndarray, names: list[str]) -> np.ndarray:
        col = {n: i for i, n in enumerate(names)}
        out = np.full((len(queries), len(names)), np.inf)
        for i, matches in enumerate(g.search("eval", queries, metric, k=len(names))):
            for m in matches:
                out[i, col[m.name]] = m.distance
        return out

    return g, search


def compare(data: str, max_people: int | None, max_probes: int, impostors: int,
            gallery: tuple[int, ...], far: float, workers: int = 0
            ) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """(gallery size, the suite's result, the gallery's result) per gallery size."""
    from faceprint.datasets.lfw import person_of
    from faceprint.eval.identify import IdentifyProtocol, make_split, score
    from faceprint.eval.lfw import embed_method
    from faceprint.pipeline import PipelineRecipe

    protocol = IdentifyProtocol(max_people=max_people, max_probes=max_probes,
                                impostors=impostors, gallery_sizes=gallery, far=far)
    split = make_split(data, protocol)
    gallery_paths = [p for files in split.gallery.values() for p in files]
    paths = gallery_paths + split.probes + split.impostors
    emb = embed_method(PipelineRecipe(), paths, workers=workers, progress=False)
    vec = {p: v for p, v in zip(paths, emb.vectors)}
    probes = np.stack([vec[p] for p in split.probes])
    truth = [person_of(p) for p in split.probes]
    imp = np.stack([vec[p] for p in split.impostors])
    out = []
    for g in sorted(gallery):
        gpaths = [p for files in split.gallery.values() for p in files[:g]]
        gvecs, gpeople = np.stack([vec[p] for p in gpaths]), [person_of(p) for p in gpaths]
        suite = score(probes, truth, imp, gvecs, gpeople, emb.metric, far, g)
        with tempfile.TemporaryDirectory() as tmp:
            gal, search = gallery_search(Path(tmp) / "eval.db", gvecs, gpeople, emb.metric)
            try:
                ours = score(probes, truth, imp, gvecs, gpeople, emb.metric, far, g,
                             search=search)
            finally:
                gal.close()
        out.append((g, suite.to_dict(), ours.to_dict()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/lfw")
    ap.add_argument("--max-people", type=int, default=None)
    ap.add_argument("--max-probes", type=int, default=20)
    ap.add_argument("--impostors", type=int, default=1000)
    ap.add_argument("--gallery", default="1,2,3,4,5")
    ap.add_argument("--far", type=float, default=0.01)
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    rows = compare(args.data, args.max_people, args.max_probes, args.impostors,
                   tuple(int(x) for x in args.gallery.split(",")), args.far, args.workers)
    same = True
    print("| gallery | rank-1 suite / gallery | rank-5 | DIR @ FAR | threshold |")
    print("| ---: | --- | --- | --- | --- |")
    for g, a, b in rows:
        ok = all(a[k] == b[k] for k in ("rank1", "rank5", "dir_at_far", "cmc"))
        same &= ok
        print(f"| {g} | {100 * a['rank1']:.2f} % / {100 * b['rank1']:.2f} % | "
              f"{100 * a['rank5']:.2f} % / {100 * b['rank5']:.2f} % | "
              f"{100 * a['dir_at_far']:.2f} % / {100 * b['dir_at_far']:.2f} % | "
              f"{a['threshold']:.6f} / {b['threshold']:.6f} |")
    print("identical" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
