"""Pixel-wise correlation heads at stride 16 (NanoTrack V2's box head, and our mask branch built the same way).

Pixel-wise correlation: every template cell's feature vector is matched (dot product) against every search cell,
giving one output channel per template cell (8x8 template -> 64 channels over the 16x16 search map), then a
channel gate. Key names follow NanoTrack V2's `ban_head` (`corr_pw_cls`, `cls_pw_tower`, `cls_pred`, ...).
"""
from __future__ import annotations

import torch
from torch import nn

TEMPLATE_CELLS = 64  # an 8x8 template feature map


def xcorr_pixelwise(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(N,C,H,W) search with (N,C,h,w) kernel -> (N,h*w,H,W): channel j = <kernel cell j, search cell>."""
    n, c, height, width = search.shape
    kernel_cells = kernel.reshape(n, c, -1).transpose(1, 2)
    return torch.bmm(kernel_cells, search.reshape(n, c, -1)).reshape(n, -1, height, width)


class ChannelGate(nn.Module):
    """Squeeze-excitation with 1x1 convs and a sigmoid (keys fc1, fc2)."""

    def __init__(self, channels: int = TEMPLATE_CELLS) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels, 1)
        self.fc2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))
        return x * gate


def _pointwise_bn(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels))


class PixelwiseXCorr(nn.Module):
    """1x1 conv + BN on template and search, pixel-wise correlation, channel gate (keys conv_kernel, conv_search,
    CA_layer). ``correlate`` takes a kernel already passed through conv_kernel (computed once per target)."""

    def __init__(self, channels: int = 48, cells: int = TEMPLATE_CELLS) -> None:
        super().__init__()
        self.conv_kernel = _pointwise_bn(channels)
        self.conv_search = _pointwise_bn(channels)
        self.CA_layer = ChannelGate(cells)

    def correlate(self, search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        return self.CA_layer(xcorr_pixelwise(self.conv_search(search), kernel))

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.correlate(search, self.conv_kernel(template))


def separable_tower(cin: int, width: int, depth: int) -> nn.Sequential:
    """``depth`` layers of [depthwise 3x3, pointwise 1x1 (no bias), BN, ReLU6], flat indices 4 per layer."""
    layers: list[nn.Module] = []
    channels = cin
    for _ in range(depth):
        layers += [nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
                   nn.Conv2d(channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU6(inplace=True)]
        channels = width
    return nn.Sequential(*layers)


class PointBoxHead(nn.Module):
    """NanoTrack V2's anchor-free box head: per search cell a 2-way score (cls, background first) and the
    distances to the box's left, top, right and bottom edges in crop pixels (loc = exp of the regression)."""

    def __init__(self, channels: int = 48, width: int = 96, depth: int = 6) -> None:
        super().__init__()
        self.corr_pw_reg = PixelwiseXCorr(channels)
        self.corr_pw_cls = PixelwiseXCorr(channels)
        self.cls_pw_tower = separable_tower(TEMPLATE_CELLS, width, depth)
        self.bbox_pw_tower = separable_tower(TEMPLATE_CELLS, width, depth)
        self.cls_pred = nn.Sequential(nn.Conv2d(width, 2, 1))
        self.bbox_pred = nn.Sequential(nn.Conv2d(width, 4, 1))

    def heads(self, search: torch.Tensor, cls_kernel: torch.Tensor,
              loc_kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cls (N,2,H,W), loc (N,4,H,W)) from the search feature and the two precomputed template kernels."""
        cls = self.cls_pred(self.cls_pw_tower(self.corr_pw_cls.correlate(search, cls_kernel)))
        loc = torch.exp(self.bbox_pred(self.bbox_pw_tower(self.corr_pw_reg.correlate(search, loc_kernel))))
        return cls, loc


class MaskBranch(nn.Module):
    """Our mask correlation for the refine module: pixel-wise correlation and a separable tower, giving the
    ``width``-channel vector per search cell that SiamMask's refine deconvolves into the coarse mask."""

    def __init__(self, channels: int = 48, width: int = 96, depth: int = 2) -> None:
        super().__init__()
        self.corr = PixelwiseXCorr(channels)
        self.tower = separable_tower(TEMPLATE_CELLS, width, depth)
        self.out_channels = width

    def correlate(self, search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        return self.tower(self.corr.correlate(search, kernel))
