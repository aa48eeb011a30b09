"""Where the blur limit of faceprint.attributes.quality comes from: the variance of
the Laplacian of real LFW faces, sharp and under Gaussian blurs whose sigma is a
share of the face's width (the blurred photo is detected again).

    PYTHONPATH=src nice -n 5 python benchmarks/quality_calibrate.py --count 100
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import cv2

    from faceprint.attributes.base import FaceCrops
    from faceprint.attributes.quality import LIMITS, measure
    from faceprint.image import load_image
    from faceprint.registry import create_detector

    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", default="../shared/data/lfw/images")
    ap.add_argument("--count", type=int, default=100)
    args = ap.parse_args(argv)
    det = create_detector()
    files = sorted(Path(args.lfw).glob("*/*.jpg"))
    files = files[:: max(1, len(files) // args.count)][: args.count]
    shares = (0.0, 0.015, 0.03, 0.045)
    blur: dict[float, list[float]] = {s: [] for s in shares}
    for p in files:
        image = load_image(p)
        faces = det.detect(image)
        if not faces:
            continue
        width = max(faces, key=lambda f: f.box.area).box.width
        for s in shares:
            im = cv2.GaussianBlur(image, (0, 0), s * width) if s else image
            found = det.detect(im)
            if not found:
                continue
            face = max(found, key=lambda f: f.box.area)
            blur[s].append(float(measure(FaceCrops(im, [face]))
                                 [0]["blur"] or 0.0))
    for s, v in blur.items():
        a = np.array(v)
        pct = np.percentile(a, [5, 25, 50, 75, 95]).round(1)
        print(f"sigma {s * 100:.1f} % of face width: {len(a)} faces, variance of Laplacian "
              f"5/25/50/75/95th percentiles {pct.tolist()}, below the limit "
              f"{LIMITS['min_blur']:.0f}: {np.mean(a < LIMITS['min_blur']) * 100:.0f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
