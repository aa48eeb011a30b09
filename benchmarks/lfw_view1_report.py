"""Score exported models on LFW View 1's test pairs (``pairsDevTest.txt``, people
disjoint from ``peopleDevTrain.txt``) through ``faceprint eval lfw``'s own path, at the
threshold stored in each model (calibrated on ``pairsDevTrain.txt`` by ``faceprint
export --pairs``) and at the test file's own best threshold.

    python benchmarks/lfw_view1_report.py --data ../shared/data/lfw \
        --json build/view1.json triplet.onnx distilled.onnx
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="exported .onnx files")
    ap.add_argument("--data", default="../shared/data/lfw", help="LFW folder")
    ap.add_argument("--pairs", help="pairs file (default DATA/pairsDevTest.txt)")
    ap.add_argument("--detector", default="hog")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--flip", action="store_true", help="average with the mirrored face")
    ap.add_argument("--cache", action="store_true",
                    help="cache the embeddings (only for models at new paths)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    from faceprint.train.report import pairs_report

    pairs = args.pairs or str(Path(args.data) / "pairsDevTest.txt")
    results = []
    for model in args.models:
        r = pairs_report(model, args.data, pairs, detector=args.detector,
                         workers=args.workers, flip=args.flip, use_cache=args.cache)
        results.append(r)
        print(f"{Path(model).name}: {r['pairs_file']} accuracy "
              f"{100 * r['accuracy_at_stored_threshold']:.2f} % at the stored threshold "
              f"{r['stored_threshold']:.4f} ({r['metric']}, from "
              f"{(r['calibration'] or {}).get('source')}), "
              f"{100 * r['accuracy_at_own_best_threshold']:.2f} % at its own best; "
              f"VAL@FAR=1e-3 {100 * r['val_at_far_1e-3']:.1f} %, AUC {r['auc']:.4f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
