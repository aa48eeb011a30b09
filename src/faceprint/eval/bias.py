"""Verification accuracy split by a group label that the user gives per identity.

Face recognition can work better for some groups of people than for others
(the course's warning about ethnicity; NIST's FRVT part 3 measured it). LFW
carries no such labels, so faceprint does not guess them: the user supplies a
CSV file that gives each identity's group, e.g.::

    identity,group
    Aaron_Eckhart,B
    Abdullah_Gul,A

Each LFW pair then belongs to the group of its two people when they share one;
a mismatched pair of people from different groups counts as ``mixed``, and a
pair with an identity missing from the file as ``unlabelled``. For each group
the report gives the pairs' accuracy (with each fold's threshold, chosen on the
other folds as in the main LFW protocol), the true accept rate (VAL) and the
false accept rate on that group's pairs at each fold's FAR = 1e-3 threshold,
and a 95 % Wilson interval for accuracy: differences smaller than those
intervals are not evidence of anything.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .lfw import LfwReport

MIXED = "mixed"
UNLABELLED = "unlabelled"
GENDER_FILES = {"female": "female_names.txt", "male": "male_names.txt"}


def read_image_labels(folder: str | Path) -> tuple[dict[str, str], int]:
    """Per-image labels from a folder of lists ``<label>_names.txt`` of LFW image
    file names (``../shared/data/lfw/gender``: ``female_names.txt``,
    ``male_names.txt``): ``(image file name -> label, images left out)``. An image
    in two lists is ambiguous and left out (five in the LFW gender lists)."""
    d = Path(folder)
    lists: dict[str, set[str]] = {}
    for label, name in GENDER_FILES.items():
        try:
            lists[label] = {ln.strip() for ln in (d / name).read_text().splitlines()
                            if ln.strip()}
        except OSError as exc:
            raise DataError(f"{d / name}: cannot read the label list ({exc.strerror or exc})"
                            ) from None
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    for label, names in lists.items():
        for n in names:
            seen[n] = seen.get(n, 0) + 1
            out[n] = label
    both = [n for n, c in seen.items() if c > 1]
    for n in both:
        del out[n]
    return out, len(both)


def read_groups(path: str | Path) -> dict[str, str]:
    """``identity -> group`` from a CSV file with the columns ``identity`` and
    ``group`` (a header row naming them is optional; extra columns are ignored)."""
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot read the groups file ({exc})") from None
    if not rows:
        raise DataError(f"{p}: empty groups file")
    head = [c.strip().lower() for c in rows[0]]
    if "identity" in head and "group" in head:
        ci, cg = head.index("identity"), head.index("group")
        rows = rows[1:]
    else:
        ci, cg = 0, 1
    out: dict[str, str] = {}
    for n, row in enumerate(rows, start=2 if head[0] == "identity" else 1):
        if len(row) <= max(ci, cg) or not row[ci].strip() or not row[cg].strip():
            raise DataError(f"{p}: line {n} needs an identity and a group: {row}")
        name, group = row[ci].strip().replace(" ", "_"), row[cg].strip()
        if out.get(name, group) != group:
            raise DataError(f"{p}: {name} is given two groups ({out[name]} and {group})")
        out[name] = group
    return out


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, no rounding
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One group's share of the pairs and how the method did on them."""

    group: str
    pairs: int
    matched: int
    mismatched: int
    accuracy: float
    accuracy_ci: tuple[float, float]
    val: float
    far: float
    #: 95 % Wilson intervals of VAL and of that FAR
    val_ci: tuple[float, float] = (0.0, 1.0)
    far_ci: tuple[float, float] = (0.0, 1.0)
    #: false accept / false reject rates at each fold's accuracy threshold
    far_at_threshold: float = math.nan
    far_at_threshold_ci: tuple[float, float] = (0.0, 1.0)
    frr_at_threshold: float = math.nan
    frr_at_threshold_ci: tuple[float, float] = (0.0, 1.0)

    def to_dict(self) -> dict[str, object]:
        return {"group": self.group, "pairs": self.pairs, "matched": self.matched,
                "mismatched": self.mismatched, "accuracy": self.accuracy,
                "accuracy_ci95": list(self.accuracy_ci), "val_at_far_1e-3": self.val,
                "val_ci95": list(self.val_ci), "far": self.far, "far_ci95": list(self.far_ci),
                "far_at_threshold": self.far_at_threshold,
                "far_at_threshold_ci95": list(self.far_at_threshold_ci),
                "frr_at_threshold": self.frr_at_threshold,
                "frr_at_threshold_ci95": list(self.frr_at_threshold_ci)}


def pair_groups(report: LfwReport, groups: dict[str, str], per_image: bool = False
                ) -> list[str]:
    """The group of each pair of ``report`` (see the module docstring). With
    ``per_image``, ``groups`` labels image file names (``Name_0001.jpg``) and a pair
    of two images labelled ``g`` is ``g-g``."""
    out = []
    for p in report.pair_list:
        if per_image:
            g1 = groups.get(f"{p.name1}_{p.index1:04d}.jpg")
            g2 = groups.get(f"{p.name2}_{p.index2:04d}.jpg")
        else:
            g1, g2 = groups.get(p.name1), groups.get(p.name2)
        if g1 is None or g2 is None:
            out.append(UNLABELLED)
        elif g1 == g2:
            out.append(f"{g1}-{g1}" if per_image else g1)
        else:
            out.append(MIXED)
    return out


def _rate(mask: np.ndarray) -> tuple[float, tuple[float, float]]:
    n = int(mask.size)
    if n == 0:
        return math.nan, (0.0, 1.0)
    k = int(mask.sum())
    return k / n, wilson(k, n)


def by_group(report: LfwReport, groups: dict[str, str], per_image: bool = False
             ) -> list[GroupResult]:
    """Accuracy, VAL and FAR (each fold's FAR = 1e-3 threshold), and the false accept
    and false reject rates at each fold's accuracy threshold, of each group's pairs
    (largest group first), with 95 % Wilson intervals."""
    if not report.pair_list:
        raise DataError("this LFW report keeps no pair list")
    labels = np.array(pair_groups(report, groups, per_image))
    if (labels == UNLABELLED).all():
        raise DataError("no pair has both identities in the groups file; check the names "
                        "(LFW spells them First_Last)")
    r = report.result
    ids = sorted(set(report.folds.tolist()))
    far_t = np.zeros(len(labels))
    acc_t = np.zeros(len(labels))
    for fold, t, ta in zip(ids, r.far_thresholds, r.thresholds):
        far_t[report.folds == fold] = t
        acc_t[report.folds == fold] = ta
    accepted = report.distances <= far_t
    accepted_acc = report.distances <= acc_t
    out = []
    for g in sorted(set(labels.tolist()), key=lambda g: (-int((labels == g).sum()), g)):
        m = labels == g
        same, diff = m & report.same, m & ~report.same
        correct = int(r.correct[m].sum())
        val, val_ci = _rate(accepted[same])
        far, far_ci = _rate(accepted[diff])
        fa, fa_ci = _rate(accepted_acc[diff])
        fr, fr_ci = _rate(~accepted_acc[same])
        out.append(GroupResult(
            g, int(m.sum()), int(same.sum()), int(diff.sum()), correct / int(m.sum()),
            wilson(correct, int(m.sum())), val, far, val_ci, far_ci, fa, fa_ci, fr, fr_ci))
    return out
