"""Decoding and validating images.

Everything downstream works on one kind of array: RGB, ``uint8``, shape
``(height, width, 3)``, C-contiguous. :func:`load_image` turns paths, bytes,
numpy arrays and PIL images into that, applies the EXIF orientation, and
refuses files that are missing, unreadable, truncated, not images, or larger
than a pixel limit (a guard against decompression bombs).
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

#: Default limit on width * height (about 8,000 x 5,000): larger images are refused.
DEFAULT_MAX_PIXELS = 40_000_000

ImageInput = str | os.PathLike[str] | bytes | bytearray | memoryview | np.ndarray | Image.Image


def load_image(source: ImageInput, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Return ``source`` as an RGB ``uint8`` array of shape ``(height, width, 3)``.

    ``source`` may be a path, the encoded bytes of a file (JPEG, PNG, BMP, GIF -
    first frame -, WebP, PGM/PPM, TIFF), a numpy array (grayscale ``(H, W)``,
    ``(H, W, 1)``, RGB or RGBA; ``uint8``, ``uint16`` or float in ``[0, 1]``) or
    a PIL image. Raises :class:`ImageError`, naming the file, on any failure.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, "array", max_pixels)
    if isinstance(source, Image.Image):
        return _from_pil(source, "PIL image", max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(io.BytesIO(bytes(source)), "image bytes", max_pixels)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageError(f"{path}: no such file")
        if path.is_dir():
            raise ImageError(f"{path}: is a directory, not an image")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        return _decode(io.BytesIO(data), str(path), max_pixels)
    raise ImageError(f"cannot load an image from a {type(source).__name__}")


def _decode(stream: io.BytesIO, name: str, max_pixels: int) -> np.ndarray:
    if stream.getbuffer().nbytes == 0:
        raise ImageError(f"{name}: empty file")
    with warnings.catch_warnings():
        # PIL warns (DecompressionBombWarning) before our own limit applies.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(stream)
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not an image file (unknown format)") from None
        except Image.DecompressionBombError as exc:
            raise ImageError(f"{name}: too many pixels ({exc})") from None
        except OSError as exc:
            raise ImageError(f"{name}: cannot decode ({exc})") from None
        _check_size(img.width, img.height, name, max_pixels)
        try:
            img.seek(0)  # first frame of animated GIF/WebP
            img.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{name}: truncated or corrupt image ({exc})") from None
    return _from_pil(img, name, max_pixels)


def _check_size(width: int, height: int, name: str, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: image has {width}x{height} = {width * height:,} pixels, "
            f"over the limit of {max_pixels:,}")


def _from_pil(img: Image.Image, name: str, max_pixels: int) -> np.ndarray:
    _check_size(img.width, img.height, name, max_pixels)
    with contextlib.suppress(Exception):  # a broken EXIF block should not lose the picture
        img = ImageOps.exif_transpose(img) or img
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit integer) grayscale: scale the full range to 8 bits.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "F":
        return _from_array(np.asarray(img, dtype=np.float32), name, max_pixels)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Composite transparent pixels onto white, as a viewer shows them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    rgb = img.convert("RGB")  # handles L, P, CMYK, YCbCr, 1, ...
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _from_array(arr: np.ndarray, name: str, max_pixels: int) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array, "
                         f"got shape {arr.shape}")
    _check_size(arr.shape[1], arr.shape[0], name, max_pixels)
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.uint16:
        out = (arr.astype(np.float64) / 65535.0 * 255.0 + 0.5).astype(np.uint8)
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ImageError(f"{name}: array holds NaN or infinite values")
        scale = 255.0 if float(arr.max(initial=0.0)) <= 1.0 else 1.0
        out = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        out = np.clip(arr, 0, 255).astype(np.uint8)
    else:
        raise ImageError(f"{name}: unsupported array type {arr.dtype}")
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    elif out.shape[2] == 4:
        alpha = out[:, :, 3:4].astype(np.float32) / 255.0
        out = (out[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(out)


def to_gray(image: np.ndarray) -> np.ndarray:
    """An RGB ``uint8`` image as 8-bit grayscale (ITU-R 601 luma)."""
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
