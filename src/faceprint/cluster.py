"""Clustering faces into people: Chinese whispers, agglomerative, HDBSCAN.

Everything starts from ``(N, D)`` embeddings and a distance threshold in the
embedder's metric (``euclidean`` for ``dlib-resnet``, whose vectors are dlib's
own; ``cosine`` or ``sqeuclidean`` for others). Two faces closer than the
threshold are *linked*; the three methods differ in what they make of links:

* ``chinese-whispers`` (default): faceprint's own implementation of Biemann's
  graph clustering (2006), the method of dlib's ``chinese_whispers_clustering``.
  Each face starts as its own cluster, then, in a seeded random order, takes the
  cluster that most of its linked faces (itself included) belong to; repeated
  until nothing changes. Linear in the number of links; the number of people is
  never given.
* ``agglomerative``: average (default) or complete linkage cut at the threshold
  (scipy). Two groups can only merge at an average (or largest) distance below
  the threshold if at least one pair of their faces is linked, so each connected
  component of the link graph is clustered on its own: the same result as
  linkage over all faces, with memory quadratic only in the largest component.
* ``hdbscan``: scikit-learn's ``HDBSCAN`` (the ``cluster`` extra), with the
  threshold deciding which of the faces it calls noise join a cluster after all
  (most of their neighbours within the threshold are in it).

Faces that join nobody (clusters of one face, HDBSCAN's noise) are *noise*.

The default threshold follows from the embedder's calibrated verification
threshold, the distance at which ``compare`` says "same person" (0.6130 plain
L2 for ``dlib-resnet``, chosen on LFW View 1's training pairs)::

    threshold = THRESHOLD_SCALE[method] * embedder.threshold

Each scale was chosen on the LFW ``peopleDevTrain.txt`` people only
(``benchmarks/cluster_lfw.py --tune``; the View 1 test people and the View 2
folds were not used); docs/clustering.md gives the numbers. For
``dlib-resnet``'s chinese whispers the result is close to dlib's own advice
(0.5 against its 0.6 verification threshold).

The link graph is built by blocked matrix products (``block`` rows at a time
against all later rows), so memory stays ``O(block * N + links)``:
``benchmarks/bench_cluster.py`` measures 1k, 10k and 50k faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import scipy.sparse as sp

from .errors import FaceprintError, UnknownNameError
from .types import Box, Metric

Method = Literal["chinese-whispers", "agglomerative", "hdbscan"]
METHODS: tuple[str, ...] = get_args(Method)
Linkage = Literal["average", "complete"]

#: cluster threshold / the embedder's verification threshold, per method (tuned on
#: LFW peopleDevTrain: benchmarks/cluster_lfw.py --tune; see the module docstring)
THRESHOLD_SCALE: dict[str, float] = {
    "chinese-whispers": 0.82,
    "agglomerative": 0.90,
    "hdbscan": 0.80,
}

#: faces in one connected component above which agglomerative refuses (its
#: condensed distance matrix would need more than ~3 GB)
MAX_COMPONENT = 28_000


def default_threshold(method: str, verification_threshold: float) -> float:
    """The clustering threshold for ``method`` from an embedder's calibrated
    verification threshold (same metric): ``THRESHOLD_SCALE[method] * it``."""
    check_method(method)
    return THRESHOLD_SCALE[method] * verification_threshold


def check_method(method: str) -> None:
    """UnknownNameError unless ``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise UnknownNameError(f"unknown clustering method {method!r}; choose one of: "
                               f"{', '.join(METHODS)}")


# -- records ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FaceRef:
    """One face of one photo: the photo's path and the face's box
    ``(left, top, width, height)`` in pixels."""

    path: str
    box: Box

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "box": self.box.as_list()}


@dataclass(frozen=True, slots=True)
class Cluster:
    """One person found: an id (stable across incremental runs), the faces, and
    the name given with ``faceprint cluster name`` (None until then)."""

    id: int
    faces: tuple[FaceRef, ...]
    name: str | None = None

    @property
    def size(self) -> int:
        return len(self.faces)

    @property
    def photos(self) -> int:
        """How many distinct photos the faces come from."""
        return len({f.path for f in self.faces})

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "size": self.size}
        if self.name is not None:
            out["name"] = self.name
        out["photos"] = self.photos
        out["faces"] = [f.to_dict() for f in self.faces]
        return out


