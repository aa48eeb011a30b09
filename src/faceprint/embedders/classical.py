"""The classical face recognisers the course tells as history: Eigenfaces,
Fisherfaces and local binary patterns, as faceprint embedders.

All three read the same kind of chip: dlib's 5-point alignment (the chip of
``dlib-resnet``, :mod:`faceprint.align` ``"dlib5"``), 64 x 64 pixels with a
padding of 0.05 (:data:`CLASSICAL_CHIP`: from the eyebrows to the chin), so
that eyes, nose and mouth fall on the same pixels in every chip, turned to
grayscale (ITU-R 601 luma; colour plays no part in these methods). Every
setting below was chosen on LFW View 1 (fitted on ``peopleDevTrain``, scored
by ROC AUC on ``pairsDevTest``; ``benchmarks/calibrate_classical.py``),
never on View 2.

``eigenfaces`` (Turk & Pentland 1991)
    Each chip's pixels, made zero-mean and unit-variance (a crude lighting
    correction), are projected on the first 100 principal axes of the training
    chips. Distance: plain L2 between projections, as in the paper.
    Unsupervised: fitting needs images, not names.

``fisherfaces`` (Belhumeur, Hespanha & Kriegman 1997)
    The same pixels are projected by PCA on 300 axes, then by Fisher's linear
    discriminant (LDA) on the 150 axes that best separate people (largest
    between-person over within-person scatter). Supervised: fitting needs each
    training image's person. Distance: cosine (1 - cosine similarity) between
    the projections; on View 1 it separated pairs far better than plain L2
    (AUC 0.86 against 0.71).

``lbp`` (Ahonen, Hadid & Pietikäinen 2004/2006)
    Uniform local binary patterns LBP(8, 2, u2) - each pixel's 8 neighbours on
    a circle of radius 2 pixels compared with it, the 58 patterns with at most
    two 0/1 transitions kept apart and the rest pooled (59 labels) - counted
    in a 10 x 10 grid of cells; each cell's histogram sums to one. Distance:
    chi-square between the concatenated histograms (no fitting; the regions
    are not weighted). Its threshold :data:`LBP_THRESHOLD` was chosen on
    View 1's training pairs.

Fitted models (eigenfaces, fisherfaces) are ``.npz`` files written by
:meth:`SubspaceEmbedder.save` and read back by the constructor: the registry
name ``eigenfaces:model.npz`` loads one. Without a path the model at
:func:`default_model_path` is used if it exists (``faceprint eval fit`` writes
there by default). A fitted model's ``threshold`` is the distance that
maximised accuracy on the pairs named when it was fitted (NaN when none were).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from ..align import ChipSpec
from ..errors import ModelError
from ..types import Metric

#: chip side in pixels, and dlib's padding around the face (fraction of its size)
CHIP_SIZE = 64
CHIP_PADDING = 0.05
CLASSICAL_CHIP = ChipSpec(size=CHIP_SIZE, method="dlib5", padding=CHIP_PADDING)

#: chi-square distance at or below which two LBP descriptors are the same person:
#: the accuracy-maximising threshold on LFW View 1 pairsDevTrain (2,200 pairs,
#: mtcnn detector, then the default; 70.2 % there), printed by
#: ``python benchmarks/calibrate_classical.py``. View 2 was never used.
LBP_THRESHOLD = 116.61
#: LBP's chip side (pixels), sampling radius (pixels) and grid (cells per side)
LBP_SIZE = 64
LBP_RADIUS = 2.0
LBP_CELLS = 10

MODEL_FORMAT = 1


def default_model_path(name: str) -> Path:
    """Where ``faceprint eval fit NAME`` writes a model when no ``--out`` is given,
    and where ``--embedder NAME`` (without ``:PATH``) looks for one."""
    from ..cache import cache_dir

    return cache_dir("classical") / f"{name}.npz"


def to_gray(chips: np.ndarray) -> np.ndarray:
    """``(N, S, S, 3)`` uint8 RGB chips -> ``(N, S, S)`` float32 luma in [0, 255]."""
    chips = _check_chips(chips)
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    n, h, w = chips.shape[:3]
    gray = np.empty((n, h, w), dtype=np.float32)
    for start in range(0, n, 1024):  # bounded temporaries
        block = chips[start:start + 1024].astype(np.float32)
        gray[start:start + len(block)] = np.einsum("nhwc,c->nhw", block, weights)
    return gray


def _check_chips(chips: np.ndarray, size: int | None = None) -> np.ndarray:
    chips = np.asarray(chips)
    if chips.ndim != 4 or chips.shape[3] != 3 or chips.shape[1] != chips.shape[2] \
            or chips.dtype != np.uint8:
        raise ValueError(f"expected (N, S, S, 3) uint8 chips, got {chips.shape} {chips.dtype}")
    if size is not None and chips.shape[1] != size:
        raise ValueError(f"expected {size} x {size} chips, got {chips.shape[1]} x "
                         f"{chips.shape[2]}")
    return chips


def pixel_vectors(chips: np.ndarray) -> np.ndarray:
    """``(N, S*S)`` float32: each chip's luma made zero-mean and unit-variance."""
    x = to_gray(chips).reshape(len(chips), -1)
    x -= x.mean(axis=1, keepdims=True)
    x /= np.maximum(x.std(axis=1, keepdims=True), 1e-3)
    return x


