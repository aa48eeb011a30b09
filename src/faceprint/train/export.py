"""Export a training checkpoint to ONNX with faceprint's metadata (see
:mod:`faceprint.embedders.onnx_model` for the keys), so that ``--embedder
onnx:model.onnx`` uses it like any other embedder.

The threshold written into the model is calibrated on a pairs file when one is given
(the accuracy-maximising squared-L2 distance on those pairs, e.g. LFW's
``pairsDevTrain.txt``), else it is the threshold chosen on the validation pairs
during training (the best epoch's). The exported graph is checked against the
checkpoint: both embed the same chips and the largest absolute difference is
reported (it must stay below 1e-4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import FaceprintError, UsageError
from ..eval.metrics import accuracy, best_threshold
from .data import lfw_pairs
from .loop import METRIC, TrainConfig, load_checkpoint, pair_distances, to_input
from .nets import NetConfig, build_net

OPSET = 17


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What ``export`` wrote: the file, its metadata, and the check against torch."""

    path: Path
    metadata: dict[str, str]
    max_abs_diff: float
    size_bytes: int


def net_from_checkpoint(state: dict[str, Any]) -> torch.nn.Module:
    """The network of a checkpoint, weights loaded, in eval mode on the CPU."""
    net = build_net(NetConfig(**state["net_config"]))
    net.load_state_dict(state["model"])
    net.eval()
    return net


class _PReluForExport(torch.nn.Module):
    """``PReLU`` written as ``relu(x) + a * min(x, 0)``: the same numbers, but ONNX
    Runtime runs these element-wise ops inside its blocked-channel layout, while its
    PRelu kernel alone took more than half the time of a MobileFaceNet-style net."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("slope", weight.detach().reshape(1, -1, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slope: torch.Tensor = self.slope  # type: ignore[assignment]
        return torch.relu(x) + slope * torch.clamp(x, max=0.0)


def for_export(net: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``net`` with every PReLU replaced by :class:`_PReluForExport`."""
    import copy

    out = copy.deepcopy(net)

    def swap(module: torch.nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, torch.nn.PReLU):
                setattr(module, name, _PReluForExport(child.weight))
            else:
                swap(child)

    swap(out)
    return out.eval()


def calibrate(net: torch.nn.Module, config: TrainConfig, data: str, pairs_file: str,
              progress: bool = True) -> dict[str, Any]:
    """The accuracy-maximising squared-L2 threshold of ``net`` on an LFW pairs file."""
    pairs = lfw_pairs(data, pairs_file, config.chip, detector=config.detector,
                      progress=progress)
    d = pair_distances(net, pairs, torch.device("cpu"))
    t = best_threshold(d, pairs.same)
    return {"source": Path(pairs_file).name, "pairs": len(d), "threshold": t,
            "accuracy": accuracy(d, pairs.same, t), "detector": config.detector}


def export(checkpoint: str | Path, out: str | Path, *, pairs: str | None = None,
           data: str | None = None, name: str | None = None, progress: bool = True
           ) -> ExportResult:
    """Write ``checkpoint``'s network to ``out`` as ONNX with its metadata."""
    import onnx

    state = load_checkpoint(checkpoint)
    config = TrainConfig.from_dict(state["config"])
    net = net_from_checkpoint(state)
    if pairs:
        calibration = calibrate(net, config, data or config.data, pairs, progress)
    elif state.get("threshold") is not None:
        calibration = {"source": f"validation pairs during training "
                                 f"({state['data'].get('val')})",
                       "threshold": float(state["threshold"]),
                       "epoch": int(state["best_epoch"])}
    else:
        raise UsageError("the checkpoint holds no calibrated threshold (it was trained "
                         "without validation pairs); pass --pairs FILE --data DIR")
    size = int(state["chip"]["size"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, 3, size, size)
    torch.onnx.export(for_export(net), (dummy,), str(out), input_names=["input"],
                      output_names=["embedding"], opset_version=OPSET, dynamo=False,
                      dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}})
    net_config = state["net_config"]
    history = state.get("history") or []
    metadata = {
        "faceprint.format": "1",
        "faceprint.name": name or f"{net_config['arch']}-{size}-{net_config['dim']}",
        "faceprint.dim": str(net_config["dim"]),
        "faceprint.metric": state.get("metric", METRIC),
        "faceprint.threshold": f"{calibration['threshold']:.6f}",
        "faceprint.chip": json.dumps(state["chip"]),
        "faceprint.normalisation": json.dumps(state["normalisation"]),
        "faceprint.calibration": json.dumps(calibration),
        "faceprint.training": json.dumps({
            "net": net_config, "loss": config.loss, "mining": config.mining,
            "margin": config.margin, "teacher": config.teacher,
            "epochs": int(state["epoch"]), "best_epoch": int(state["best_epoch"]),
            "seconds": float(state["seconds"]), "data": state.get("data"),
            "people": Path(config.people).name if config.people else None,
            "last": history[-1] if history else None}),
    }
    model = onnx.load(str(out))
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    model.doc_string = "faceprint face embedding model (faceprint export)"
    onnx.save(model, str(out))
    diff = check_export(net, out, size)
    if diff >= 1e-4:
        raise FaceprintError(f"the exported model differs from the checkpoint by {diff:.2e} "
                             f"(more than 1e-4)")
    return ExportResult(out, metadata, diff, out.stat().st_size)


def check_export(net: torch.nn.Module, path: Path, size: int, count: int = 16) -> float:
    """Largest absolute difference between the checkpoint's and the ONNX model's
    embeddings of ``count`` random chips (through :class:`OnnxEmbedder`)."""
    from ..embedders.onnx_model import OnnxEmbedder

    rng = np.random.default_rng(0)
    chips = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    with torch.no_grad():
        ref = net(to_input(chips, torch.device("cpu"))).numpy()
    got = OnnxEmbedder(path, threads=1).embed_chips(chips)
    return float(np.abs(ref - got).max())
