"""faceprint.dlibdnn: dlib's own networks read, converted to ONNX and run with ONNX
Runtime give dlib's results.

Every comparison runs dlib itself on real images (scikit-image's astronaut, LFW, the
detection photos in ../shared/data); nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import require_module
from faceprint.errors import ModelError, UnknownNameError

dlib = require_module("dlib")
require_module("onnxruntime")

from faceprint.dlibdnn import OnnxMmod, OnnxResnet, onnx_model_path  # noqa: E402
from faceprint.dlibdnn.cache import CACHE_ENV, convert_cached  # noqa: E402
from faceprint.dlibdnn.reader import Conv, Fc, LossMetric, LossMmod, read_dlib_net  # noqa: E402
from faceprint.weights import weight_path  # noqa: E402

#: largest accepted difference between an ONNX and a dlib descriptor element
DESCRIPTOR_TOL = 1e-4
#: number of LFW faces the acceptance test compares
LFW_FACES = 1000


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Convert into a throw-away cache, never into the user's."""
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("onnx-cache"))
    yield
    if old is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = old


@pytest.fixture(scope="module")
def dlib_resnet() -> object:
    return dlib.face_recognition_model_v1(str(weight_path("dlib-resnet")))


@pytest.fixture(scope="module")
def onnx_resnet() -> OnnxResnet:
    return OnnxResnet()


@pytest.fixture(scope="module")
def chipper() -> object:
    """``chipper(img, upsample)``: the 150x150 chip of the first HOG face of ``img``
    (``dlib.get_face_chip`` with the 5-point shape predictor), or None."""
    detector = dlib.get_frontal_face_detector()
    sp5 = dlib.shape_predictor(str(weight_path("dlib-sp5")))

    def chip(img: np.ndarray, upsample: int = 0) -> np.ndarray | None:
        boxes = detector(img, upsample)
        if len(boxes) == 0:
            return None
        return np.asarray(dlib.get_face_chip(img, sp5(img, boxes[0]), 150, 0.25))

    return chip


def _dlib_descriptors(model: object, chips: np.ndarray) -> np.ndarray:
    out = model.compute_face_descriptor(list(chips))  # type: ignore[attr-defined]
    return np.asarray([np.asarray(v) for v in out], dtype=np.float32)


def _load_rgb(path: Path) -> np.ndarray:
    return np.asarray(dlib.load_rgb_image(str(path)))


# --------------------------------------------------------------------------- reader


def test_reader_parses_the_resnet_layer_graph() -> None:
    net = read_dlib_net(weight_path("dlib-resnet"))
    convs = [layer for layer in net.layers if isinstance(layer, Conv)]
    assert len(convs) == 29
    assert convs[0].weight.shape == (32, 3, 7, 7) and convs[0].stride == (2, 2)
    assert isinstance(net.layers[-1], Fc) and net.layers[-1].weight.shape == (256, 128)
    assert net.input.kind == "rgb_image_sized" and net.input.size == (150, 150)
    np.testing.assert_allclose(net.input.mean_rgb, (122.782, 117.001, 104.298), atol=1e-4)
    assert isinstance(net.loss, LossMetric)


def test_reader_parses_the_mmod_options() -> None:
    net = read_dlib_net(weight_path("dlib-mmod"))
    assert net.input.kind == "rgb_image_pyramid"
    assert isinstance(net.loss, LossMmod)
    windows = net.loss.options.detector_windows
    assert [(w.width, w.height) for w in windows] == [(80, 80)]
    assert sum(isinstance(layer, Conv) for layer in net.layers) == 7


@pytest.mark.parametrize("damage", ["truncated", "random", "empty", "bad-version",
                                    "trailing-bytes"])
def test_garbled_dat_file_gives_model_error(tmp_path: Path, damage: str) -> None:
    good = weight_path("dlib-mmod").read_bytes()
    bad = {
        "truncated": good[: len(good) // 3],
        "random": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "empty": b"",
        "bad-version": b"\x01\x07" + good[2:],
        "trailing-bytes": good + b"\x00\x01",
    }[damage]
    path = tmp_path / "garbled.dat"
    path.write_bytes(bad)
    with pytest.raises(ModelError):
        read_dlib_net(path)
    with pytest.raises(ModelError):
        convert_cached(path)


def test_missing_dat_file_gives_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        read_dlib_net(tmp_path / "nope.dat")


def test_unknown_model_key_is_rejected() -> None:
    with pytest.raises(UnknownNameError):
        onnx_model_path("dlib-sp5")


# --------------------------------------------------------------------------- cache


def test_cache_reuses_the_converted_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    first = onnx_model_path("dlib-mmod")
    before = first.stat()
    second = onnx_model_path("dlib-mmod")
    after = second.stat()
    assert first == second and first.is_relative_to(tmp_path)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name]  # no temp files


