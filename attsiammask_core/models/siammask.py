"""SiamMask assembly from injected submodules, with split inference entry points (template / search / refine)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .heads import DepthwiseXCorrHead, RPNHead


@dataclass
class TemplateKernels:
    """Template-side head tensors, computed once per target (conv_kernel branch outputs, (1,256,5,5))."""

    cls: torch.Tensor
    loc: torch.Tensor
    mask: torch.Tensor


@dataclass
class SearchOutput:
    """Per-frame search results: cls (1,10,25,25), loc (1,20,25,25), mask_corr (1,256,25,25), f0-f2."""

    cls: torch.Tensor
    loc: torch.Tensor
    mask_corr: torch.Tensor
    f0: torch.Tensor
    f1: torch.Tensor
    f2: torch.Tensor


@dataclass
class SearchFeatures:
    """Search-crop features: neck output xf (1,256,31,31) and backbone f0-f2 for refine."""

    xf: torch.Tensor
    f0: torch.Tensor
    f1: torch.Tensor
    f2: torch.Tensor


@dataclass
class TrainingOutput:
    """Full outputs of `SiamMask.forward`, including the (N,3969,25,25) raw mask map."""

    cls: torch.Tensor
    loc: torch.Tensor
    mask: torch.Tensor
    mask_corr: torch.Tensor
    f0: torch.Tensor
    f1: torch.Tensor
    f2: torch.Tensor


class SiamMask(nn.Module):
    """Backbone -> neck -> depthwise heads (RPN, mask) + refine. Holds no tracking state, reads no config."""

    box_head = "anchor"  # how the tracker reads cls/loc (TrackerConfig.head)

    def __init__(self, backbone: nn.Module, neck: nn.Module, rpn_head: RPNHead, mask_head: DepthwiseXCorrHead,
                 refine_head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.rpn_head = rpn_head
        self.mask_head = mask_head
        self.refine_head = refine_head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone f3 then neck, without the centre crop (any input size)."""
        return self.neck(self.backbone(x)[-1], crop=False)

    def template_features(self, z: torch.Tensor) -> torch.Tensor:
        """Template feature (1,256,7,7) from a 127x127 exemplar: backbone, neck, centre crop."""
        return self.neck(self.backbone(z)[-1], crop=True)

    def template_kernels(self, zf: torch.Tensor) -> TemplateKernels:
        """The three conv_kernel branches on the template feature; run once per target."""
        return TemplateKernels(cls=self.rpn_head.cls.conv_kernel(zf), loc=self.rpn_head.loc.conv_kernel(zf),
                               mask=self.mask_head.conv_kernel(zf))

    def search(self, x: torch.Tensor, kernels: TemplateKernels) -> SearchOutput:
        """Per-frame pass: backbone, neck, search branches, xcorr, cls/loc heads (not the 3969-channel mask head)."""
        return self.search_heads(self.search_features(x), kernels)

    def search_features(self, x: torch.Tensor) -> SearchFeatures:
        """First half of `search`: backbone and neck on the search crop."""
        f0, f1, f2, f3 = self.backbone(x)
        return SearchFeatures(xf=self.neck(f3, crop=False), f0=f0, f1=f1, f2=f2)

    def search_heads(self, feats: SearchFeatures, kernels: TemplateKernels) -> SearchOutput:
        """Second half of `search`: search branches, depthwise xcorr with the cached kernels, cls/loc 1x1 heads."""
        xf = feats.xf
        cls = self.rpn_head.cls.head(self.rpn_head.cls.correlate(xf, kernels.cls))
        loc = self.rpn_head.loc.head(self.rpn_head.loc.correlate(xf, kernels.loc))
        mask_corr = self.mask_head.correlate(xf, kernels.mask)
        return SearchOutput(cls=cls, loc=loc, mask_corr=mask_corr, f0=feats.f0, f1=feats.f1, f2=feats.f2)

    def mask_logits(self, out: SearchOutput, pos: tuple[int, int]) -> torch.Tensor:
        """Raw (1,63,63) mask logits at pos = (row y, col x): the 1x1 mask head on that single 256-vector."""
        y, x = pos
        logits = self.mask_head.head(out.mask_corr[:, :, y:y + 1, x:x + 1])
        side = math.isqrt(logits.size(1))
        return logits.reshape(-1, side, side)

    def refine(self, out: SearchOutput, pos: tuple[int, int]) -> torch.Tensor:
        """Refined (1,127,127) mask logits (no sigmoid) at pos = (row y, col x)."""
        logits = self.refine_head(out.f0, out.f1, out.f2, out.mask_corr, pos)
        return logits.reshape(-1, logits.size(-2), logits.size(-1))

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> TrainingOutput:
        """Training only: the full reference computation, including the 3969-channel mask map at every position."""
        zf = self.template_features(z)
        f0, f1, f2, f3 = self.backbone(x)
        xf = self.neck(f3, crop=False)
        cls, _ = self.rpn_head.cls(zf, xf)
        loc, _ = self.rpn_head.loc(zf, xf)
        mask, mask_corr = self.mask_head(zf, xf)
        return TrainingOutput(cls=cls, loc=loc, mask=mask, mask_corr=mask_corr, f0=f0, f1=f1, f2=f2)
