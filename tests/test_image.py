"""load_image: every supported input kind and format becomes RGB uint8; every
bad input raises ImageError naming the file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceprint import ImageError, load_image


@pytest.fixture(scope="module")
def photo(astronaut: np.ndarray) -> np.ndarray:
    return astronaut[::4, ::4].copy()  # 128 x 128, quick to encode


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "PPM", "TIFF", "WEBP"])
def test_lossless_formats_round_trip(photo: np.ndarray, fmt: str) -> None:
    data = _encode(Image.fromarray(photo), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    out = load_image(data)
    assert out.dtype == np.uint8 and out.shape == photo.shape
    assert np.array_equal(out, photo)


def test_jpeg_from_path_bytes_pil_and_array(photo: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    Image.fromarray(photo).save(path, quality=95)
    from_path = load_image(path)
    assert np.array_equal(from_path, load_image(str(path)))
    assert np.array_equal(from_path, load_image(path.read_bytes()))
    assert np.array_equal(from_path, load_image(Image.open(path)))
    assert np.array_equal(from_path, load_image(from_path))
    assert np.abs(from_path.astype(int) - photo).mean() < 4  # JPEG loss only


def test_pgm_grayscale_becomes_three_equal_channels(photo: np.ndarray) -> None:
    gray = Image.fromarray(photo).convert("L")
    out = load_image(_encode(gray, "PPM"))  # PIL writes L images as PGM
    assert out.shape == (*photo.shape[:2], 3)
    assert np.array_equal(out[..., 0], np.asarray(gray))
    assert np.array_equal(out[..., 0], out[..., 2])


def test_gif_first_frame(photo: np.ndarray) -> None:
    frames = [Image.fromarray(photo).convert("P"), Image.new("P", photo.shape[1::-1], 0)]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = load_image(data)
    assert out.shape == photo.shape
    assert out.std() > 20  # the photo, not the blank second frame


def test_exif_orientation_is_applied(photo: np.ndarray) -> None:
    img = Image.fromarray(photo[:, :100])  # 128 high, 100 wide
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    out = load_image(_encode(img, "JPEG", exif=exif.tobytes()))
    assert out.shape[:2] == (100, 128)


def test_rgba_palette_16bit_cmyk(photo: np.ndarray) -> None:
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    assert np.array_equal(load_image(rgba), photo)
    transparent = rgba.copy()
    transparent[..., 3] = 0
    assert (load_image(_encode(Image.fromarray(transparent), "PNG")) == 255).all()  # on white
    pal = Image.fromarray(photo).convert("P")
    assert load_image(_encode(pal, "PNG")).shape == photo.shape
    gray16 = (np.asarray(Image.fromarray(photo).convert("L"), dtype=np.uint16) * 257)
    out16 = load_image(_encode(Image.fromarray(gray16), "PNG"))
    assert np.abs(out16[..., 0].astype(int) - gray16 // 257).max() <= 1
    cmyk = Image.fromarray(photo).convert("CMYK")
    out_cmyk = load_image(_encode(cmyk, "JPEG", quality=95))
    assert out_cmyk.shape == photo.shape and np.abs(out_cmyk.astype(int) - photo).mean() < 10
    assert np.array_equal(load_image(photo.astype(np.float32) / 255.0), photo)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="nope.jpg: no such file"):
        load_image(tmp_path / "nope.jpg")


def test_non_image_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n")
    with pytest.raises(ImageError, match="notes.jpg: not an image"):
        load_image(path)


def test_empty_file_and_directory(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty file"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_truncated_jpeg(photo: np.ndarray, tmp_path: Path) -> None:
    data = _encode(Image.fromarray(photo), "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.jpg: truncated or corrupt"):
        load_image(path)


def test_pixel_limit_refuses_decompression_bombs(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (4000, 3000)).save(path)  # 12 Mpx, compresses to a few kB
    assert path.stat().st_size < 100_000
    with pytest.raises(ImageError, match="big.png: image has 4000x3000 = 12,000,000 pixels"):
        load_image(path, max_pixels=10_000_000)
    assert load_image(path, max_pixels=12_000_000).shape == (3000, 4000, 3)


def test_bad_arrays() -> None:
    with pytest.raises(ImageError, match="expected an"):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((4, 4), np.nan, np.float32))
    with pytest.raises(ImageError, match="cannot load an image from a int"):
        load_image(3)  # type: ignore[arg-type]