@dataclass(frozen=True, slots=True)
class Clustering:
    """Clusters (largest first) and the noise: faces that joined nobody."""

    clusters: tuple[Cluster, ...]
    noise: tuple[FaceRef, ...]
    method: str
    threshold: float
    metric: Metric
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "threshold": round(self.threshold, 6),
                "metric": self.metric, **self.extra,
                "clusters": [c.to_dict() for c in self.clusters],
                "noise": [f.to_dict() for f in self.noise]}


# -- the link graph --------------------------------------------------------------------
def _prepared(x: np.ndarray, metric: Metric) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if x.ndim != 2:
        raise FaceprintError(f"embeddings must be (N, D), got shape {x.shape}")
    if metric == "cosine":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    elif metric not in ("euclidean", "sqeuclidean"):
        raise FaceprintError(f"clustering supports euclidean, sqeuclidean and cosine "
                             f"distances, not {metric!r}")
    return x


def _block_distances(a: np.ndarray, b: np.ndarray, na: np.ndarray, nb: np.ndarray,
                     metric: Metric) -> np.ndarray:
    """Distances between rows of ``a`` and ``b`` (prepared), float32."""
    dot = a @ b.T
    if metric == "cosine":
        return np.maximum(1.0 - dot, 0.0)
    sq = np.maximum(na[:, None] + nb[None, :] - 2.0 * dot, 0.0)
    return sq if metric == "sqeuclidean" else np.sqrt(sq)


def link_graph(x: np.ndarray, threshold: float, metric: Metric = "euclidean",
               block: int = 2048) -> sp.csr_matrix:
    """The symmetric sparse graph of every pair of faces at distance <= ``threshold``
    (``metric`` units); each link's value is its distance (a tiny positive number
    stands for 0). No self links. Built ``block`` rows at a time."""
    x = _prepared(x, metric)
    n = len(x)
    norms = (x.astype(np.float64) ** 2).sum(1).astype(np.float32)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    # compare in the cheapest form (squared L2 / 1 - cos), take the square root of hits only
    limit = threshold**2 if metric == "euclidean" else threshold
    for start in range(0, n, block):
        stop = min(start + block, n)
        d = x[start:stop] @ x[start:].T  # in place from here: no new 100 MB arrays
        if metric == "cosine":
            np.subtract(1.0, d, out=d)
        else:
            d *= -2.0
            d += norms[start:stop, None]
            d += norms[None, start:]
        hit = d <= limit
        # only pairs i < j: the strict upper triangle of this block row's first square
        square = stop - start
        hit[:, :square] &= np.triu(np.ones((square, square), dtype=bool), 1)
        i, j = np.nonzero(hit)
        v = np.maximum(d[i, j], 0.0)
        if metric == "euclidean":
            v = np.sqrt(v)
        rows.append(i + start)
        cols.append(j + start)
        vals.append(np.maximum(v, 1e-9).astype(np.float32))
    r = np.concatenate(rows) if rows else np.empty(0, np.int64)
    c = np.concatenate(cols) if cols else np.empty(0, np.int64)
    v = np.concatenate(vals) if vals else np.empty(0, np.float32)
    upper = sp.coo_matrix((v, (r, c)), shape=(n, n))
    return (upper + upper.T).tocsr()


