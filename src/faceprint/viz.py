"""Pictures of results: boxes, landmarks and names drawn on photos, ROC curves,
distance histograms."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FaceprintError
from .types import Face

_GREEN = (40, 200, 60)
_RED = (230, 50, 40)
_LANDMARK_COLOURS = [(255, 80, 80), (80, 160, 255), (255, 220, 0), (255, 0, 255), (0, 255, 255)]


def draw_faces(image: np.ndarray, faces: Sequence[Face], labels: Sequence[str | None] | None
               = None, known: Sequence[bool] | None = None, landmarks68: bool = False
               ) -> np.ndarray:
    """A copy of ``image`` (RGB uint8) with each face's box, five landmarks, and an
    optional label under the box (green for known, red for unknown); with
    ``landmarks68`` dlib's 68 points too (white), and the 468-point mesh (light blue)
    of every face whose attributes hold one."""
    import cv2

    out = image.copy()
    thick = max(1, round(max(image.shape[:2]) / 500))
    for i, face in enumerate(faces):
        colour = _GREEN if known is None or known[i] else _RED
        b = face.box
        if face.attributes is not None and face.attributes.mesh is not None:
            for x, y, _ in face.attributes.mesh:
                cv2.circle(out, (round(x), round(y)), max(1, thick - 1), (120, 200, 255), -1)
        if landmarks68 and face.landmarks68 is not None:
            for x, y in face.landmarks68.points:
                cv2.circle(out, (round(x), round(y)), thick, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.rectangle(out, (round(b.left), round(b.top)), (round(b.right), round(b.bottom)),
                      colour, thick, cv2.LINE_AA)
        if face.landmarks is not None:
            for (x, y), c in zip(face.landmarks.points, _LANDMARK_COLOURS):
                cv2.circle(out, (round(x), round(y)), thick + 1, c, -1, cv2.LINE_AA)
        label = labels[i] if labels is not None else None
        if label:
            scale = max(0.4, b.width / 160)
            (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            x, y = round(b.left), round(b.bottom)
            x = max(0, min(x, out.shape[1] - tw - 4))  # keep the label inside the picture
            y = min(y, out.shape[0] - th - base - 4)
            cv2.rectangle(out, (x, y), (x + tw + 4, y + th + base + 4), colour, -1)
            cv2.putText(out, label, (x + 2, y + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), thick, cv2.LINE_AA)
    return out


def save_image(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB uint8 image; the format follows the file extension."""
    from PIL import Image

    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(p)
    except (OSError, ValueError, KeyError) as exc:
        raise FaceprintError(f"cannot write {p}: {exc}") from None
    return p


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path,
             title: str = "ROC", ylim: tuple[float, float] = (0.5, 1.0)) -> Path:
    """ROC curves (false accept rate on a log axis, true accept rate) to a PNG.

    ``curves`` maps a label to ``(far, tar)`` arrays; ``ylim`` is the range of the
    true accept rate axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=120)
    for label, (far, tar) in curves.items():
        ax.plot(np.maximum(far, 1e-4), tar, label=label, linewidth=1.6)
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1.0)
    ax.set_ylim(*ylim)
    ax.set_xlabel("false accept rate (different people accepted)")
    ax.set_ylabel("true accept rate (same person accepted)")
    ax.axvline(1e-3, color="grey", linestyle=":", linewidth=1)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p)
    plt.close(fig)
    return p


def plot_distance_histogram(same: np.ndarray, different: np.ndarray, threshold: float,
                            path: str | Path, metric: str = "euclidean",
                            title: str = "Distances") -> Path:
    """Histograms of same-person and different-person distances with the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    bins = np.linspace(min(same.min(), different.min()), max(same.max(), different.max()),
                       60).tolist()
    ax.hist(same, bins=bins, alpha=0.6, label="same person", color="tab:green")
    ax.hist(different, bins=bins, alpha=0.6, label="different people", color="tab:red")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel(f"distance ({metric})")
    ax.set_ylabel("pairs")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p)
    plt.close(fig)
    return p


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    plt = _pyplot()
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p)
    except (OSError, ValueError) as exc:
        raise FaceprintError(f"cannot write {p}: {exc}") from None
    finally:
        plt.close(fig)
    return p


def plot_curves(series: dict[str, tuple[Sequence[float], Sequence[float]]], path: str | Path,
                *, xlabel: str, ylabel: str, title: str = "", xlog: bool = False,
                ylim: tuple[float, float] | None = None, markers: bool = True,
                xticks: Sequence[float] | None = None,
                reference: dict[str, tuple[Sequence[float], Sequence[float]]] | None = None
                ) -> Path:
    """Line plots of ``label -> (x, y)`` series to a PNG (robustness sweeps, CMC,
    precision-recall, DIR against false alarm rate). ``reference`` series are
    drawn dashed and grey (e.g. published numbers)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    for label, (x, y) in series.items():
        ax.plot(list(x), list(y), marker="o" if markers else None, markersize=4,
                linewidth=1.6, label=label)
    for label, (x, y) in (reference or {}).items():
        ax.plot(list(x), list(y), linestyle="--", color="grey", marker="s" if markers else None,
                markersize=3, linewidth=1.2, label=label)
    if xlog:
        ax.set_xscale("log")
    if xticks is not None:
        ax.set_xticks(list(xticks))
        ax.set_xticklabels([f"{t:,g}" for t in xticks], fontsize=8)
        ax.set_xticks([], minor=True)  # a log axis would label its minor ticks over ours
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _save(fig, path)


def plot_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray, str, bool | None]],
               path: str | Path, title: str = "") -> Path:
    """The course's pair figure: each pair's two faces side by side with a caption
    under them (e.g. ``"Distance = 0.12"``), green when the verdict was right, red
    when wrong, black when unknown. Pairs are laid out two per row."""
    import cv2

    plt = _pyplot()
    cols = 2 if len(pairs) > 1 else 1
    rows = max(1, math.ceil(len(pairs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.05 * rows + 0.3), dpi=120,
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (a, b, caption, ok) in enumerate(pairs):
        side = 150
        a = cv2.resize(a, (side, side), interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, (side, side), interpolation=cv2.INTER_AREA)
        gap = np.full((side, 8, 3), 255, dtype=np.uint8)
        ax = axes[i // cols][i % cols]
        ax.imshow(np.hstack([a, gap, b]))
        colour = "black" if ok is None else ("tab:green" if ok else "tab:red")
        ax.set_title(caption, y=-0.16, fontsize=9, color=colour)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def image_grid(images: Sequence[tuple[np.ndarray, str]], path: str | Path, cols: int = 3,
               title: str = "", width: float = 3.2) -> Path:
    """Pictures with a caption above each, ``cols`` per row, to a PNG."""
    plt = _pyplot()
    cols = max(1, min(cols, len(images)))
    rows = max(1, math.ceil(len(images) / cols))
    heights = [img.shape[0] / max(img.shape[1], 1) for img, _ in images] or [1.0]
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, width * max(heights) * rows
                                                  + 0.4), dpi=120, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (img, caption) in enumerate(images):
        ax = axes[i // cols][i % cols]
        ax.imshow(img)
        ax.set_title(caption, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
