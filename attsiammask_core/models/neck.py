"""Adjust layer (neck): 1x1 conv + BN, then a centre crop of small (template) maps."""
from __future__ import annotations

import torch
from torch import nn


class AdjustLayer(nn.Module):
    """1x1 conv (no bias) + BN, no ReLU; centre-crops maps narrower than `crop_below` to `center_size`."""

    def __init__(self, in_channels: int = 1024, out_channels: int = 256, center_size: int = 7,
                 crop_below: int = 20) -> None:
        super().__init__()
        self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                        nn.BatchNorm2d(out_channels))
        self.center_size = center_size
        self.crop_below = crop_below

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        """Centre `center_size` square of x (offset (W - size) // 2, as the reference)."""
        top = (x.size(2) - self.center_size) // 2
        left = (x.size(3) - self.center_size) // 2
        return x[:, :, top:top + self.center_size, left:left + self.center_size]

    def forward(self, x: torch.Tensor, crop: bool | None = None) -> torch.Tensor:
        """Adjust x; crop=None follows the reference rule (crop only when width < crop_below)."""
        x = self.downsample(x)
        if crop is None:
            crop = x.size(3) < self.crop_below
        return self.crop(x) if crop else x


class Neck(nn.Module):
    """Single-level adjust neck (pysot `AdjustAllLayer` with one layer): keys neck.downsample.downsample.*."""

    def __init__(self, in_channels: int = 1024, out_channels: int = 256, center_size: int = 7,
                 crop_below: int = 20) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.downsample = AdjustLayer(in_channels, out_channels, center_size, crop_below)

    def forward(self, x: torch.Tensor, crop: bool | None = None) -> torch.Tensor:
        return self.downsample(x, crop)