# -- the methods -----------------------------------------------------------------------
def chinese_whispers(graph: sp.csr_matrix, *, threshold: float, seed: int = 0,
                     iterations: int = 100,
                     weighting: Literal["unit", "linear"] = "linear") -> np.ndarray:
    """Chinese whispers on a link graph (values: distances). Returns one label per
    node (not yet renumbered).

    ``"unit"`` (as dlib): every node votes for itself and each link votes, all with
    weight 1. ``"linear"``: each link votes with weight ``1 - d / (2 * threshold)``
    (closer faces weigh more, from 1 at d = 0 to 0.5 at the threshold) and a node's
    own vote only breaks ties (1e-6; a node that kept its own label at full weight
    would never move). Nodes are visited one at a time in a random order drawn from
    ``seed``, each taking the label with the largest vote among its links (ties: the
    smallest label), as in Biemann's algorithm; after the first pass only the nodes
    next to a node that changed are visited again, until none changes or after
    ``iterations`` passes."""
    n = graph.shape[0]
    if weighting not in ("unit", "linear"):
        raise FaceprintError(f"unknown weighting {weighting!r}: unit or linear")
    g = graph.tocsr()
    indptr, indices = g.indptr, g.indices
    weights = (np.ones(len(g.data)) if weighting == "unit"
               else 1.0 - g.data.astype(np.float64) / (2.0 * threshold))
    self_vote = 1.0 if weighting == "unit" else 1e-6
    labels = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    active = np.ones(n, dtype=bool)
    active[np.diff(indptr) == 0] = False  # faces linked to nobody keep their own label
    for _ in range(iterations):
        todo = np.flatnonzero(active)
        if not len(todo):
            break
        active[:] = False
        for node in rng.permutation(todo).tolist():
            lo, hi = indptr[node], indptr[node + 1]
            neigh = indices[lo:hi]
            labs = labels[neigh]
            own = labels[node]
            first = labs[0]
            if (labs == first).all():  # one label around: take it (or keep it)
                best = first if (hi - lo) + 0.0 > self_vote or first == own else min(
                    first, own)
            else:
                uniq, inv = np.unique(np.append(labs, own), return_inverse=True)
                votes = np.bincount(inv, weights=np.append(weights[lo:hi], self_vote))
                best = uniq[int(np.argmax(votes))]
            if best != own:
                labels[node] = best
                active[neigh] = True
    return labels


def agglomerative(x: np.ndarray, graph: sp.csr_matrix, *, threshold: float,
                  metric: Metric = "euclidean", linkage: Linkage = "average") -> np.ndarray:
    """Average or complete linkage cut at ``threshold``, one connected component of
    ``graph`` at a time (exact: see the module docstring). One label per face."""
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as scipy_linkage
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial.distance import pdist

    if linkage not in ("average", "complete"):
        raise FaceprintError(f"unknown linkage {linkage!r}: average or complete")
    x = _prepared(x, metric).astype(np.float64)
    count, comp = connected_components(graph, directed=False)
    labels = np.arange(len(x), dtype=np.int64)  # singletons keep their own index
    order = np.argsort(comp, kind="stable")
    bounds = np.searchsorted(comp[order], np.arange(count + 1))
    for k in range(count):
        members = order[bounds[k]:bounds[k + 1]]
        if len(members) < 2:
            continue
        if len(members) == 2:
            labels[members] = members[0]
            continue
        if len(members) > MAX_COMPONENT:
            raise FaceprintError(
                f"agglomerative: {len(members)} faces are linked into one component at "
                f"threshold {threshold:g} (at most {MAX_COMPONENT:,}); use a lower "
                f"--threshold or --method chinese-whispers")
        d = pdist(x[members], "cosine" if metric == "cosine" else "euclidean")
        if metric == "sqeuclidean":
            d = d**2
        tree = scipy_linkage(d, method=linkage)
        flat = fcluster(tree, t=threshold, criterion="distance")
        _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
        labels[members] = members[first][inverse]
    return labels


def hdbscan(x: np.ndarray, *, threshold: float, metric: Metric = "euclidean",
            min_cluster_size: int = 2, min_samples: int | None = 1) -> np.ndarray:
    """scikit-learn's HDBSCAN (``min_cluster_size``, ``min_samples``), then each face
    it calls noise joins the cluster that most of its faces within ``threshold``
    belong to (:func:`assign`); -1 for the faces that still join nobody.

    The threshold is not given to HDBSCAN as ``cluster_selection_epsilon``:
    scikit-learn 1.9.1's epsilon search fails on LFW embeddings ("only
    0-dimensional arrays can be converted to Python scalars"). Cosine distances
    are run as Euclidean distances of unit vectors."""
    try:
        from sklearn.cluster import HDBSCAN
    except ImportError:
        raise FaceprintError("--method hdbscan needs scikit-learn: pip install "
                             "'faceprint[cluster]'") from None
    x = _prepared(x, metric).astype(np.float64)
    if len(x) < 2:
        return np.full(len(x), -1, dtype=np.int64)
    model = HDBSCAN(min_cluster_size=max(2, min_cluster_size), min_samples=min_samples,
                    metric="euclidean", copy=True)
    labels: np.ndarray = model.fit_predict(x).astype(np.int64)
    noise = labels < 0
    if noise.any() and (~noise).any():
        labels[noise] = assign(x, labels, x[noise], threshold=threshold, metric=metric)
    return labels


