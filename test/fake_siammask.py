"""Small stand-ins for the SiamMask model in tracker tests: the same methods and output shapes, planted outputs."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from attsiammask_core.models.siammask import SearchFeatures, SearchOutput, TemplateKernels


class PlantedModel(nn.Module):
    """search() returns planted cls/loc maps, refine() planted mask logits; calls are recorded."""

    def __init__(self, score_size: int = 25, anchor_num: int = 5) -> None:
        super().__init__()
        self.anchor_num, self.score_size = anchor_num, score_size
        self.register_buffer("fg", torch.full((anchor_num, score_size, score_size), -10.0))
        self.register_buffer("deltas", torch.zeros(4, anchor_num, score_size, score_size))
        self.register_buffer("mask", torch.full((127, 127), -10.0))
        self.refine_calls: list[tuple[int, int]] = []
        self.search_devices: list[torch.device] = []

    def set_score(self, a: int, y: int, x: int, prob: float, deltas: tuple[float, ...] = (0, 0, 0, 0)) -> None:
        """Plant foreground probability `prob` (background logit 0) and the box deltas at anchor a, cell (y, x)."""
        self.fg[a, y, x] = math.log(prob / (1 - prob))
        self.deltas[:, a, y, x] = torch.tensor(deltas, dtype=torch.float32)

    def clear(self, logit: float = -10.0) -> None:
        """All candidates back to the given foreground logit, zero deltas."""
        self.fg.fill_(logit)
        self.deltas.zero_()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        side = (x.shape[-1] - 15) // 8 + 1
        return x.new_zeros(1, 256, side, side)

    def template_features(self, z: torch.Tensor) -> torch.Tensor:
        assert z.shape == (1, 3, 127, 127) and z.dtype == torch.float32
        return z.new_zeros(1, 256, 7, 7)

    def template_kernels(self, zf: torch.Tensor) -> TemplateKernels:
        return TemplateKernels(cls=zf[..., 1:6, 1:6] + 0, loc=zf[..., 1:6, 1:6] * 2, mask=zf[..., 1:6, 1:6] * 3)

    def search_features(self, x: torch.Tensor) -> SearchFeatures:
        assert x.shape == (1, 3, 255, 255) and x.dtype == torch.float32
        self.search_devices.append(x.device)
        zeros = x.new_zeros(1, 1, 1, 1)
        return SearchFeatures(xf=x.new_zeros(1, 256, 31, 31), f0=zeros, f1=zeros, f2=zeros)

    def search_heads(self, feats: SearchFeatures, kernels: TemplateKernels) -> SearchOutput:
        s = self.score_size
        cls = torch.cat([torch.zeros_like(self.fg), self.fg]).reshape(1, 2 * self.anchor_num, s, s)
        loc = self.deltas.reshape(1, 4 * self.anchor_num, s, s).clone()
        return SearchOutput(cls=cls, loc=loc, mask_corr=feats.xf.new_zeros(1, 256, s, s), f0=feats.f0, f1=feats.f1,
                            f2=feats.f2)

    def search(self, x: torch.Tensor, kernels: TemplateKernels) -> SearchOutput:
        return self.search_heads(self.search_features(x), kernels)

    def refine(self, out: SearchOutput, pos: tuple[int, int]) -> torch.Tensor:
        self.refine_calls.append(pos)
        return self.mask[None].clone()


class ConvFeatureModel(PlantedModel):
    """PlantedModel whose features are a fixed random 15x15 stride-8 projection of (image - 128).

    Its 15x15 template map cell j is centred on crop pixel 8 j + 7, as the real model's is.
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("weight", torch.randn(256, 3, 15, 15, generator=generator) * 0.01)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x - 128.0, self.weight, stride=8)

    def template_features(self, z: torch.Tensor) -> torch.Tensor:
        return self.features(z)[..., 4:11, 4:11]
