"""Which OpenCV Haar cascade and neighbour grouping to use by default.

For each cascade file and ``minNeighbors``, prints recall at IoU >= 0.4 and
false positives on the 43 hand-boxed faces of ../shared/data/photos, and the
detections on dogs.jpg (which has no human face).

    python benchmarks/haar_settings.py [--data ../shared/data/photos]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from faceprint import load_image
from faceprint.eval.detection import match_boxes, read_dlib_xml
from faceprint.types import Box


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=Path(__file__).parents[1] / "../shared/data/photos",
                        type=Path)
    args = parser.parse_args()
    truth = read_dlib_xml(args.data / "training.xml")
    truth.update(read_dlib_xml(args.data / "testing.xml"))

    def gray(path: Path) -> np.ndarray:
        return cv2.equalizeHist(cv2.cvtColor(load_image(path), cv2.COLOR_RGB2GRAY))

    images = {p: gray(p) for p in truth}
    dogs = gray(args.data / "dogs.jpg")
    print(f"{'cascade':10} {'neighbours':>10} {'recall':>7} {'false+':>7} {'dogs':>5}")
    for name in ("default", "alt", "alt2"):
        folder = cv2.data.haarcascades  # type: ignore[attr-defined]
        cascade = cv2.CascadeClassifier(f"{folder}haarcascade_frontalface_{name}.xml")
        for neighbours in (3, 4, 5, 6):
            total = None
            for path, boxes in truth.items():
                found = cascade.detectMultiScale(images[path], 1.1, neighbours, minSize=(20, 20))
                count = match_boxes([Box(*map(float, b)) for b in np.reshape(found, (-1, 4))],
                                    boxes, 0.4)
                total = count if total is None else total + count
            on_dogs = len(np.reshape(cascade.detectMultiScale(dogs, 1.1, neighbours,
                                                              minSize=(20, 20)), (-1, 4)))
            assert total is not None
            print(f"{name:10} {neighbours:>10} {total.recall:>7.3f} {total.false_positives:>7} "
                  f"{on_dogs:>5}")


if __name__ == "__main__":
    main()
