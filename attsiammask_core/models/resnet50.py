"""The SiamMask ResNet-50 backbone: conv1 to layer3, conv1 padding 0, 3x3 shortcuts, dilated layer3."""
from __future__ import annotations

import torch
from torch import nn


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (stride/dilation/padding given), 1x1 expand x4, each with BN; shortcut added."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1, padding: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        width_out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=padding, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, width_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def _shortcut(inplanes: int, outplanes: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    """Projection shortcut: conv (no bias) + BN, named downsample.{0,1} as in the checkpoints."""
    return nn.Sequential(nn.Conv2d(inplanes, outplanes, kernel, stride=stride, padding=padding, bias=False),
                         nn.BatchNorm2d(outplanes))


class ResNet50(nn.Module):
    """Modified ResNet-50 truncated after layer3 (total stride 8); returns [f0, f1, f2, f3]."""

    out_channels: tuple[int, int, int, int] = (64, 256, 512, 1024)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        # layer1: 3 blocks, width 64, 1x1 shortcut on block 0.
        self.layer1 = nn.Sequential(
            Bottleneck(64, 64, downsample=_shortcut(64, 256, 1, 1, 0)),
            *(Bottleneck(256, 64) for _ in range(2)))
        # layer2: block 0 has a stride-2 3x3 with padding 0 and a 3x3 stride-2 shortcut with padding 0.
        self.layer2 = nn.Sequential(
            Bottleneck(256, 128, stride=2, padding=0, downsample=_shortcut(256, 512, 3, 2, 0)),
            *(Bottleneck(512, 128) for _ in range(3)))
        # layer3: stride 1; block 0 dilation 1 with a 3x3 shortcut (padding 1); blocks 1-5 dilation 2.
        self.layer3 = nn.Sequential(
            Bottleneck(512, 256, downsample=_shortcut(512, 1024, 3, 1, 1)),
            *(Bottleneck(1024, 256, dilation=2, padding=2) for _ in range(5)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: (N,3,H,W) BGR 0-255 -> [conv1 ReLU output, layer1, layer2, layer3]."""
        f0 = self.relu(self.bn1(self.conv1(x)))
        f1 = self.layer1(self.maxpool(f0))
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        return [f0, f1, f2, f3]
