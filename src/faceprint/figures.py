"""Pictures of what the embedding sees: a 2-D map of faces (t-SNE) coloured by person
or cluster with thumbnails, a similarity matrix of chosen people, and the course's
two figures: "Recognized as NAME" on a photo, and pairs of faces with
"Distance = d" under them (:func:`faceprint.viz.plot_pairs`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .distance import pairwise
from .errors import FaceprintError
from .types import Metric
from .viz import _pyplot, _save

_GREY = "#9a9a9a"


def _colours(n: int) -> list[tuple[float, float, float, float]]:
    plt = _pyplot()
    cmap = plt.get_cmap("tab20" if n > 10 else "tab10")
    return [cmap(i % cmap.N) for i in range(n)]


def tsne(x: np.ndarray, metric: Metric = "euclidean", perplexity: float = 30.0,
         seed: int = 0) -> np.ndarray:
    """``(N, 2)`` t-SNE coordinates of embeddings (scikit-learn), on the embedder's
    distances (cosine as 1 - cos), seeded."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise FaceprintError("the embedding map needs scikit-learn: pip install "
                             "'faceprint[cluster]'") from None
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 3:
        raise FaceprintError(f"a map needs at least 3 faces, got {len(x)}")
    d = pairwise(x, x, metric)
    np.fill_diagonal(d, 0.0)
    perplexity = min(perplexity, max(1.0, (len(x) - 1) / 3))
    model = TSNE(n_components=2, metric="precomputed", init="random", random_state=seed,
                 perplexity=perplexity)
    from threadpoolctl import threadpool_limits

    # one OpenMP thread: on a busy machine t-SNE's threads spin-wait (139 faces: 1.9 s
    # on one thread, 156 s on all of them under load)
    with threadpool_limits(1):
        xy: np.ndarray = model.fit_transform(np.maximum(d, 0.0))
    return xy


