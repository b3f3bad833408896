"""MobileNetV3-Small trunk at output stride 16, as trained for tracking by NanoTrack V2 (the `lite` backbone).

Parameter names follow NanoTrack's layout (`features.<block>.conv.<index>`), so its tracking-trained checkpoint
(HonglinChu/SiamTrackers, Apache-2.0) loads by name after the prefix mapping in `weights/nanotrack.py`. The trunk
is MobileNetV3-Small's stem and first eight inverted-residual blocks (the last stride-2 stage and the classifier
are not built). It takes the tracker's BGR 0-255 crops as they are: NanoTrack was trained on raw BGR pixels.
A 127 template gives 8x8 and a 255 search crop 16x16 features of 48 channels.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class InvertedResidualSpec:
    """One block: kernel, expanded (hidden) channels, output channels, squeeze-excitation, hard-swish, stride."""

    kernel: int
    hidden: int
    cout: int
    squeeze: bool
    hard_swish: bool
    stride: int


# (kernel, hidden, out, SE, hard-swish, stride) of blocks 1-8 (NanoTrack V2's `mobilenetv3_small`, widths rounded
# to multiples of 8 as MobileNetV3 does: e.g. 16 * 4.5 = 72, 24 * 3.67 -> 88).
NANOTRACK_V2_BLOCKS: tuple[InvertedResidualSpec, ...] = (
    InvertedResidualSpec(3, 16, 16, True, False, 2),
    InvertedResidualSpec(3, 72, 24, False, False, 2),
    InvertedResidualSpec(3, 88, 24, False, False, 1),
    InvertedResidualSpec(5, 96, 40, True, True, 2),
    InvertedResidualSpec(5, 240, 40, True, True, 1),
    InvertedResidualSpec(5, 240, 40, True, True, 1),
    InvertedResidualSpec(5, 120, 48, True, True, 1),
    InvertedResidualSpec(5, 144, 48, True, True, 1),
)


def _round8(value: float) -> int:
    """MobileNet's channel rounding: nearest multiple of 8, never more than 10% below the value."""
    rounded = max(8, int(value + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * value else rounded


class SqueezeExcite(nn.Module):
    """Channel gate: global average, two linear layers (ReLU, hard-sigmoid); keys fc.0 and fc.2."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = _round8(channels // reduction)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels),
                                nn.Hardsigmoid(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc(x.mean((2, 3)))
        return x * gate[:, :, None, None]


def _activation(hard_swish: bool) -> nn.Module:
    return nn.Hardswish(inplace=True) if hard_swish else nn.ReLU(inplace=True)


class InvertedResidual(nn.Module):
    """MobileNetV3 block in one `conv` Sequential (the checkpoint's indices): [expand 1x1, BN, act,] depthwise,
    BN, [SE,] act, project 1x1, BN; a block without expansion puts SE before its activation-free projection."""

    def __init__(self, cin: int, spec: InvertedResidualSpec) -> None:
        super().__init__()
        k, hidden = spec.kernel, spec.hidden
        depthwise = nn.Conv2d(hidden, hidden, k, spec.stride, (k - 1) // 2, groups=hidden, bias=False)
        squeeze = SqueezeExcite(hidden) if spec.squeeze else nn.Identity()
        project = [nn.Conv2d(hidden, spec.cout, 1, bias=False), nn.BatchNorm2d(spec.cout)]
        if cin == hidden:
            layers = [depthwise, nn.BatchNorm2d(hidden), _activation(spec.hard_swish), squeeze, *project]
        else:
            layers = [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), _activation(spec.hard_swish),
                      depthwise, nn.BatchNorm2d(hidden), squeeze, _activation(spec.hard_swish), *project]
        self.conv = nn.Sequential(*layers)
        self.residual = spec.stride == 1 and cin == spec.cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.residual else out


class MobileNetV3SmallTrunk(nn.Module):
    """Stem (features.0) + blocks features.1-8; returns [f0 stem (16, /2), f1 block 1 (16, /4), f2 block 3
    (24, /8), f3 block 8 (48, /16)]: f0-f2 feed the refine module, f3 the correlation heads."""

    out_channels = (16, 16, 24, 48)
    feature_blocks = (0, 1, 3, 8)
    stride = 16

    def __init__(self, blocks: tuple[InvertedResidualSpec, ...] = NANOTRACK_V2_BLOCKS) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                                 nn.Hardswish(inplace=True))]
        cin = 16
        for spec in blocks:
            layers.append(InvertedResidual(cin, spec))
            cin = spec.cout
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.feature_blocks:
                feats.append(x)
        return tuple(feats)