def _orthonormal(q: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the columns of ``q`` (float64), by two rounds of
    symmetric orthogonalisation through the small Gram matrix: far cheaper than a
    Householder QR of a tall matrix on a busy multi-core machine, and as stable
    for this use once repeated (as CholeskyQR2 is)."""
    q = q.astype(np.float64)
    for _ in range(2):
        w, v = np.linalg.eigh(q.T @ q)
        keep = w > max(float(w.max()), 1e-300) * 1e-12
        q = q @ (v[:, keep] / np.sqrt(w[keep]))
    return q


def top_components(x: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` principal axes of the centred rows of ``x`` (``(N, D)``):
    ``(components (k, D), variances (k,))``, by a randomised SVD (Halko et al.
    2011, four power iterations) - exact to float precision for the leading
    axes of face data, and far cheaper than a full SVD when k << D."""
    n, d = x.shape
    k = min(k, n - 1, d)
    if k < 1:
        raise ValueError("need at least two samples to find principal axes")
    rng = np.random.default_rng(seed)
    over = min(k + 20, min(n, d))
    xd = x.astype(np.float64)
    q = _orthonormal(xd @ rng.standard_normal((d, over)))
    for _ in range(4):
        q = _orthonormal(xd @ _orthonormal(xd.T @ q))
    _, s, vt = np.linalg.svd(q.T @ xd, full_matrices=False)
    variances = (s[:k] ** 2) / max(n - 1, 1)
    return vt[:k].astype(np.float32), variances.astype(np.float32)


def lda_axes(z: np.ndarray, labels: np.ndarray, k: int, ridge: float = 1e-3) -> np.ndarray:
    """Fisher's discriminant axes ``(D, k')`` for samples ``z`` (``(N, D)``) of
    classes ``labels``: the generalised eigenvectors of between-class over
    within-class scatter, largest first, k' = min(k, classes - 1, D). The
    within-class scatter gets ``ridge`` times its mean eigenvalue added so that
    it is invertible."""
    classes, inverse = np.unique(labels, return_inverse=True)
    c, d = len(classes), z.shape[1]
    if c < 2:
        raise ValueError("LDA needs at least two people")
    z = z.astype(np.float64)
    mean = z.mean(axis=0)
    counts = np.bincount(inverse, minlength=c).astype(np.float64)
    means = np.zeros((c, d))
    np.add.at(means, inverse, z)
    means /= counts[:, None]
    within = z - means[inverse]
    sw = within.T @ within
    between = (means - mean) * np.sqrt(counts)[:, None]
    sb = between.T @ between
    sw += ridge * np.trace(sw) / d * np.eye(d)
    evals, evecs = np.linalg.eigh(sw)
    whiten = evecs / np.sqrt(np.maximum(evals, 1e-12))
    evals_b, evecs_b = np.linalg.eigh(whiten.T @ sb @ whiten)
    order = np.argsort(evals_b)[::-1][: min(k, c - 1, d)]
    axes: np.ndarray = (whiten @ evecs_b[:, order]).astype(np.float32)
    return axes


_S = TypeVar("_S", bound="SubspaceEmbedder")


class SubspaceEmbedder:
    """What Eigenfaces and Fisherfaces share: a linear projection of the chip's
    normalised pixels, fitted on training chips, saved to and loaded from
    ``.npz``.

    model: path of a fitted model (``None``: :func:`default_model_path`).
    """

    name: ClassVar[str] = ""
    metric: Metric = "euclidean"
    normalized = False
    chip = CLASSICAL_CHIP
    dim: int
    threshold: float
    mean: np.ndarray
    projection: np.ndarray
    info: dict[str, Any]
    path: Path | None

    def __init__(self, model: str | os.PathLike[str] | None = None) -> None:
        path = Path(model) if model is not None else default_model_path(self.name)
        if model is None and not path.is_file():
            raise ModelError(
                f"{self.name} must be fitted before use: run `faceprint eval fit {self.name} "
                f"--data LFW_DIR` (writes {path}), or pass a fitted model as "
                f"--embedder {self.name}:MODEL.npz")
        self._load(path)

    # -- construction ----------------------------------------------------------------
    @classmethod
    def _from_arrays(cls: type[_S], mean: np.ndarray, projection: np.ndarray,
                     info: dict[str, Any]) -> _S:
        self = cls.__new__(cls)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.projection = np.asarray(projection, dtype=np.float32)
        self.info = dict(info)
        self.threshold = float(info.get("threshold", math.nan))
        self.dim = int(self.projection.shape[1])
        self.path = None
        return self

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise ModelError(f"{path}: no such {self.name} model file")
        try:
            with np.load(path, allow_pickle=False) as z:
                kind = str(z["kind"])
                fmt = int(z["format"])
                mean, projection = z["mean"], z["projection"]
                info = {k: z[k].item() for k in z.files
                        if k not in ("kind", "format", "mean", "projection")}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{path}: not a faceprint {self.name} model ({exc})") from None
        if kind != self.name:
            raise ModelError(f"{path} holds a {kind} model, not {self.name}")
        if fmt != MODEL_FORMAT:
            raise ModelError(f"{path}: model format {fmt}, this faceprint reads "
                             f"{MODEL_FORMAT}; fit it again")
        size = int(info.get("chip_size", CHIP_SIZE))
        if size != CHIP_SIZE or not math.isclose(float(info.get("chip_padding", CHIP_PADDING)),
                                                  CHIP_PADDING):
            raise ModelError(f"{path}: fitted on another chip ({size} px); fit it again")
        if mean.shape != (size * size,) or projection.shape[0] != size * size:
            raise ModelError(f"{path}: inconsistent array shapes")
        self.mean = mean.astype(np.float32)
        self.projection = projection.astype(np.float32)
        self.info = info
        self.threshold = float(info.get("threshold", math.nan))
        self.dim = int(self.projection.shape[1])
        self.path = path

    # -- use ------------------------------------------------------------------------
    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """``(N, 64, 64, 3)`` uint8 chips -> ``(N, dim)`` float32 projections."""
        chips = _check_chips(chips, CHIP_SIZE)
        x = pixel_vectors(chips) - self.mean
        out: np.ndarray = (x @ self.projection).astype(np.float32)
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as ``.npz`` (arrays plus its fitting facts)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        info = {k: v for k, v in self.info.items() if v is not None}
        info.update(chip_size=CHIP_SIZE, chip_padding=CHIP_PADDING, threshold=self.threshold,
                    metric=self.metric)
        tmp = p.with_name(p.name + ".tmp.npz")
        try:
            arrays: dict[str, Any] = {k: np.array(v) for k, v in info.items()}
            arrays.update(kind=np.array(self.name), format=np.array(MODEL_FORMAT),
                          mean=self.mean, projection=self.projection)
            np.savez(tmp, **arrays)
            os.replace(tmp, p)
        except OSError as exc:
            raise ModelError(f"cannot write {p}: {exc.strerror or exc}") from None
        self.path = p
        return p

    def describe(self) -> str:
        """One line: what the model was fitted on."""
        return str(self.info.get("fitted_on", "unknown data"))


class EigenfacesEmbedder(SubspaceEmbedder):
    """Eigenfaces: PCA of normalised chip pixels; plain L2 between projections."""

    name: ClassVar[str] = "eigenfaces"
    metric: Metric = "euclidean"
    #: number of principal axes kept by default
    default_components: ClassVar[int] = 100

    @classmethod
    def fit(cls, chips: np.ndarray, labels: Sequence[str] | None = None, *,
            components: int | None = None, fitted_on: str = "") -> EigenfacesEmbedder:
        """Fit on ``(N, 64, 64, 3)`` chips (labels are ignored: unsupervised)."""
        x = pixel_vectors(_check_chips(chips, CHIP_SIZE))
        mean = x.mean(axis=0)
        k = components or cls.default_components
        axes, variances = top_components(x - mean, k)
        info = {"fitted_on": fitted_on, "images": len(x), "components": len(axes),
                "explained_variance": float(variances.sum() / max(_total_var(x), 1e-12))}
        model: EigenfacesEmbedder = cls._from_arrays(mean, axes.T, info)
        return model


class FisherfacesEmbedder(SubspaceEmbedder):
    """Fisherfaces: PCA then LDA of normalised chip pixels; cosine distance."""

    name: ClassVar[str] = "fisherfaces"
    metric: Metric = "cosine"
    default_pca: ClassVar[int] = 300
    default_lda: ClassVar[int] = 150

    @classmethod
    def fit(cls, chips: np.ndarray, labels: Sequence[str] | None = None, *,
            pca_components: int | None = None, lda_components: int | None = None,
            fitted_on: str = "") -> FisherfacesEmbedder:
        """Fit on chips and each chip's person (``labels``). PCA uses every chip;
        LDA uses the people with at least two chips (a person seen once has no
        within-person scatter)."""
        if labels is None or len(labels) != len(chips):
            raise ValueError("fisherfaces needs one person label per training chip")
        x = pixel_vectors(_check_chips(chips, CHIP_SIZE))
        lab = np.asarray(labels)
        names, counts = np.unique(lab, return_counts=True)
        repeated = np.isin(lab, names[counts >= 2])
        if len(np.unique(lab[repeated])) < 2:
            raise ValueError("fisherfaces needs at least two people with two or more images")
        mean = x.mean(axis=0)
        pca, _ = top_components(x - mean, pca_components or cls.default_pca)
        z = (x[repeated] - mean) @ pca.T
        lda = lda_axes(z, lab[repeated], lda_components or cls.default_lda)
        projection = pca.T @ lda
        info = {"fitted_on": fitted_on, "images": len(x),
                "people": len(names), "lda_images": int(repeated.sum()),
                "lda_people": len(np.unique(lab[repeated])),
                "pca_components": len(pca), "components": int(lda.shape[1])}
        model: FisherfacesEmbedder = cls._from_arrays(mean, projection, info)
        return model


def _total_var(x: np.ndarray) -> float:
    return float(((x - x.mean(axis=0)) ** 2).sum() / max(len(x) - 1, 1))


# -- local binary patterns -----------------------------------------------------------
def _uniform_table(points: int) -> np.ndarray:
    """Map each ``points``-bit code to its uniform-pattern label: patterns with at
    most two circular 0/1 transitions get labels 0..P(P-1)+1, the others the last."""
    table = np.empty(1 << points, dtype=np.int64)
    uniform = points * (points - 1) + 2
    label = 0
    for code in range(1 << points):
        bits = [(code >> i) & 1 for i in range(points)]
        transitions = sum(bits[i] != bits[(i + 1) % points] for i in range(points))
        if transitions <= 2:
            table[code] = label
            label += 1
        else:
            table[code] = uniform
    assert label == uniform
    return table


def lbp_codes(gray: np.ndarray, points: int = 8, radius: float = 2.0) -> np.ndarray:
    """Uniform LBP labels of ``(N, H, W)`` float images: ``(N, H-2m, W-2m)`` int64,
    m = ceil(radius). Neighbours off the pixel grid are sampled bilinearly; a
    neighbour counts as 1 when it is at least the centre pixel."""
    n, h, w = gray.shape
    m = math.ceil(radius)
    hh, ww = h - 2 * m, w - 2 * m
    centre = gray[:, m:m + hh, m:m + ww]
    code = np.zeros((n, hh, ww), dtype=np.int64)
    for p in range(points):
        angle = 2.0 * math.pi * p / points
        dy, dx = -radius * math.sin(angle), radius * math.cos(angle)
        dy, dx = round(dy, 9), round(dx, 9)  # a neighbour on the grid takes that pixel
        y0, x0 = math.floor(dy), math.floor(dx)
        fy, fx = dy - y0, dx - x0
        terms = [((1 - fy) * (1 - fx), y0, x0), ((1 - fy) * fx, y0, x0 + 1),
                 (fy * (1 - fx), y0 + 1, x0), (fy * fx, y0 + 1, x0 + 1)]
        value = np.zeros_like(centre)
        for weight, oy, ox in terms:
            if weight > 1e-9:
                value += weight * gray[:, m + oy:m + oy + hh, m + ox:m + ox + ww]
        code |= (value >= centre - 1e-4).astype(np.int64) << p
    labels: np.ndarray = _uniform_table(points)[code]
    return labels


class LbpEmbedder:
    """Ahonen et al.'s face descriptor: uniform LBP(8, ``radius``) histograms over a
    grid of ``cells`` x ``cells`` cells of a ``size`` x ``size`` grayscale chip
    (padding :data:`CHIP_PADDING`),
    chi-square distance. The defaults are those chosen on View 1
    (:data:`LBP_SIZE`, :data:`LBP_RADIUS`, :data:`LBP_CELLS`); the calibrated
    threshold holds for them only (NaN otherwise).

    It needs no fitting and takes no registry argument.
    """

    name = "lbp"
    metric: Metric = "chi2"
    normalized = False
    points = 8

    def __init__(self, arg: str | None = None, *, cells: int | None = None,
                 radius: float | None = None, size: int | None = None) -> None:
        if arg is not None:
            raise ModelError(f"lbp takes no argument (got lbp:{arg}); it needs no fitting")
        self.cells = LBP_CELLS if cells is None else cells
        self.radius = LBP_RADIUS if radius is None else radius
        self.size = LBP_SIZE if size is None else size
        if self.cells < 1 or self.radius <= 0 or self.size < 2 * math.ceil(self.radius) + 8:
            raise ValueError("lbp needs cells >= 1, radius > 0 and a chip of a few pixels")
        self.chip = ChipSpec(size=self.size, method="dlib5", padding=CHIP_PADDING)
        self.labels = self.points * (self.points - 1) + 3
        self.dim = self.cells * self.cells * self.labels
        default = (self.cells, self.radius, self.size) == (LBP_CELLS, LBP_RADIUS, LBP_SIZE)
        self.threshold = LBP_THRESHOLD if default else math.nan

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """``(N, size, size, 3)`` uint8 chips -> ``(N, cells*cells*59)`` float32
        histograms, each cell's summing to one."""
        chips = _check_chips(chips, self.size)
        n = len(chips)
        out = np.empty((n, self.dim), dtype=np.float32)
        for start in range(0, n, 256):  # bounded memory
            codes = lbp_codes(to_gray(chips[start:start + 256]), self.points, self.radius)
            out[start:start + len(codes)] = self._histograms(codes)
        return out

    def _histograms(self, codes: np.ndarray) -> np.ndarray:
        n, h, w = codes.shape
        rows = np.minimum(np.arange(h) * self.cells // h, self.cells - 1)
        cols = np.minimum(np.arange(w) * self.cells // w, self.cells - 1)
        cell = rows[:, None] * self.cells + cols[None, :]  # (h, w)
        index = (np.arange(n)[:, None, None] * (self.cells * self.cells) + cell[None]) \
            * self.labels + codes
        hist = np.bincount(index.ravel(), minlength=n * self.dim).astype(np.float32)
        hist = hist.reshape(n, self.cells * self.cells, self.labels)
        hist /= np.maximum(hist.sum(axis=2, keepdims=True), 1.0)
        return hist.reshape(n, self.dim)


#: the classical embedders, by registry name
CLASSICAL: dict[str, type[Any]] = {"eigenfaces": EigenfacesEmbedder,
                                    "fisherfaces": FisherfacesEmbedder, "lbp": LbpEmbedder}
#: those that must be fitted before use
FITTED = ("eigenfaces", "fisherfaces")


def chip_of(name: str) -> ChipSpec:
    """The chip the classical embedder ``name`` (registry base name) reads."""
    if name == "lbp":
        return LbpEmbedder().chip
    if name in CLASSICAL:
        return CLASSICAL_CHIP
    raise ModelError(f"{name!r} is not a classical embedder")


def fit_embedder(name: str, chips: np.ndarray, labels: Sequence[str], *, fitted_on: str = "",
                 **options: Any) -> Any:
    """Fit the classical embedder ``name`` (``eigenfaces`` or ``fisherfaces``) on
    chips and their people; ``lbp`` is returned as is (nothing to fit)."""
    if name == "lbp":
        return LbpEmbedder()
    if name not in FITTED:
        raise ModelError(f"{name!r} cannot be fitted; choose one of: {', '.join(FITTED)}")
    cls: Any = CLASSICAL[name]
    return cls.fit(chips, labels, fitted_on=fitted_on, **options)
