"""Depthwise cross-correlation heads (RPN cls/loc and the 63x63 mask head)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

MASK_SIZE = 63


def xcorr_depthwise(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Per-channel cross-correlation (no flip) of x (N,C,H,W) with kernel (N,C,k,k) as one grouped conv."""
    n, c = kernel.shape[:2]
    out = F.conv2d(x.reshape(1, n * c, x.size(2), x.size(3)),
                   kernel.reshape(n * c, 1, kernel.size(2), kernel.size(3)), groups=n * c)
    return out.reshape(n, c, out.size(2), out.size(3))


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class DepthwiseXCorrHead(nn.Module):
    """3x3 conv+BN+ReLU on template and search, depthwise xcorr, then 1x1+BN+ReLU and a 1x1 to outputs."""

    def __init__(self, out_channels: int, in_channels: int = 256, hidden: int = 256, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv_kernel = _conv_bn_relu(in_channels, hidden, kernel_size)
        self.conv_search = _conv_bn_relu(in_channels, hidden, kernel_size)
        self.head = nn.Sequential(nn.Conv2d(hidden, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                                  nn.ReLU(inplace=True), nn.Conv2d(hidden, out_channels, 1))

    def correlate(self, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        """Correlation feature from a search feature x and a precomputed kernel (conv_kernel output)."""
        return xcorr_depthwise(self.conv_search(x), kernel)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reference formulation: (head output, correlation feature) from template z and search x."""
        feature = self.correlate(x, self.conv_kernel(z))
        return self.head(feature), feature


class RPNHead(nn.Module):
    """Two depthwise heads: cls (2 x anchors) and loc (4 x anchors); keys rpn_head.{cls,loc}.*."""

    def __init__(self, anchor_num: int = 5, in_channels: int = 256, hidden: int = 256) -> None:
        super().__init__()
        self.cls = DepthwiseXCorrHead(2 * anchor_num, in_channels, hidden)
        self.loc = DepthwiseXCorrHead(4 * anchor_num, in_channels, hidden)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cls(z, x)[0], self.loc(z, x)[0]


def mask_head(in_channels: int = 256, hidden: int = 256, mask_size: int = MASK_SIZE) -> DepthwiseXCorrHead:
    """The mask head: a depthwise head with mask_size**2 (3969) outputs."""
    return DepthwiseXCorrHead(mask_size * mask_size, in_channels, hidden)
