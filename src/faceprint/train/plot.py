"""The training curves: loss and validation (and test) accuracy per epoch, from a
run's ``log.csv``."""

from __future__ import annotations

import csv
from pathlib import Path


def read_log(path: str | Path) -> list[dict[str, float]]:
    """Rows of a run's ``log.csv`` as floats (empty cells left out)."""
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(fh)]


def plot_runs(logs: dict[str, str | Path], out: str | Path, title: str = "") -> Path:
    """One PNG, two panels: training loss, and validation accuracy (solid) with the test
    accuracy at the validation threshold (dashed) when logged; one colour per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=90)
    for i, (label, path) in enumerate(logs.items()):
        rows = read_log(path)
        colour = f"C{i}"
        epochs = [r["epoch"] for r in rows]
        ax_loss.plot(epochs, [r["loss"] for r in rows], color=colour, label=label)
        if any("val_acc" in r for r in rows):
            ax_acc.plot(epochs, [100 * r.get("val_acc", float("nan")) for r in rows],
                        color=colour, label=f"{label}: validation")
        if any("test_acc_at_val_threshold" in r for r in rows):
            ax_acc.plot(epochs, [100 * r.get("test_acc_at_val_threshold", float("nan"))
                                 for r in rows], color=colour, linestyle="--",
                        label=f"{label}: test (val threshold)")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_yscale("log")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=7)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("pair accuracy (%)")
    ax_acc.grid(alpha=0.3)
    ax_acc.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
