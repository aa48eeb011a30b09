"""Image degradations for robustness sweeps (FaceNet's Table 4): JPEG
re-encoding at a given quality, and resampling so that the face holds a given
number of pixels.

``jpeg Q``
    The decoded image is encoded again as JPEG at quality Q (Pillow, 4:2:0
    chroma subsampling) and decoded.

``pixels N``
    The image is resized (area averaging when shrinking, bicubic when
    enlarging) so that the face - LFW's centred face box, 109 x 108 pixels of
    a 250 x 250 image, :data:`FACE_BOX_FRACTION` of the image's area - holds
    N pixels, then resized back to its original size (bicubic), so that
    detection and alignment run at the usual geometry on an image that only
    carries N pixels of detail on the face. LFW's faces hold about 11,800
    pixels, so N above that cannot add detail: those rows measure the
    resampling alone.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import UsageError

#: LFW's centred face box (109 x 108 on 250 x 250) as a fraction of the image's area
FACE_BOX_FRACTION = (109 * 108) / (250 * 250)

Kind = Literal["jpeg", "pixels"]
KINDS: tuple[Kind, ...] = ("jpeg", "pixels")


@dataclass(frozen=True, slots=True)
class Degradation:
    """One degradation: ``jpeg`` at quality ``value`` (1-95), or ``pixels``: the face
    resampled to ``value`` pixels (e.g. 1600 for 40 x 40)."""

    kind: Kind
    value: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown degradation {self.kind!r}; choose one of "
                             f"{', '.join(KINDS)}")
        if self.kind == "jpeg" and not 1 <= self.value <= 100:
            raise UsageError(f"JPEG quality must be 1..100, got {self.value}")
        if self.kind == "pixels" and self.value < 16:
            raise UsageError(f"a face needs at least 16 pixels, got {self.value}")

    @property
    def label(self) -> str:
        if self.kind == "jpeg":
            return f"JPEG q{self.value}"
        side = math.sqrt(self.value)
        return f"{self.value:,} px ({side:.0f}x{side:.0f})"

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The degraded copy of an RGB uint8 image (same shape)."""
        if self.kind == "jpeg":
            return jpeg(image, self.value)
        return face_pixels(image, self.value)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` encoded as JPEG at ``quality`` and decoded again."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as img:
        return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def face_pixels(image: np.ndarray, pixels: int,
                face_fraction: float = FACE_BOX_FRACTION) -> np.ndarray:
    """``image`` resampled so that a face covering ``face_fraction`` of its area holds
    ``pixels`` pixels, then brought back to its size (see the module docstring)."""
    import cv2

    h, w = image.shape[:2]
    scale = math.sqrt(pixels / (face_fraction * w * h))
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    if (sw, sh) == (w, h):
        return image.copy()
    small = cv2.resize(image, (sw, sh),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(out)


def parse_levels(kind: Kind, text: str) -> list[Degradation]:
    """``"10,20,30"`` -> the degradations of that kind at those values."""
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--{kind} takes integers like 10,20,30; got {text!r}") from None
    return [Degradation(kind, v) for v in values]