def test_cache_reconverts_when_the_key_changes(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    source = tmp_path / "mmod.dat"
    shutil.copyfile(weight_path("dlib-mmod"), source)
    original = convert_cached(source)

    # a new converter version is a new key
    bumped = convert_cached(source, converter_version=10_000)
    assert bumped != original and bumped.is_file() and original.is_file()

    # so are new weights: flip the lowest bit of one float32 weight (in the middle of
    # the fifth convolution's filters) of the same file
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0x01
    source.write_bytes(bytes(data))
    os.utime(source, ns=(original.stat().st_mtime_ns + 10**9,) * 2)
    changed = convert_cached(source)
    assert changed != original and changed.is_file()
    assert changed.read_bytes() != original.read_bytes()
    assert convert_cached(source) == changed


# --------------------------------------------------------------------------- ResNet


def test_resnet_descriptor_equals_dlib_on_the_astronaut(
        astronaut: np.ndarray, chipper: object, dlib_resnet: object,
        onnx_resnet: OnnxResnet) -> None:
    chip = chipper(astronaut, 1)  # type: ignore[operator]
    assert chip is not None, "dlib's HOG detector finds no face in the astronaut photo"
    ours = onnx_resnet(chip[None])
    theirs = _dlib_descriptors(dlib_resnet, chip[None])
    assert ours.shape == (1, 128) and ours.dtype == np.float32
    print(f"astronaut: largest abs difference {np.abs(ours - theirs).max():.3g}")
    assert np.abs(ours - theirs).max() < DESCRIPTOR_TOL
    # a single chip and a batch give the same numbers
    np.testing.assert_allclose(onnx_resnet(chip)[0], ours[0], atol=1e-6)
    np.testing.assert_allclose(onnx_resnet(np.stack([chip] * 3))[2], ours[0], atol=1e-5)


def test_resnet_rejects_wrong_chips(onnx_resnet: OnnxResnet) -> None:
    from faceprint.errors import ImageError

    with pytest.raises(ImageError):
        onnx_resnet(np.zeros((1, 100, 100, 3), np.uint8))
    with pytest.raises(ImageError):
        onnx_resnet(np.zeros((1, 150, 150, 3), np.float32))
    assert onnx_resnet(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)


@pytest.mark.data
@pytest.mark.slow  # 453 s on the shared 2-core machine under load (pytest --durations)
def test_resnet_descriptors_equal_dlib_on_1000_lfw_faces(
        lfw_dir: Path, chipper: object, dlib_resnet: object, onnx_resnet: OnnxResnet) -> None:
    images = sorted((lfw_dir / "images").glob("*/*.jpg"))
    assert len(images) >= 2 * LFW_FACES, f"too few LFW images in {lfw_dir}"
    # spread over the whole alphabet of names, deterministic
    candidates = [images[i] for i in np.linspace(0, len(images) - 1, 2 * LFW_FACES).astype(int)]
    chips = []
    for path in candidates:
        chip = chipper(_load_rgb(path), 0)  # type: ignore[operator]
        if chip is not None:
            chips.append(chip)
        if len(chips) == LFW_FACES:
            break
    assert len(chips) == LFW_FACES
    batch = np.stack(chips)
    ours = onnx_resnet(batch)
    theirs = _dlib_descriptors(dlib_resnet, batch)
    diff = np.abs(ours - theirs).max(axis=1)
    print(f"LFW: {LFW_FACES} faces, largest abs difference {diff.max():.3g}, "
          f"median per face {np.median(diff):.3g}")
    assert diff.max() < DESCRIPTOR_TOL, f"worst face differs by {diff.max():.2e}"


# --------------------------------------------------------------------------- MMOD


def _assert_same_detections(ours: list, theirs: object, what: str) -> None:
    mine = sorted((tuple(int(v) for v in box), score) for box, score in ours)
    ref = sorted(((d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()),
                  d.confidence) for d in theirs)  # type: ignore[attr-defined]
    assert len(mine) == len(ref), f"{what}: {len(mine)} faces, dlib finds {len(ref)}"
    box_diff, score_diff = 0, 0.0
    for (box, score), (rbox, rscore) in zip(mine, ref, strict=True):
        box_diff = max(box_diff, *(abs(a - b) for a, b in zip(box, rbox, strict=True)))
        score_diff = max(score_diff, abs(score - rscore))
        assert box_diff <= 1, f"{what}: box {box} vs dlib {rbox}"
        assert score_diff < 1e-3, f"{what}: confidence {score} vs dlib {rscore}"
    print(f"{what}: {len(mine)} faces, largest box difference {box_diff} px, "
          f"largest confidence difference {score_diff:.2g}")


@pytest.fixture(scope="module")
def dlib_mmod() -> object:
    return dlib.cnn_face_detection_model_v1(str(weight_path("dlib-mmod")))


@pytest.fixture(scope="module")
def onnx_mmod() -> OnnxMmod:
    return OnnxMmod()


def test_mmod_equals_dlib_on_the_astronaut(astronaut: np.ndarray, dlib_mmod: object,
                                           onnx_mmod: OnnxMmod) -> None:
    ours = onnx_mmod.detect(astronaut)
    assert len(ours) == 1
    _assert_same_detections(ours, dlib_mmod(astronaut, 0), "astronaut")  # type: ignore[operator]


@pytest.mark.data
@pytest.mark.slow  # 91 s on the shared 2-core machine under load (pytest --durations)
def test_mmod_boxes_equal_dlib_on_every_photo(photos_dir: Path, dlib_mmod: object,
                                              onnx_mmod: OnnxMmod) -> None:
    photos = sorted(photos_dir.glob("*.jpg"))
    assert photos, f"no photos in {photos_dir}"
    found = 0
    for path in photos:
        img = _load_rgb(path)
        ours = onnx_mmod.detect(img, 0)
        _assert_same_detections(ours, dlib_mmod(img, 0), path.name)  # type: ignore[operator]
        found += len(ours)
    assert found > 0


@pytest.mark.data
def test_mmod_equals_dlib_after_upsampling(photos_dir: Path, dlib_mmod: object,
                                           onnx_mmod: OnnxMmod) -> None:
    path = photos_dir / "2008_002470.jpg"  # six small faces that need one upsampling
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    img = _load_rgb(path)
    ours = onnx_mmod.detect(img, 1)
    assert len(ours) >= 5
    _assert_same_detections(ours, dlib_mmod(img, 1), path.name)  # type: ignore[operator]


def test_mmod_takes_grayscale_and_rejects_other_arrays(astronaut: np.ndarray,
                                                       onnx_mmod: OnnxMmod) -> None:
    from faceprint.errors import ImageError

    gray = np.ascontiguousarray(astronaut[:, :, 1])
    assert len(onnx_mmod.detect(gray)) == 1
    with pytest.raises(ImageError):
        onnx_mmod.detect(astronaut.astype(np.float32))
    assert onnx_mmod.detect(np.zeros((3, 3, 3), np.uint8)) == []


# --------------------------------------------------------------------------- providers


class _AsIfOnCuda:
    """A real CPU session that reports CUDA first: run_batches then takes its CUDA path
    (padding to fixed batch sizes, one session per size), whose arithmetic is the CPU's.
    The GPU itself is checked by benchmarks/gpu_check.py on a machine that has one."""

    def __init__(self, session: object) -> None:
        self.session = session

    def get_providers(self) -> list[str]:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    def run(self, names: object, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(names, feed)  # type: ignore[attr-defined]


def test_cuda_batches_are_padded_to_fixed_sizes_without_changing_a_result(
        astronaut: np.ndarray, onnx_resnet: OnnxResnet) -> None:
    from faceprint.runtime import CUDA_BATCH_SIZES, run_batches

    rng = np.random.default_rng(0)
    chip = astronaut[100:250, 150:300]
    chips = np.stack([np.roll(chip, int(s), axis=1) for s in rng.integers(0, 40, 37)])
    plain = onnx_resnet(chips)
    seen: list[int | None] = []

    def session_for(size: int | None) -> _AsIfOnCuda:
        seen.append(size)
        return _AsIfOnCuda(onnx_resnet.session)

    sizes = []
    for batch_size in (16, 5):
        seen.clear()
        padded = run_batches(session_for, "chips", chips, batch_size)
        np.testing.assert_allclose(padded, plain, atol=1e-5)
        sizes.append([s for s in seen if s is not None])
    assert sizes[0] == [16, 16, 16]  # 37 = 16 + 16 + 5, the last padded to 16
    assert sizes[1] == [5] * 7 + [4]  # 37 = 7 x 5 + 2, the last padded to 4
    assert set(CUDA_BATCH_SIZES) >= {1, 4, 16}


def test_auto_warns_when_a_gpu_is_present_but_onnxruntime_has_no_cuda(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    from faceprint.runtime import onnxrt as runtime

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    assert runtime.resolve_providers("auto") == ["CPUExecutionProvider"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not runtime.gpu_present()
    # as on a machine with an NVIDIA driver (seen by benchmarks/gpu_check.py on an H200)
    monkeypatch.setattr(runtime, "gpu_present", lambda: True)
    with pytest.warns(RuntimeWarning, match="NVIDIA GPU is present but this onnxruntime"):
        assert runtime.resolve_providers("auto") == ["CPUExecutionProvider"]
    with pytest.warns(RuntimeWarning, match="CUDAExecutionProvider was requested"):
        assert runtime.resolve_providers("cuda") == ["CPUExecutionProvider"]
