"""The SiamMask "sharp" refine module: fuses the winner's correlation vector with f0-f2 windows to 127x127."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Window:
    """Zero padding of a feature map, then a size x size crop whose top-left is step * pos."""

    pad: int
    size: int
    step: int


# Spec section 7: f0 pad 16 -> 61x61 at 4y; f1 pad 8 -> 31x31 at 2y; f2 pad 4 -> 15x15 at y.
WINDOWS: tuple[Window, Window, Window] = (Window(16, 61, 4), Window(8, 31, 2), Window(4, 15, 1))
# The same 127-pixel crop windows for a stride-16 score map (f0-f2 at strides 2, 4, 8): the window of score cell
# y starts at crop pixel 16 y - 64, i.e. at cell 8 y - 32 of f0, 4 y - 16 of f1 and 2 y - 8 of f2.
WINDOWS_STRIDE16: tuple[Window, Window, Window] = (Window(32, 61, 8), Window(16, 31, 4), Window(8, 15, 2))
OUTPUT_SIZE = 127


def crop_window(feature: torch.Tensor, window: Window, pos: tuple[int, int]) -> torch.Tensor:
    """Zero-pad `feature` (N,C,H,W) by window.pad and cut the window for pos = (row y, col x)."""
    y, x = pos
    padded = F.pad(feature, [window.pad] * 4)
    top, left = window.step * y, window.step * x
    return padded[:, :, top:top + window.size, left:left + window.size]


def _branch(in_channels: int, mid: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 convs (padding 1, bias), each followed by ReLU; indices 0 and 2 hold the weights."""
    return nn.Sequential(nn.Conv2d(in_channels, mid, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(mid, out_channels, 3, padding=1), nn.ReLU(inplace=True))


class Refine(nn.Module):
    """Refine head (keys refine_head.{v0,v1,v2,h0,h1,h2,deconv,post0,post1,post2}.*)."""

    def __init__(self, f0_channels: int = 64, f1_channels: int = 256, f2_channels: int = 512,
                 corr_channels: int = 256, windows: tuple[Window, Window, Window] = WINDOWS,
                 deconv_as_matmul: bool = False) -> None:
        super().__init__()
        self.windows = windows
        # The 15x15 deconvolution of a 1x1 vector is one matrix product; as a product it costs a tenth on a CPU
        # (0.9 ms as ConvTranspose2d for 96 channels). Same result up to float rounding, so r50 keeps the conv.
        self.deconv_as_matmul = deconv_as_matmul
        self.v0 = _branch(f0_channels, 16, 4)
        self.v1 = _branch(f1_channels, 64, 16)
        self.v2 = _branch(f2_channels, 128, 32)
        self.h2 = _branch(32, 32, 32)
        self.h1 = _branch(16, 16, 16)
        self.h0 = _branch(4, 4, 4)
        self.deconv = nn.ConvTranspose2d(corr_channels, 32, 15, 15)
        self.post0 = nn.Conv2d(32, 16, 3, padding=1)
        self.post1 = nn.Conv2d(16, 4, 3, padding=1)
        self.post2 = nn.Conv2d(4, 1, 3, padding=1)

    def fuse(self, p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor, p3: torch.Tensor) -> torch.Tensor:
        """Windows (N,64,61,61), (N,256,31,31), (N,512,15,15), corr vector (N,256,1,1) -> (N,1,127,127) logits."""
        if self.deconv_as_matmul and p3.shape[-2:] == (1, 1):
            weight = self.deconv.weight  # (C_in, 32, 15, 15)
            out = (p3.flatten(1) @ weight.flatten(1)).view(-1, *weight.shape[1:]) + self.deconv.bias[:, None, None]
        else:
            out = self.deconv(p3)
        out = self.post0(_upsample(self.h2(out) + self.v2(p2), 31))
        out = self.post1(_upsample(self.h1(out) + self.v1(p1), 61))
        return self.post2(_upsample(self.h0(out) + self.v0(p0), OUTPUT_SIZE))

    def windows_at(self, f0: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor, corr: torch.Tensor,
                   pos: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The inputs of `fuse` at score-map position pos = (row y, col x)."""
        y, x = pos
        p0, p1, p2 = (crop_window(f, w, pos) for f, w in zip((f0, f1, f2), self.windows, strict=True))
        return p0, p1, p2, corr[:, :, y:y + 1, x:x + 1]

    def forward(self, f0: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor, corr: torch.Tensor,
                pos: tuple[int, int]) -> torch.Tensor:
        """Refine logits (N,1,127,127) at score-map position pos = (row y, col x)."""
        return self.fuse(*self.windows_at(f0, f1, f2, corr, pos))

    def forward_at(self, f0: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor, corr: torch.Tensor,
                   ys: torch.Tensor, xs: torch.Tensor, batch_index: torch.Tensor | None = None) -> torch.Tensor:
        """Training path: refine logits (M,1,127,127) at a different position per window.

        Window m is cut from sample ``batch_index[m]`` (default: m, one window per sample) at score-map position
        (ys[m], xs[m]); each window equals what `forward` gives for that sample at that single position.
        """
        ys, xs = ys.to(device=f0.device, dtype=torch.long), xs.to(device=f0.device, dtype=torch.long)
        if batch_index is None:
            batch_index = torch.arange(ys.numel(), device=f0.device)
        batch_index = batch_index.to(device=f0.device, dtype=torch.long)
        p0, p1, p2 = (_gather_windows(f, w, batch_index, ys, xs)
                      for f, w in zip((f0, f1, f2), self.windows, strict=True))
        p3 = corr[batch_index, :, ys, xs][:, :, None, None]
        return self.fuse(p0, p1, p2, p3)


def _gather_windows(feature: torch.Tensor, window: Window, batch_index: torch.Tensor, ys: torch.Tensor,
                    xs: torch.Tensor) -> torch.Tensor:
    """(M,C,size,size) windows of the zero-padded feature, window m from sample batch_index[m] at (ys[m], xs[m])."""
    padded = F.pad(feature, [window.pad] * 4)
    offsets = torch.arange(window.size, device=feature.device)
    rows = (window.step * ys)[:, None] + offsets[None, :]  # (M, size)
    cols = (window.step * xs)[:, None] + offsets[None, :]
    picked = padded[batch_index]  # (M, C, H+2p, W+2p)
    picked = picked.gather(2, rows[:, None, :, None].expand(-1, picked.size(1), -1, picked.size(3)))
    return picked.gather(3, cols[:, None, None, :].expand(-1, picked.size(1), picked.size(2), -1))


def _upsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Legacy nearest upsampling (source index floor(dst * in / out)), as deprecated F.upsample did."""
    return F.interpolate(x, size=(size, size), mode="nearest")