def renumber(labels: np.ndarray, min_size: int = 2) -> np.ndarray:
    """Labels as 0, 1, 2 ... by decreasing cluster size (ties: first face first);
    clusters smaller than ``min_size`` and negative labels become -1 (noise)."""
    labels = np.asarray(labels, dtype=np.int64)
    out = np.full(len(labels), -1, dtype=np.int64)
    valid = labels >= 0
    if not valid.any():
        return out
    uniq, first, inverse, counts = np.unique(labels[valid], return_index=True,
                                             return_inverse=True, return_counts=True)
    keep = counts >= min_size
    order = np.lexsort((first, -counts))
    rank = np.full(len(uniq), -1, dtype=np.int64)
    kept = order[keep[order]]
    rank[kept] = np.arange(len(kept))
    out[valid] = rank[inverse]
    return out


def cluster_labels(x: np.ndarray, method: str = "chinese-whispers", *, threshold: float,
                   metric: Metric = "euclidean", seed: int = 0, min_size: int = 2,
                   linkage: Linkage = "average",
                   weighting: Literal["unit", "linear"] = "linear",
                   min_samples: int | None = 1) -> np.ndarray:
    """One label per row of ``x`` (``(N, D)``): 0 for the largest cluster, 1 for the
    next ..., -1 for noise (faces in clusters smaller than ``min_size``, HDBSCAN's
    noise). ``threshold`` is a distance in ``metric`` units (see
    :func:`default_threshold`). Deterministic for a given ``seed``."""
    check_method(method)
    if threshold <= 0:
        raise FaceprintError(f"the clustering threshold must be > 0, got {threshold:g}")
    x = np.asarray(x)
    if len(x) == 0:
        return np.empty(0, dtype=np.int64)
    if method == "hdbscan":
        raw = hdbscan(x, threshold=threshold, metric=metric, min_cluster_size=min_size,
                      min_samples=min_samples)
        return renumber(raw, min_size)
    graph = link_graph(x, threshold, metric)
    if method == "chinese-whispers":
        raw = chinese_whispers(graph, threshold=threshold, seed=seed, weighting=weighting)
    else:
        raw = agglomerative(x, graph, threshold=threshold, metric=metric, linkage=linkage)
    return renumber(raw, min_size)


def cluster_faces(embeddings: np.ndarray, faces: Sequence[FaceRef],
                  method: str = "chinese-whispers", *, threshold: float,
                  metric: Metric = "euclidean", seed: int = 0, min_size: int = 2,
                  linkage: Linkage = "average") -> Clustering:
    """Cluster faces (one embedding row each) into :class:`Cluster` records, ids
    1, 2, ... largest first, and the noise."""
    if len(embeddings) != len(faces):
        raise FaceprintError(f"{len(embeddings)} embeddings for {len(faces)} faces")
    labels = cluster_labels(embeddings, method, threshold=threshold, metric=metric,
                            seed=seed, min_size=min_size, linkage=linkage)
    return to_clustering(labels + np.where(labels >= 0, 1, 0), faces, method=method,
                         threshold=threshold, metric=metric)


def to_clustering(ids: np.ndarray, faces: Sequence[FaceRef], *, method: str,
                  threshold: float, metric: Metric,
                  names: dict[int, str] | None = None) -> Clustering:
    """Records from one cluster id per face (-1: noise), largest cluster first
    (ties: smaller id first)."""
    names = names or {}
    groups: dict[int, list[FaceRef]] = {}
    noise: list[FaceRef] = []
    for cid, face in zip(ids.tolist(), faces):
        if cid < 0:
            noise.append(face)
        else:
            groups.setdefault(cid, []).append(face)
    clusters = [Cluster(cid, tuple(members), names.get(cid))
                for cid, members in groups.items()]
    clusters.sort(key=lambda c: (-c.size, c.id))
    return Clustering(tuple(clusters), tuple(noise), method, threshold, metric)


