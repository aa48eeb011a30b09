"""Training on a small real subset of LFW (View 1 training people): the loss falls, a
resumed run continues exactly where it stopped, and the exported ONNX model gives the
checkpoint's embeddings. Tiny networks (32 x 32 chips) keep it to seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import require_module

torch = require_module("torch")

from faceprint.align import ChipSpec  # noqa: E402
from faceprint.datasets.folders import scan_identities  # noqa: E402
from faceprint.datasets.lfw import people_names  # noqa: E402
from faceprint.train.data import FaceSet, holdout_split, load_faces  # noqa: E402
from faceprint.train.loop import Prepared, TrainConfig, Trainer, embed, resume  # noqa: E402
from faceprint.train.losses import squared_distances  # noqa: E402
from faceprint.train.nets import NetConfig  # noqa: E402

pytestmark = pytest.mark.data
SIZE = 32
NET = NetConfig("mobilefacenet", SIZE, 64, width=0.25, depth=0.5)


@pytest.fixture(scope="module")
def faces(lfw_dir: Path) -> FaceSet:
    """Ten people of peopleDevTrain with 5 to 8 images each and six with one image:
    their chips, cut by faceprint (hog + dlib5 alignment), with dlib-resnet's
    embeddings of the same faces."""
    paths, names, labels = scan_identities(lfw_dir, people_names(lfw_dir /
                                                                 "peopleDevTrain.txt"))
    counts = np.bincount(labels)
    multi = [i for i in np.flatnonzero((counts >= 5) & (counts <= 8))[:10]]
    single = [i for i in np.flatnonzero(counts == 1)[:6]]
    keep_ids = multi + single
    index = [i for i, lab in enumerate(labels) if lab in keep_ids]
    relabel = {old: new for new, old in enumerate(keep_ids)}
    return load_faces([paths[i] for i in index],
                      np.array([relabel[labels[i]] for i in index]),
                      [names[i] for i in keep_ids], ChipSpec(SIZE, "dlib5", 0.25),
                      teacher="dlib-resnet", use_cache=False, progress=False)


def config(tmp: Path, **changes: object) -> TrainConfig:
    base = TrainConfig(data="unused", out=str(tmp), net=NET, loss="triplet",
                       mining="batchhard", p=4, k=4, extra=4, epochs=12, lr=5e-3,
                       warmup_epochs=0.5, holdout=0.2, seed=1, augment=False, threads=1,
                       progress=False)
    return replace(base, **changes)  # type: ignore[arg-type]


def prepared(faces: FaceSet, seed: int = 1) -> Prepared:
    train, val = holdout_split(faces, 0.2, seed)
    return Prepared(train, val, None)


def all_triplet_loss(net: torch.nn.Module, faces: FaceSet, margin: float = 0.2) -> float:
    """The mean triplet hinge over every valid triplet of the set (eval mode)."""
    e = torch.from_numpy(embed(net, faces.chips, torch.device("cpu")))
    d = squared_distances(e)
    lab = torch.from_numpy(faces.labels)
    counts = np.bincount(faces.labels)
    ok = torch.from_numpy(counts[faces.labels] >= 2)
    pos = (lab[:, None] == lab[None, :]) & ~torch.eye(len(lab), dtype=torch.bool) & ok[:, None]
    neg = lab[:, None] != lab[None, :]
    hinge = torch.relu(d[:, :, None] - d[:, None, :] + margin)
    mask = pos[:, :, None] & neg[:, None, :]
    return float(hinge[mask].mean())


def test_chips_and_teacher_embeddings_of_a_real_subset(faces: FaceSet) -> None:
    assert faces.chips.shape[1:] == (SIZE, SIZE, 3) and faces.chips.dtype == np.uint8
    assert len(faces) >= 56 and faces.found.mean() > 0.9
    assert faces.teacher is not None and faces.teacher_flip is not None
    np.testing.assert_allclose(np.linalg.norm(faces.teacher, axis=1), 1.0, atol=1e-5)
    # the teacher says the same person's faces are nearer than other people's
    t = faces.teacher
    d = ((t[:, None] - t[None]) ** 2).sum(-1)
    same = faces.labels[:, None] == faces.labels[None]
    off = ~np.eye(len(t), dtype=bool)
    assert d[same & off].mean() < 0.5 * d[~same].mean()


def test_triplet_loss_falls_on_real_faces(faces: FaceSet, tmp_path: Path) -> None:
    trainer = Trainer(config(tmp_path), prepared(faces), log=lambda _: None)
    train = trainer.data.train
    before = all_triplet_loss(trainer.net, train)
    trainer.fit()
    after = all_triplet_loss(trainer.net, train)
    losses = [row["loss"] for row in trainer.history]
    assert after < 0.6 * before, (before, after)
    assert np.mean(losses[-3:]) < losses[0]
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert len(log) == 13 and "val_acc" in log[0]
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()


def test_distillation_brings_the_student_towards_the_teacher(faces: FaceSet,
                                                             tmp_path: Path) -> None:
    cfg = config(tmp_path, loss="distill", teacher="dlib-resnet", batch_size=16, epochs=10,
                 net=replace(NET, dim=128))
    trainer = Trainer(cfg, prepared(faces), log=lambda _: None)
    trainer.fit()
    rows = trainer.history
    assert rows[-1]["distill"] < 0.8 * rows[0]["distill"], rows


def test_a_resumed_run_continues_where_it_stopped(faces: FaceSet, tmp_path: Path) -> None:
    data = prepared(faces)
    straight = Trainer(config(tmp_path / "a", epochs=3, augment=True), data,
                       log=lambda _: None)
    straight.fit()
    first = Trainer(config(tmp_path / "b", epochs=3, augment=True), data, log=lambda _: None)
    first.fit(until=2)  # as if the run had been stopped after its second epoch
    resumed = resume(tmp_path / "b" / "last.pt", data=data, log=lambda _: None)
    assert resumed.epoch == 2
    resumed.fit()
    a, b = straight.net.state_dict(), resumed.net.state_dict()
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
    assert worst < 1e-6
    assert [r["loss"] for r in straight.history] == pytest.approx(
        [r["loss"] for r in resumed.history], abs=1e-6)


def test_export_then_load_gives_the_checkpoint_embeddings(faces: FaceSet,
                                                          tmp_path: Path) -> None:
    from faceprint.cli import main
    from faceprint.embedders.onnx_model import OnnxEmbedder
    from faceprint.train.export import net_from_checkpoint
    from faceprint.train.loop import load_checkpoint

    trainer = Trainer(config(tmp_path, epochs=2), prepared(faces), log=lambda _: None)
    trainer.fit()
    model = tmp_path / "model.onnx"
    assert main(["export", str(tmp_path / "best.pt"), str(model), "--quiet"]) == 0
    state = load_checkpoint(tmp_path / "best.pt")
    net = net_from_checkpoint(state)
    want = embed(net, faces.chips, torch.device("cpu"))
    emb = OnnxEmbedder(model, threads=1)
    got = emb.embed_chips(faces.chips)
    assert float(np.abs(got - want).max()) < 1e-4
    assert emb.dim == 64 and emb.metric == "sqeuclidean" and emb.chip.size == SIZE
    assert emb.threshold == pytest.approx(state["threshold"], abs=1e-6)
    assert json.loads(emb.calibration and json.dumps(emb.calibration))["source"]
    # a checkpoint without a calibrated threshold needs --pairs: a usage error, exit 2
    state["threshold"] = None
    torch.save(state, tmp_path / "uncalibrated.pt")
    assert main(["export", str(tmp_path / "uncalibrated.pt"), str(tmp_path / "u.onnx"),
                 "--quiet"]) == 2
    assert not (tmp_path / "u.onnx").exists()


def test_without_torch_train_says_how_to_install_it_and_the_core_never_imports_it(
        ) -> None:
    code = ("import sys; sys.modules['torch'] = None\n"
            "import faceprint, faceprint.cli\n"
            "faceprint.cli.build_parser()\n"
            "sys.exit(faceprint.cli.main(['train', '--data', '.']))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1
    assert "pip install -c constraints.txt 'faceprint[train]'" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    probe = subprocess.run([sys.executable, "-c",
                            "import sys, faceprint, faceprint.cli; faceprint.cli.build_parser();"
                            " print('torch' in sys.modules)"],
                           capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == "False"


def test_views_perturb_the_student_and_teacher_chips_alike(faces: FaceSet) -> None:
    """teacher_views applies one draw to both chips of a face: the teacher's 150-pixel
    view, shrunk to the student's size, is the student's view (up to resampling), and
    the teacher's embedding of it stays near, but not at, its unaugmented embedding."""
    import cv2

    from faceprint.registry import create_embedder
    from faceprint.train.data import cut_chips, teacher_views

    teacher = create_embedder("dlib-resnet", threads=1)
    paths = faces.paths[:8]
    student, big = cut_chips(paths, [ChipSpec(SIZE, "dlib5", 0.25), teacher.chip],
                             progress=False)[0]
    views, targets = teacher_views(student, big, teacher, 3, seed=0, crop=0.08, rotate=8.0,
                                   colour=0.25, progress=False)
    assert views.shape == (8, 3, SIZE, SIZE, 3) and targets.shape == (8, 3, teacher.dim)
    # the same draws (same seed) replayed on the teacher's chips: the teacher's views
    big_views, again = teacher_views(big, big, teacher, 3, seed=0, crop=0.08, rotate=8.0,
                                     colour=0.25, progress=False)
    np.testing.assert_allclose(again, targets, atol=1e-5)
    shrunk = np.stack([[cv2.resize(v, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
                        for v in face] for face in big_views])
    same = np.abs(shrunk.astype(float) - views).mean()
    other = np.abs(shrunk.astype(float) - views[:, ::-1]).mean()  # another view's draw
    assert same < 6.0 and same < 0.5 * other, (same, other)
    unaugmented = faces.teacher[:8]
    cos = np.einsum("nvd,nd->nv", targets, unaugmented)
    assert cos.min() > 0.8 and cos.max() < 0.9999, cos


def test_consistent_distillation_trains_on_the_views(faces: FaceSet, tmp_path: Path) -> None:
    from faceprint.train.data import ViewSettings

    with_views = load_faces(faces.paths, faces.labels, faces.names,
                            ChipSpec(SIZE, "dlib5", 0.25), teacher="dlib-resnet",
                            use_cache=False, progress=False, views=ViewSettings(4))
    assert with_views.views is not None and with_views.views.shape[1] == 4
    cfg = config(tmp_path, loss="distill", teacher="dlib-resnet", batch_size=16, epochs=4,
                 views=4, net=replace(NET, dim=128))
    trainer = Trainer(cfg, prepared(with_views), log=lambda _: None)
    assert len(trainer.sampler) == (4 * len(trainer.data.train)) // 16
    trainer.fit()
    rows = trainer.history
    assert rows[-1]["distill"] < 0.8 * rows[0]["distill"], rows
    with pytest.raises(Exception, match="--views is for --loss distill"):
        config(tmp_path, loss="triplet", views=4)


def test_more_views_reuse_the_cached_fewer_views(faces: FaceSet, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for 3 views when 2 are cached (same seed and settings) keeps the cached 2
    and makes only the third, which is the third view made from scratch."""
    from faceprint.train.data import ViewSettings, _views_file

    monkeypatch.setenv("FACEPRINT_CACHE_DIR", str(tmp_path))
    subset = slice(0, 6)
    args = (faces.paths[subset], faces.labels[subset], faces.names,
            ChipSpec(SIZE, "dlib5", 0.25))
    two = load_faces(*args, teacher="dlib-resnet", progress=False, views=ViewSettings(2))
    assert two.view_teacher is not None
    cached = [p for p in (tmp_path / "train").glob("*-views-*.npz")]
    assert len(cached) == 1 and cached[0] == _views_file(cached[0].parent / (
        cached[0].name.split("-views-")[0] + ".npz"), ViewSettings(2))
    with np.load(cached[0]) as z:  # mark the cached targets to see them come back
        marked = {k: z[k] for k in z.files}
    marked["view_teacher"] = -marked["view_teacher"]
    np.savez(cached[0], **marked)
    three = load_faces(*args, teacher="dlib-resnet", progress=False, views=ViewSettings(3))
    fresh = load_faces(*args, teacher="dlib-resnet", use_cache=False, progress=False,
                       views=ViewSettings(3))
    assert three.views is not None and fresh.views is not None
    assert three.view_teacher is not None and fresh.view_teacher is not None
    np.testing.assert_allclose(three.view_teacher[:, :2], -two.view_teacher, atol=1e-6)
    np.testing.assert_array_equal(three.views, fresh.views)
    np.testing.assert_allclose(three.view_teacher[:, 2], fresh.view_teacher[:, 2], atol=1e-5)
    np.testing.assert_allclose(fresh.view_teacher[:, :2], two.view_teacher, atol=1e-5)


def test_a_warm_start_begins_from_the_checkpoint_weights(faces: FaceSet,
                                                         tmp_path: Path) -> None:
    from faceprint.errors import UsageError

    data = prepared(faces)
    first = Trainer(config(tmp_path / "a", epochs=1), data, log=lambda _: None)
    first.fit()
    warm = Trainer(config(tmp_path / "b", epochs=1, init=str(tmp_path / "a" / "last.pt"),
                          seed=7), data, log=lambda _: None)
    cold = Trainer(config(tmp_path / "c", epochs=1, seed=7), data, log=lambda _: None)
    a, w, c = (t.net.state_dict() for t in (first, warm, cold))
    assert all(torch.equal(a[k], w[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert warm.epoch == 0 and warm.step == 0  # its own schedule, from the start
    with pytest.raises(UsageError, match="needs the same network"):
        Trainer(config(tmp_path / "d", init=str(tmp_path / "a" / "last.pt"),
                       net=replace(NET, width=0.5)), data, log=lambda _: None)


def test_device_cuda_without_a_gpu_warns_and_trains_on_the_cpu() -> None:
    from faceprint.errors import UsageError
    from faceprint.train.loop import pick_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert pick_device("auto").type == "cpu"
    with pytest.warns(RuntimeWarning, match="PyTorch sees no CUDA GPU"):
        assert pick_device("cuda").type == "cpu"
    with pytest.raises(UsageError, match="unknown device"):
        pick_device("gpu0")
