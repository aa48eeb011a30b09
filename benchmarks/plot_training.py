"""Draw training runs' loss and validation accuracy (from their ``log.csv``) into one
small PNG, e.g. for docs/images/.

    python benchmarks/plot_training.py --out docs/images/training-view1.png \
        triplet=runs/triplet/log.csv distilled=runs/distill/log.csv
"""

from __future__ import annotations

import argparse


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=LOG.csv")
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="")
    args = ap.parse_args()

    from faceprint.train.plot import plot_runs

    logs = dict(item.split("=", 1) for item in args.runs)
    print(f"wrote {plot_runs(logs, args.out, title=args.title)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