def embedding_map(x: np.ndarray, labels: Sequence[str], path: str | Path, *,
                  metric: Metric = "euclidean",
                  thumbs: Sequence[str | Path | np.ndarray | None] | None = None,
                  perplexity: float = 30.0, title: str = "", seed: int = 0,
                  max_legend: int = 20, alone: str = "alone", max_points: int = 3000
                  ) -> Path:
    """A t-SNE map of faces, one colour per label (``alone`` in grey), each face's
    thumbnail drawn at its place when ``thumbs`` are given (in a ring of its
    label's colour). The legend names the ``max_legend`` largest labels. Above
    ``max_points`` faces a seeded random sample of that many is drawn (t-SNE here
    holds all distances: 3,000 faces are 72 MB), and the title says so."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage
    from PIL import Image

    plt = _pyplot()
    if len(x) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
        title = (title or f"t-SNE of {len(x)} faces") + f" (a sample of {max_points})"
        x = np.asarray(x)[keep]
        labels = [labels[i] for i in keep]
        thumbs = None if thumbs is None else [thumbs[i] for i in keep]
    xy = tsne(x, metric, perplexity, seed)
    names, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    def natural(name: str) -> tuple[int, int, str]:  # "#2" before "#10"
        digits = name.lstrip("#")
        return (0, int(digits), "") if digits.isdigit() else (1, 0, name)

    order = [n for n, _ in sorted(zip(names.tolist(), counts.tolist()),
                                  key=lambda t: (-t[1], natural(t[0]))) if n != alone]
    colour = dict(zip(order, _colours(len(order))))
    fig, ax = plt.subplots(figsize=(10, 8.5), dpi=110)
    labs = np.asarray(labels, dtype=object).astype(str)
    for name in [*order, alone]:
        m = labs == name
        if not m.any():
            continue
        c = colour.get(name, _GREY)
        ax.scatter(xy[m, 0], xy[m, 1], s=18, color=c, alpha=0.9,
                   label=f"{name} ({int(m.sum())})" if name in order[:max_legend]
                   or name == alone else None)
    if thumbs is not None:
        zoom = 0.32 if len(xy) > 400 else 0.5
        for (px, py), lab, t in zip(xy, labs, thumbs):
            if isinstance(t, np.ndarray):
                pic = np.asarray(Image.fromarray(t).convert("RGB").resize((64, 64)))
            elif t is None or not Path(t).exists():
                continue
            else:
                with Image.open(t) as im:
                    pic = np.asarray(im.convert("RGB").resize((64, 64)))
            box = AnnotationBbox(OffsetImage(pic, zoom=zoom), (px, py), frameon=True,
                                 pad=0.05, bboxprops={"edgecolor": colour.get(lab, _GREY),
                                                      "linewidth": 1.6})
            ax.add_artist(box)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"t-SNE of {len(xy)} faces", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def similarity_matrix(x: np.ndarray, labels: Sequence[str], path: str | Path, *,
                      metric: Metric = "euclidean", threshold: float | None = None,
                      title: str = "") -> Path:
    """The distance between every two faces, faces grouped by person (in the order
    given), person names on the axes; with ``threshold``, pairs at or below it are
    outlined in the colour bar."""
    plt = _pyplot()
    labs = list(labels)
    d = pairwise(np.asarray(x), np.asarray(x), metric)
    n = len(labs)
    fig, ax = plt.subplots(figsize=(7.4, 6.4), dpi=120)
    vmax = float(np.percentile(d, 98)) if n > 1 else 1.0
    im = ax.imshow(d, cmap="viridis_r", vmin=0.0, vmax=max(vmax, 1e-6))
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(f"distance ({metric})" + (
        f"; red line: threshold {threshold:.2f}" if threshold is not None else ""))
    if threshold is not None:
        bar.ax.axhline(threshold, color="red", linewidth=2.5)
    # one tick per person, in the middle of its block, and lines between blocks
    starts = [i for i in range(n) if i == 0 or labs[i] != labs[i - 1]]
    ends = [*starts[1:], n]
    for s in starts[1:]:
        ax.axhline(s - 0.5, color="white", linewidth=1.2)
        ax.axvline(s - 0.5, color="white", linewidth=1.2)
    mids = [(s + e - 1) / 2 for s, e in zip(starts, ends)]
    names = [labs[s].replace("_", " ") for s in starts]
    ax.set_xticks(mids)
    ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(mids)
    ax.set_yticklabels(names, fontsize=8)
    same = np.equal.outer(np.asarray(labs), np.asarray(labs))
    off = ~np.eye(n, dtype=bool)
    summary = ""
    if (same & off).any() and (~same).any():
        summary = (f"mean same-person {d[same & off].mean():.2f}, "
                   f"different people {d[~same].mean():.2f}")
    ax.set_title((title or f"Distances between {n} faces of {len(starts)} people")
                 + (f"\n{summary}" if summary else ""), fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def recognized(image: np.ndarray, boxes: Sequence[tuple[float, float, float, float]],
               names: Sequence[str | None], path: str | Path,
               distances: Sequence[float | None] | None = None) -> Path:
    """The course's figure: the photo with a box round each face and "Recognized as
    NAME" (green) or "Unknown" (red) written under it, larger than
    :func:`faceprint.viz.draw_faces` writes, and the distance beside the name."""
    from PIL import Image, ImageDraw, ImageFont

    pic = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
    scale = max(1.0, 900 / max(pic.size))
    if scale > 1:
        pic = pic.resize((round(pic.width * scale), round(pic.height * scale)),
                         Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(pic)
    size = max(14, round(max(pic.size) / 38))
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        font = ImageFont.load_default(size)
    thick = max(2, round(max(pic.size) / 300))
    for i, ((left, top, w, h), name) in enumerate(zip(boxes, names)):
        x0, t, r, b = (v * scale for v in (left, top, left + w, top + h))
        colour = (40, 190, 60) if name else (225, 50, 40)
        draw.rectangle((x0, t, r, b), outline=colour, width=thick)
        dist = distances[i] if distances is not None else None
        text = f"Recognized as {name}" if name else "Unknown"
        if dist is not None:
            text += f" ({dist:.2f})"
        tl, tt, tr, tb = draw.textbbox((0, 0), text, font=font)
        tw, th = tr - tl, tb - tt
        x = min(max(0.0, x0), pic.width - tw - 8)
        y = b + 4 if b + th + 12 < pic.height else max(0.0, t - th - 12)
        draw.rectangle((x, y, x + tw + 8, y + th + 8), fill=colour)
        draw.text((x + 4 - tl, y + 4 - tt), text, fill=(255, 255, 255), font=font)
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        pic.save(p)
    except (OSError, ValueError, KeyError) as exc:
        raise FaceprintError(f"cannot write {p}: {exc}") from None
    return p
