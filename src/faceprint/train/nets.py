"""The student networks: small face-embedding CNNs whose output is an L2-normalised
vector of ``dim`` numbers (64, 128, 256 or 512).

``mobilefacenet``
    MobileFaceNet-style (Chen et al. 2018): a strided 3x3 stem, a depthwise 3x3,
    inverted-residual bottlenecks (MobileNetV2 blocks with PReLU), a 1x1
    expansion, a global depthwise convolution (GDC) over the final feature map
    instead of average pooling, and a linear 1x1 to ``dim``. Designed for 112 x 112
    chips; works at any multiple of 16 (the GDC kernel is ``size / 16``).
    ``width`` scales every channel count, ``depth`` the number of repeated blocks.

``nn4small``
    FaceNet's NN4 in the small form of OpenFace's ``nn4.small2`` (Schroff et al.
    2015; Amos et al. 2016): a 7x7 stem, 3x3 layers, Inception modules (1x1, 3x3
    and 5x5 towers and a pooling tower, with the strided "c"/"e" modules) at
    96 x 96; batch normalisation replaces the local response normalisation, and L2
    pooling is ``sqrt(avg_pool(x^2))``.

Input: float tensors ``(N, 3, S, S)`` of RGB scaled to ``(x / 255 - 0.5) / 0.5``
(so in [-1, 1]); see :data:`NORMALISATION`. Output: ``(N, dim)`` unit vectors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: how a uint8 RGB chip becomes network input: (x / 255 - mean) / std per channel
NORMALISATION = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "scale": 1 / 255.0,
                 "layout": "NCHW", "channels": "RGB"}
ARCHITECTURES = ("mobilefacenet", "nn4small")
EMBEDDING_SIZES = (64, 128, 256, 512)


@dataclass(frozen=True, slots=True)
class NetConfig:
    """Which network to build. ``size``: chip side in pixels; ``dim``: embedding length;
    ``width``: channel multiplier; ``depth``: repeated-block multiplier (mobilefacenet)."""

    arch: str = "mobilefacenet"
    size: int = 112
    dim: int = 128
    width: float = 1.0
    depth: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ch(channels: int, width: float) -> int:
    """Channel count scaled by ``width``, rounded to a multiple of 8 (at least 8)."""
    return max(8, round(channels * width / 8.0) * 8)


class ConvBn(nn.Sequential):
    """Convolution, batch norm and (unless ``linear``) PReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 linear: bool = False, padding: int | None = None) -> None:
        pad = kernel // 2 if padding is None else padding
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride, pad, groups=groups, bias=False),
            nn.BatchNorm2d(cout)]
        if not linear:
            layers.append(nn.PReLU(cout))
        super().__init__(*layers)