# -- new faces joining existing clusters -----------------------------------------------
def assign(known: np.ndarray, known_ids: np.ndarray, new: np.ndarray, *, threshold: float,
           metric: Metric = "euclidean", block: int = 4096) -> np.ndarray:
    """For each row of ``new``, the id of the existing cluster it joins, else -1.

    A new face joins the cluster that has the most members within ``threshold``
    of it (the vote of chinese whispers; ties: the nearest member). Noise members
    (id -1) of ``known`` take no part."""
    out = np.full(len(new), -1, dtype=np.int64)
    mask = known_ids >= 0
    if not mask.any() or len(new) == 0:
        return out
    members = _prepared(known[mask], metric)
    ids = known_ids[mask]
    new_p = _prepared(new, metric)
    nm = (members.astype(np.float64) ** 2).sum(1).astype(np.float32)
    nn = (new_p.astype(np.float64) ** 2).sum(1).astype(np.float32)
    uniq, inverse = np.unique(ids, return_inverse=True)
    for start in range(0, len(new_p), block):
        d = _block_distances(new_p[start:start + block], members, nn[start:start + block],
                             nm, metric)
        near = d <= threshold
        for row in np.nonzero(near.any(axis=1))[0]:
            hits = np.nonzero(near[row])[0]
            votes = np.bincount(inverse[hits], minlength=len(uniq))
            best = np.flatnonzero(votes == votes.max())
            if len(best) > 1:  # a tie: the cluster of the nearest member among them
                tied = np.isin(inverse[hits], best)
                nearest = hits[tied][np.argmin(d[row, hits[tied]])]
                best = np.array([inverse[nearest]])
            out[start + row] = uniq[best[0]]
    return out


# -- how good a clustering is ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Scores:
    """A clustering against the truth. Noise (label -1) counts as singletons.

    Pairwise: over all pairs of faces, precision = pairs put together that are the
    same person / pairs put together; recall = same-person pairs put together /
    same-person pairs. BCubed (Bagga and Baldwin 1998): each face's precision is
    the share of its cluster that is its person, its recall the share of its
    person that is in its cluster, averaged over faces."""

    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    clusters: int  # clusters of two faces or more
    singletons: int  # faces alone (noise included)
    people: int  # true identities
    people_with_two: int  # true identities with two faces or more

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 5) if isinstance(v, float) else v)
                for k, v in ((f, getattr(self, f)) for f in self.__slots__)}


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def score(truth: Sequence[object], labels: np.ndarray) -> Scores:
    """Pairwise and BCubed precision, recall and F1 of ``labels`` (-1: noise)
    against ``truth`` (one identity per face)."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = len(labels)
    if n != len(truth):
        raise ValueError(f"{n} labels for {len(truth)} truths")
    noise = labels < 0
    labels[noise] = labels.max(initial=0) + 1 + np.arange(int(noise.sum()))
    _, t = np.unique(np.asarray([str(x) for x in truth]), return_inverse=True)
    _, p = np.unique(labels, return_inverse=True)
    table = sp.coo_matrix((np.ones(n), (p, t))).tocsr()
    table.sum_duplicates()
    cells = table.data
    a = np.asarray(table.sum(axis=1)).ravel()  # cluster sizes
    b = np.asarray(table.sum(axis=0)).ravel()  # person sizes
    together = float((a * (a - 1) / 2).sum())
    same = float((b * (b - 1) / 2).sum())
    both = float((cells * (cells - 1) / 2).sum())
    pp = both / together if together else 1.0
    pr = both / same if same else 1.0
    coo = table.tocoo()
    bp = float((coo.data**2 / a[coo.row]).sum() / n)
    br = float((coo.data**2 / b[coo.col]).sum() / n)
    return Scores(pp, pr, _f1(pp, pr), bp, br, _f1(bp, br), int((a >= 2).sum()),
                  int((a == 1).sum()), len(b), int((b >= 2).sum()))
