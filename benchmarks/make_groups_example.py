"""Write an example groups file for ``faceprint eval bias`` / ``eval report --groups``.

LFW carries no demographic labels and faceprint does not guess them from faces
or names. This example is a *null control*: every LFW identity is put in group
``A-M`` or ``N-Z`` by the first letter of its name, a split that has nothing to
do with how a face looks, so any accuracy difference between the two groups
shows how large chance differences are at this number of pairs. Replace it
with labels you have the right to use (self-reported, or from an annotated
attribute set) to measure a real bias; the format is the same::

    identity,group
    Aaron_Eckhart,A-M

Usage::

    python benchmarks/make_groups_example.py --out build/groups-example.csv
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from faceprint.datasets.lfw import read_people

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("FACEPRINT_DATA", ROOT.parent / "shared" / "data")) / "lfw"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="LFW folder")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "groups-example.csv")
    args = ap.parse_args(argv)
    names = sorted(n for s in read_people(args.data / "people.txt") for n, _ in s)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{n},{'A-M' if n[0].upper() <= 'M' else 'N-Z'}" for n in names]
    args.out.write_text("identity,group\n" + "\n".join(rows) + "\n")
    print(f"wrote {args.out}: {len(rows)} identities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