class Bottleneck(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand, 3x3 depthwise, 1x1 linear project."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            ConvBn(cin, hidden, 1), ConvBn(hidden, hidden, 3, stride, groups=hidden),
            ConvBn(hidden, cout, 1, linear=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.body(x)
        return x + y if self.residual else y


class MobileFaceNet(nn.Module):
    """MobileFaceNet-style embedding network (see the module docstring)."""

    # (expansion, channels, repeats, stride), as in Chen et al. 2018, Table 1
    SETTINGS = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        if config.size % 16:
            raise ValueError(f"mobilefacenet needs a chip size divisible by 16, got "
                             f"{config.size}")
        w = config.width
        c64 = _ch(64, w)
        layers: list[nn.Module] = [ConvBn(3, c64, 3, 2), ConvBn(c64, c64, 3, groups=c64)]
        cin = c64
        for t, c, n, s in self.SETTINGS:
            cout = _ch(c, w)
            for i in range(max(1, round(n * config.depth))):
                layers.append(Bottleneck(cin, cout, s if i == 0 else 1, t))
                cin = cout
        c512 = _ch(512, w)
        final = config.size // 16
        layers += [ConvBn(cin, c512, 1),
                   ConvBn(c512, c512, final, groups=c512, linear=True, padding=0)]  # GDC
        self.features = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Conv2d(c512, config.dim, 1, bias=False),
                                   nn.BatchNorm2d(config.dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.embed(self.features(x)).flatten(1)
        return F.normalize(y, dim=1)


class L2Pool(nn.Module):
    """L2 pooling: ``sqrt(avg_pool(x^2))`` (FaceNet's Inception modules use it)."""

    def __init__(self, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(x * x, self.kernel, self.stride, self.padding)
        return torch.sqrt(pooled * (self.kernel * self.kernel) + 1e-6)


class Inception(nn.Module):
    """One NN4 Inception module: concatenation of a 1x1 tower, a 3x3 tower (1x1 reduce
    then 3x3), a 5x5 tower (1x1 reduce then 5x5) and a pooling tower (pool, then an
    optional 1x1). A tower of width 0 is left out; ``stride`` 2 makes the "c"/"e"
    modules that halve the map (no 1x1 tower, no pool projection)."""

    def __init__(self, cin: int, c1: int, r3: int, c3: int, r5: int, c5: int, pool: str,
                 cp: int, stride: int = 1) -> None:
        super().__init__()
        self.towers = nn.ModuleList()
        self.out_channels = 0
        if c1:
            self.towers.append(ConvBn(cin, c1, 1))
            self.out_channels += c1
        if c3:
            self.towers.append(nn.Sequential(ConvBn(cin, r3, 1), ConvBn(r3, c3, 3, stride)))
            self.out_channels += c3
        if c5:
            self.towers.append(nn.Sequential(ConvBn(cin, r5, 1), ConvBn(r5, c5, 5, stride)))
            self.out_channels += c5
        pooling: nn.Module = (nn.MaxPool2d(3, stride, 1) if pool == "max"
                              else L2Pool(3, stride, 1))
        if cp:
            self.towers.append(nn.Sequential(pooling, ConvBn(cin, cp, 1)))
            self.out_channels += cp
        else:
            self.towers.append(pooling)
            self.out_channels += cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([t(x) for t in self.towers], dim=1)


class NN4Small(nn.Module):
    """FaceNet NN4, OpenFace's small2 variant, at 96 x 96 (see the module docstring)."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        w = config.width

        def c(n: int) -> int:
            return _ch(n, w)

        stem = [ConvBn(3, c(64), 7, 2), nn.MaxPool2d(3, 2, 1), ConvBn(c(64), c(64), 1),
                ConvBn(c(64), c(192), 3), nn.MaxPool2d(3, 2, 1)]
        blocks: list[Inception] = []
        cin = c(192)
        for spec in ((c(64), c(96), c(128), c(16), c(32), "max", c(32), 1),        # 3a
                     (c(64), c(96), c(128), c(32), c(64), "l2", c(64), 1),         # 3b
                     (0, c(128), c(256), c(32), c(64), "max", 0, 2),               # 3c
                     (c(256), c(96), c(192), c(32), c(64), "l2", c(128), 1),       # 4a
                     (0, c(160), c(256), c(64), c(128), "max", 0, 2),              # 4e
                     (c(256), c(96), c(384), 0, 0, "l2", c(96), 1),                # 5a
                     (c(256), c(96), c(384), 0, 0, "max", c(96), 1)):              # 5b
            c1, r3, c3, r5, c5, pool, cp, stride = spec
            block = Inception(cin, int(c1), int(r3), int(c3), int(r5), int(c5), str(pool),
                              int(cp), int(stride))
            blocks.append(block)
            cin = block.out_channels
        self.features = nn.Sequential(*stem, *blocks)
        self.embed = nn.Linear(cin, config.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.features(x)
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)
        return F.normalize(self.embed(y), dim=1)


def build_net(config: NetConfig) -> nn.Module:
    """The network ``config`` describes (weights freshly initialised)."""
    if config.dim < 1:
        raise ValueError("dim must be positive")
    if config.arch == "mobilefacenet":
        return MobileFaceNet(config)
    if config.arch == "nn4small":
        return NN4Small(config)
    raise ValueError(f"unknown network {config.arch!r}; choose one of {', '.join(ARCHITECTURES)}")


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
