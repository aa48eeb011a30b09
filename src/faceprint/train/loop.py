"""The training loop: seeded, resumable, evaluated every epoch.

One epoch = one pass of the sampler (P x K: every multi-image identity once;
distillation or classification alone: every image once). After each epoch the
model embeds the validation pairs' chips (no augmentation) and the log records the
loss, the validation accuracy (threshold chosen on those pairs), VAL at FAR = 1e-3,
the ROC AUC and, when a test pairs file is given, its accuracy both at the
validation threshold and at its own best threshold (logged for the plot only;
nothing is chosen on it). Checkpoints: ``last.pt`` every epoch, ``best.pt`` when the
validation AUC improves; early stopping after ``patience`` epochs without
improvement.

Reproducibility: weights are initialised from ``seed`` (or, with ``init``, copied
from another run's checkpoint: a warm start, which then trains with this run's own
schedule and data); each epoch's batches and
augmentations come from a generator seeded with ``(seed, epoch)``, and the learning
rate is a function of the step, so a run resumed from ``last.pt`` continues exactly
as the uninterrupted run would (on the same device and thread count).
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..align import ChipSpec
from ..datasets.folders import scan_identities
from ..datasets.lfw import people_names
from ..errors import DataError, FaceprintError, UsageError
from ..eval.metrics import best_threshold, kfold
from .data import (
    FaceSet,
    PairSet,
    ViewSettings,
    holdout_split,
    lfw_pairs,
    load_faces,
)
from .losses import MINING, ArcFaceHead, DistillHead, triplet_loss
from .nets import NORMALISATION, NetConfig, build_net, count_parameters
from .sampler import PKSampler, ShuffleSampler, augment

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

LOSSES = ("triplet", "distill", "triplet+distill", "arcface")
CHECKPOINT_FORMAT = 1
METRIC = "sqeuclidean"


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything a training run depends on (stored in every checkpoint).

    Units: ``margin`` in squared-L2 units between unit vectors; ``lr`` per step;
    ``holdout`` a fraction of the identities with two or more images; ``crop`` a
    fraction of the chip side; ``rotate`` degrees; ``padding`` dlib's chip margin.
    """

    data: str
    out: str = "runs/train"
    people: str | None = None
    net: NetConfig = field(default_factory=NetConfig)
    padding: float = 0.25
    detector: str = "hog"
    loss: str = "triplet"
    mining: str = "semihard"
    margin: float = 0.2
    teacher: str | None = None
    views: int = 0
    distill_weight: float = 1.0
    relation_weight: float = 1.0
    arcface_scale: float = 30.0
    arcface_margin: float = 0.3
    p: int = 16
    k: int = 4
    extra: int = 16
    batch_size: int = 128
    epochs: int = 30
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    seed: int = 0
    holdout: float = 0.1
    val_pairs: str | None = None
    test_pairs: str | None = None
    patience: int = 0
    max_identities: int | None = None
    augment: bool = True
    crop: float = 0.08
    rotate: float = 8.0
    colour: float = 0.25
    device: str = "auto"
    amp: bool | None = None
    threads: int | None = None
    workers: int = 1
    tensorboard: str | None = None
    progress: bool = True
    init: str | None = None

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise UsageError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.mining not in MINING:
            raise UsageError(f"unknown mining {self.mining!r}; choose one of "
                             f"{', '.join(MINING)}")
        if "distill" in self.loss and not self.teacher:
            raise UsageError("distillation needs a teacher embedder (--teacher NAME)")
        if self.views and self.loss != "distill":
            raise UsageError("--views is for --loss distill (the views carry the "
                             "teacher's targets, not identities)")

    @property
    def chip(self) -> ChipSpec:
        return ChipSpec(size=self.net.size, method="dlib5", padding=self.padding)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["net"] = self.net.as_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        d["net"] = NetConfig(**d["net"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def pick_device(name: str) -> torch.device:
    """``"auto"``: the CUDA GPU when one is present, else the CPU. ``"cuda"`` (or
    ``"cuda:N"``) without a usable GPU falls back to the CPU with a warning."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; choose auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(f"--device {name}: PyTorch sees no CUDA GPU (torch "
                      f"{torch.__version__}); training on the CPU", RuntimeWarning,
                      stacklevel=2)
        return torch.device("cpu")
    return device


def to_input(chips: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 RGB chips ``(N, S, S, 3)`` -> normalised float ``(N, 3, S, S)`` (see
    :data:`faceprint.train.nets.NORMALISATION`)."""
    x = torch.from_numpy(np.ascontiguousarray(chips)).to(device)
    x = x.permute(0, 3, 1, 2).float()
    mean = torch.tensor(NORMALISATION["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(NORMALISATION["std"], device=device).view(1, 3, 1, 1)
    return (x * float(NORMALISATION["scale"]) - mean) / std  # type: ignore[arg-type]


@torch.no_grad()
def embed(net: nn.Module, chips: np.ndarray, device: torch.device, batch: int = 256
          ) -> np.ndarray:
    """Unit embeddings ``(N, dim)`` float32 of uint8 chips, in eval mode."""
    was_training = net.training
    net.eval()
    out = [net(to_input(chips[i:i + batch], device)).float().cpu().numpy()
           for i in range(0, len(chips), batch)]
    net.train(was_training)
    return np.concatenate(out) if out else np.empty((0, 0), np.float32)


@torch.no_grad()
def recompute_batchnorm(net: nn.Module, chips: np.ndarray, device: torch.device,
                        batch: int = 128, limit: int = 2048, seed: int = 0) -> None:
    """Set every batch-norm layer's running mean and variance to their exact averages
    over up to ``limit`` chips (a fixed random sample, no augmentation).

    The running averages kept during training lag behind the weights (momentum 0.1),
    and with few or large steps the eval-mode network then embeds every face alike;
    evaluating and exporting with recomputed statistics removes that lag. Training
    itself uses each batch's own statistics, so this does not change its course."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or len(chips) == 0:
        return
    was_training = net.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    net.train()
    pick = np.random.default_rng([seed, 11]).permutation(len(chips))[:limit]
    pick.sort()
    for start in range(0, len(pick), batch):
        part = pick[start:start + batch]
        if len(part) > 1:
            net(to_input(chips[part], device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    net.train(was_training)


def pair_distances(net: nn.Module, pairs: PairSet, device: torch.device) -> np.ndarray:
    """Squared L2 distances of the pairs' unit embeddings."""
    e = embed(net, pairs.faces.chips, device)
    a, b = e[pairs.index[:, 0]], e[pairs.index[:, 1]]
    return ((a - b) ** 2).sum(1).astype(np.float64)


@dataclass(slots=True)
class PairScores:
    """Verification scores on one pairs set (threshold in squared-L2 units)."""

    accuracy: float
    threshold: float
    val: float
    auc: float


def score_pairs(distances: np.ndarray, same: np.ndarray) -> PairScores:
    """Accuracy at the best threshold on the pairs themselves, VAL at FAR = 1e-3, AUC."""
    r = kfold(distances, same, np.zeros(len(distances), dtype=int))
    return PairScores(r.accuracy_mean, best_threshold(distances, same), r.val_mean, r.auc)


def learning_rate(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Linear warm-up over ``warmup_epochs``, then cosine decay to 1 % of ``lr`` at the
    last step."""
    total = max(1, config.epochs * steps_per_epoch)
    warm = int(config.warmup_epochs * steps_per_epoch)
    if step < warm:
        return config.lr * (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total - warm))
    return config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


@dataclass(slots=True)
class Prepared:
    """The data of a run: training faces, validation and test pairs."""

    train: FaceSet
    val: PairSet | None
    test: PairSet | None


def prepare(config: TrainConfig) -> Prepared:
    """Scan the identities, cut (or load the cached) chips and teacher embeddings, and
    split off the validation people."""
    people = people_names(config.people) if config.people else None
    paths, names, labels = scan_identities(config.data, people)
    if config.max_identities:
        keep = labels < config.max_identities
        paths = [p for p, k in zip(paths, keep) if k]
        labels, names = labels[keep], names[:config.max_identities]
    views = (ViewSettings(config.views, config.seed, config.crop, config.rotate, config.colour)
             if config.views else None)
    faces = load_faces(paths, labels, names, config.chip, detector=config.detector,
                       teacher=config.teacher if "distill" in config.loss else None,
                       workers=config.workers, progress=config.progress, views=views)
    train, val = holdout_split(faces, config.holdout if not config.val_pairs else 0.0,
                               config.seed)
    if config.val_pairs:
        val = lfw_pairs(config.data, config.val_pairs, config.chip, detector=config.detector,
                        workers=config.workers, progress=config.progress)
    test = None
    if config.test_pairs:
        test = lfw_pairs(config.data, config.test_pairs, config.chip, detector=config.detector,
                         workers=config.workers, progress=config.progress)
    return Prepared(train, val, test)


def centred_targets(faces: FaceSet) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The teacher's unit embeddings of the training chips (and of their mirror images,
    and of their augmented views when there are some) with their mean removed,
    normalised again: the distillation targets.

    A face descriptor such as dlib's has a large component shared by every face (the
    cosine between two different people's unit descriptors is about 0.83 on LFW), which
    a student could match by giving every face the same output; centring removes it and
    leaves the part that tells faces apart (differences of descriptors, and so the
    teacher's distances, are unchanged by the centring)."""
    assert faces.teacher is not None and faces.teacher_flip is not None
    mean = np.concatenate([faces.teacher, faces.teacher_flip]).mean(axis=0)

    def unit(x: np.ndarray) -> np.ndarray:
        y = x - mean
        return (y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
                ).astype(np.float32)

    views = None
    if faces.view_teacher is not None:
        views = unit(faces.view_teacher.reshape(-1, faces.view_teacher.shape[-1])
                     ).reshape(faces.view_teacher.shape)
    return unit(faces.teacher), unit(faces.teacher_flip), views


class Trainer:
    """One training run (see the module docstring). ``log`` receives one line per
    epoch (default: print)."""

    def __init__(self, config: TrainConfig, data: Prepared | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.log = log or _print_now
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = pick_device(config.device)
        self.amp = (self.device.type == "cuda") if config.amp is None else config.amp
        self.data = data if data is not None else prepare(config)
        train = self.data.train
        if train.counts().max(initial=0) < 2 and config.loss != "distill":
            raise DataError("no identity has two or more images: nothing to learn from")
        torch.manual_seed(config.seed)
        self.net = build_net(config.net).to(self.device)
        if config.init:
            self._warm_start(config.init)
        self.heads = nn.ModuleDict()
        if config.loss == "arcface":
            self.heads["arcface"] = ArcFaceHead(config.net.dim, len(train.names),
                                                config.arcface_scale, config.arcface_margin)
        if "distill" in config.loss:
            if train.teacher is None:
                raise DataError("distillation needs the teacher's embeddings")
            self.heads["distill"] = DistillHead(config.net.dim, train.teacher.shape[1],
                                                config.relation_weight)
            self.teacher_targets = centred_targets(train)
        self.heads.to(self.device)
        params = list(self.net.parameters()) + list(self.heads.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and
                                           self.device.type == "cuda")
        self.views = 0
        if config.views:
            if train.views is None:
                raise DataError("consistent distillation needs the teacher's views")
            self.views = train.views.shape[1]
        if config.loss.startswith("triplet"):
            self.sampler: PKSampler | ShuffleSampler = PKSampler(
                train.labels, config.p, config.k, config.extra)
        elif self.views:  # every view of every image once per epoch
            self.sampler = ShuffleSampler(np.repeat(train.labels, self.views),
                                          config.batch_size)
        else:
            self.sampler = ShuffleSampler(train.labels, config.batch_size)
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.best_auc = -1.0
        self.best_epoch = 0
        self.threshold: float | None = None
        self.seconds = 0.0
        self.out = Path(config.out)

    def _warm_start(self, path: str) -> None:
        """Start from the network weights of another run's checkpoint (the same
        network: architecture, size, width, depth and embedding length)."""
        state = load_checkpoint(path)
        theirs = NetConfig(**state["net_config"])
        if theirs != self.config.net:
            raise UsageError(f"{path}: its network ({theirs}) is not this run's "
                             f"({self.config.net}); --init needs the same network")
        self.net.load_state_dict(state["model"])
        self.log(f"network weights from {path} (its epoch {state['epoch']})")

    # -- checkpoints --------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything needed to resume or export (plain types and tensors only)."""
        c = self.config
        return {
            "format": CHECKPOINT_FORMAT,
            "config": c.as_dict(),
            "net_config": c.net.as_dict(),
            "chip": {"size": c.chip.size, "method": c.chip.method, "padding": c.chip.padding,
                     "template": None},
            "normalisation": dict(NORMALISATION),
            "metric": METRIC,
            "epoch": self.epoch,
            "step": self.step,
            "model": self.net.state_dict(),
            "heads": self.heads.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "history": self.history,
            "best_auc": self.best_auc,
            "best_epoch": self.best_epoch,
            "threshold": self.threshold,
            "seconds": self.seconds,
            "data": {"images": len(self.data.train),
                     "identities": int((self.data.train.counts() > 0).sum()),
                     "val": self.data.val.name if self.data.val else None},
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(self.state(), tmp)
        os.replace(tmp, path)

    def load_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])
        self.heads.load_state_dict(state["heads"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = list(state["history"])
        self.best_auc, self.best_epoch = float(state["best_auc"]), int(state["best_epoch"])
        self.threshold = state["threshold"]
        self.seconds = float(state["seconds"])

    # -- one epoch ------------------------------------------------------------------
    def _batch(self, index: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """The chips of a batch (augmented unless the views already are) and their
        distillation targets (None without distillation)."""
        c = self.config
        train = self.data.train
        if self.views:  # sampler indices run over (image, view)
            view_targets = self.teacher_targets[2]
            assert train.views is not None and view_targets is not None
            image, view = np.divmod(index, self.views)
            return train.views[image, view], view_targets[image, view]
        if c.augment:
            batch, flipped = augment(train.chips[index], rng, crop=c.crop, rotate=c.rotate,
                                     colour=c.colour)
        else:
            batch, flipped = train.chips[index], np.zeros(len(index), bool)
        if "distill" not in c.loss:
            return batch, None
        teacher, teacher_flip, _ = self.teacher_targets
        return batch, np.where(flipped[:, None], teacher_flip[index], teacher[index])

    def _loss(self, emb: torch.Tensor, labels: torch.Tensor, target: np.ndarray | None
              ) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        parts: dict[str, float] = {}
        total = emb.sum() * 0.0
        if c.loss.startswith("triplet"):
            loss, stats = triplet_loss(emb, labels, margin=c.margin, mining=c.mining)
            total = total + loss
            parts.update(triplet=float(loss.detach()), active=stats.active,
                         semihard=stats.semihard)
        if target is not None:
            loss = self.heads["distill"](emb.float(), torch.from_numpy(target).to(self.device))
            total = total + c.distill_weight * loss
            parts["distill"] = float(loss.detach())
        if c.loss == "arcface":
            loss = self.heads["arcface"](emb.float(), labels)
            total = total + loss
            parts["arcface"] = float(loss.detach())
        return total, parts

    def train_epoch(self) -> dict[str, float]:
        """One pass of the sampler; returns the mean of each loss term."""
        from tqdm import tqdm

        c = self.config
        rng = np.random.default_rng([c.seed, self.epoch])
        torch.manual_seed(c.seed * 100_003 + self.epoch)
        self.net.train()
        sums: dict[str, float] = {}
        n = 0
        steps = len(self.sampler)
        bar = tqdm(self.sampler.epoch_batches(rng), total=steps, unit="batch",
                   desc=f"epoch {self.epoch + 1}/{c.epochs}", disable=not c.progress,
                   leave=False)
        for index, labels in bar:
            batch, target = self._batch(index, rng)
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(c, self.step, steps)
            x = to_input(batch, self.device)
            lab = torch.from_numpy(labels).to(self.device)
            with torch.autocast(self.device.type, enabled=self.amp,
                                dtype=torch.float16 if self.device.type == "cuda"
                                else torch.bfloat16):
                emb = self.net(x)
            loss, parts = self._loss(emb.float(), lab, target)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            n += 1
            parts["loss"] = float(loss.detach())
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.set_postfix(loss=f"{sums['loss'] / n:.4f}")
        return {k: v / max(n, 1) for k, v in sums.items()}

    def evaluate(self) -> dict[str, float]:
        """Validation (and test) scores of the current weights."""
        row: dict[str, float] = {}
        val = self.data.val
        if val is not None:
            s = score_pairs(pair_distances(self.net, val, self.device), val.same)
            row.update(val_acc=s.accuracy, val_threshold=s.threshold, val_val=s.val,
                       val_auc=s.auc)
        test = self.data.test
        if test is not None:
            d = pair_distances(self.net, test, self.device)
            s = score_pairs(d, test.same)
            row.update(test_acc=s.accuracy, test_val=s.val, test_auc=s.auc)
            if "val_threshold" in row:
                row["test_acc_at_val_threshold"] = float(
                    np.mean((d <= row["val_threshold"]) == test.same))
        return row

    # -- the run ----------------------------------------------------------------------
    def fit(self, until: int | None = None) -> dict[str, Any]:
        """Train until ``epochs`` (or early stopping, or epoch ``until`` when given: a run
        stopped there resumes as if never stopped); returns the last log row."""
        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(c.as_dict(), indent=2) + "\n")
        writer = self._tensorboard()
        train = self.data.train
        if self.epoch == 0:
            self.log(f"training {c.net.arch} {c.net.size}x{c.net.size} -> {c.net.dim}-d "
                     f"({count_parameters(self.net) / 1e6:.2f} M parameters), loss {c.loss}"
                     + (f" ({c.mining}, margin {c.margin})" if "triplet" in c.loss else "")
                     + f", on {len(train)} images of "
                     f"{int((train.counts() > 0).sum())} identities; {self.device}"
                     + (", mixed precision" if self.amp else ""))
        last: dict[str, Any] = self.history[-1] if self.history else {}
        while self.epoch < min(c.epochs, until or c.epochs):
            start = time.perf_counter()
            losses = self.train_epoch()
            train_seconds = time.perf_counter() - start
            self.epoch += 1
            recompute_batchnorm(self.net, train.chips, self.device, seed=c.seed)
            scores = self.evaluate()
            self.seconds += time.perf_counter() - start
            row: dict[str, Any] = {"epoch": self.epoch, "step": self.step,
                                   "lr": learning_rate(c, self.step - 1, len(self.sampler)),
                                   **losses, **scores,
                                   "epoch_seconds": round(train_seconds, 1),
                                   "images_per_second": round(
                                       len(self.sampler) * self.sampler.batch_size
                                       / max(train_seconds, 1e-9), 1),
                                   "seconds": round(self.seconds, 1)}
            self.history.append(row)
            improved = scores.get("val_auc", -float(self.epoch)) > self.best_auc \
                or "val_auc" not in scores
            if improved:
                self.best_auc = scores.get("val_auc", self.best_auc)
                self.best_epoch = self.epoch
                self.threshold = scores.get("val_threshold")
            self.save(self.out / "last.pt")
            if improved:
                self.save(self.out / "best.pt")
            self._write_csv()
            if writer is not None:
                for k, v in row.items():
                    if k != "epoch":
                        writer.add_scalar(k, v, self.epoch)
                writer.flush()
            self.log(_describe(row))
            last = row
            if c.patience and self.epoch - self.best_epoch >= c.patience:
                self.log(f"early stop: no better validation AUC since epoch {self.best_epoch}")
                break
        if writer is not None:
            writer.close()
        return last

    def _write_csv(self) -> None:
        keys: list[str] = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        with open(self.out / "log.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows(self.history)

    def _tensorboard(self) -> SummaryWriter | None:
        if not self.config.tensorboard:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise FaceprintError("--tensorboard needs the tensorboard package: pip install "
                                 "tensorboard") from None
        return SummaryWriter(self.config.tensorboard)


def _print_now(line: str) -> None:
    print(line, flush=True)


def _describe(row: dict[str, Any]) -> str:
    text = f"epoch {row['epoch']}: loss {row['loss']:.4f}"
    for key, label in (("triplet", "triplet"), ("distill", "distill"), ("arcface", "arcface")):
        if key in row:
            text += f" ({label} {row[key]:.4f})"
    if "active" in row:
        text += f", active triplets {100 * row['active']:.0f} %"
    if "val_acc" in row:
        text += (f"; val acc {100 * row['val_acc']:.2f} % AUC {row['val_auc']:.4f} "
                 f"VAL@1e-3 {100 * row['val_val']:.1f} %")
    if "test_acc" in row:
        text += f"; test acc {100 * row['test_acc']:.2f} %"
        if "test_acc_at_val_threshold" in row:
            text += f" ({100 * row['test_acc_at_val_threshold']:.2f} % at the val threshold)"
    return text + f"; {row['epoch_seconds']:.0f} s, {row['images_per_second']:.0f} img/s"


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by :class:`Trainer` (``last.pt``/``best.pt``; a run folder
    means its ``last.pt``)."""
    p = Path(path)
    if p.is_dir():
        p = p / "last.pt"
    if not p.is_file():
        raise FaceprintError(f"{p}: checkpoint not found")
    try:
        state: dict[str, Any] = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged files
        raise FaceprintError(f"{p}: not a faceprint checkpoint ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise FaceprintError(f"{p}: not a faceprint training checkpoint")
    return state


def resume(path: str | Path, *, epochs: int | None = None, data: Prepared | None = None,
           log: Callable[[str], None] | None = None, **overrides: Any) -> Trainer:
    """A Trainer restored from a checkpoint, to continue (``epochs`` raises the target)."""
    state = load_checkpoint(path)
    config = TrainConfig.from_dict(state["config"])
    if epochs is not None:
        config = replace(config, epochs=epochs)
    if overrides:
        config = replace(config, **overrides)
    trainer = Trainer(config, data, log)
    trainer.load_state(state)
    trainer.log(f"resumed from {path} at epoch {trainer.epoch}")
    return trainer
