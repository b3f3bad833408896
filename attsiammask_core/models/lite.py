"""The `lite` Att-SiamMask: NanoTrack V2's tracking-trained MobileNetV3 trunk and box head (stride 16), plus
SiamMask's mask branch and refine module. Same inference entry points as `SiamMask`, so the tracker, the
attention step and training use either model unchanged."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from .mobilenetv3 import MobileNetV3SmallTrunk
from .pixelwise import MaskBranch, PointBoxHead
from .refine import WINDOWS_STRIDE16, Refine
from .siammask import SearchFeatures, SearchOutput


@dataclass
class PointKernels:
    """Template-side tensors computed once per target: the conv_kernel outputs of the three correlations."""

    cls: torch.Tensor
    loc: torch.Tensor
    mask: torch.Tensor


class LiteSiamMask(nn.Module):
    """Backbone -> (box head, mask branch) -> refine. The template feature is the whole 8x8 map (no neck crop).

    Outputs per search crop: cls (1,2,16,16) [background, target], loc (1,4,16,16) left/top/right/bottom
    distances in crop pixels from each cell's point, mask_corr (1,96,16,16) for the refine module.
    """

    box_head = "point"  # how the tracker reads cls/loc (TrackerConfig.head)

    def __init__(self, backbone: nn.Module | None = None, box_head: nn.Module | None = None,
                 mask_branch: MaskBranch | None = None, refine_head: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone or MobileNetV3SmallTrunk()
        self.ban_head = box_head or PointBoxHead()
        self.mask_branch = mask_branch or MaskBranch()
        c0, c1, c2, _ = self.backbone.out_channels
        self.refine_head = refine_head or Refine(c0, c1, c2, self.mask_branch.out_channels, WINDOWS_STRIDE16,
                                                deconv_as_matmul=True)

    def optimize_for_inference(self) -> LiteSiamMask:
        """Trace the per-frame paths (search backbone, heads, refine fusion) into frozen TorchScript with BN folded
        into the convolutions (measured 6.2 -> 3.9 ms for the backbone on one CPU thread), used from then on by
        `search_features`, `search_heads` and `refine` outside training. The traces hold a copy of the current
        weights: load weights first; `train()`, `to()` or loading weights drops them."""
        self.eval()
        search = torch.zeros(1, 3, 255, 255)
        with torch.no_grad():
            kernels = self.template_kernels(self.template_features(torch.zeros(1, 3, 127, 127)))
            feats = self.search_features(search)
            out = self.search_heads(feats, kernels)
            windows = self.refine_head.windows_at(out.f0, out.f1, out.f2, out.mask_corr, (8, 8))
            with warnings.catch_warnings():  # TorchScript is deprecated in favour of torch.compile, which needs a
                warnings.simplefilter("ignore", DeprecationWarning)  # C++ toolchain and compiles for seconds
                warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks: constant per trace
                traced = {
                    "backbone": torch.jit.trace(self.backbone, search),
                    "heads": torch.jit.trace(_HeadsForTrace(self), (feats.xf, kernels.cls, kernels.loc,
                                                                    kernels.mask)),
                    "fuse": torch.jit.trace(_FuseForTrace(self.refine_head), windows),
                }
                self._traced = {k: torch.jit.optimize_for_inference(torch.jit.freeze(v.eval()))
                                for k, v in traced.items()}
        return self

    def _fast(self, name: str) -> torch.nn.Module | None:
        traced = self.__dict__.get("_traced")
        return traced[name] if traced and not self.training and not torch.is_grad_enabled() else None

    def train(self, mode: bool = True) -> LiteSiamMask:
        if mode:
            self.__dict__.pop("_traced", None)
        return super().train(mode)

    def load_state_dict(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.__dict__.pop("_traced", None)
        return super().load_state_dict(*args, **kwargs)

    def _apply(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        probe = self.refine_head.post2.weight
        before = (probe.device, probe.dtype)
        result = super()._apply(*args, **kwargs)
        probe = self.refine_head.post2.weight
        if (probe.device, probe.dtype) != before:  # .to(device) / .half(): the traces hold the old tensors
            self.__dict__.pop("_traced", None)
        return result

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Correlation feature (the backbone's last level) of a crop of any size."""
        return self.backbone(x)[-1]

    def template_features(self, z: torch.Tensor) -> torch.Tensor:
        """Template feature (1,48,8,8) from a 127x127 exemplar."""
        return self.features(z)

    def template_kernels(self, zf: torch.Tensor) -> PointKernels:
        head = self.ban_head
        return PointKernels(cls=head.corr_pw_cls.conv_kernel(zf), loc=head.corr_pw_reg.conv_kernel(zf),
                            mask=self.mask_branch.corr.conv_kernel(zf))

    def search_features(self, x: torch.Tensor) -> SearchFeatures:
        fast = self._fast("backbone") if x.shape[-1] == 255 else None
        f0, f1, f2, f3 = fast(x) if fast is not None else self.backbone(x)
        return SearchFeatures(xf=f3, f0=f0, f1=f1, f2=f2)

    def search_heads(self, feats: SearchFeatures, kernels: PointKernels) -> SearchOutput:
        fast = self._fast("heads")
        if fast is not None:
            cls, loc, mask_corr = fast(feats.xf, kernels.cls, kernels.loc, kernels.mask)
        else:
            cls, loc = self.ban_head.heads(feats.xf, kernels.cls, kernels.loc)
            mask_corr = self.mask_branch.correlate(feats.xf, kernels.mask)
        return SearchOutput(cls=cls, loc=loc, mask_corr=mask_corr, f0=feats.f0, f1=feats.f1, f2=feats.f2)

    def search(self, x: torch.Tensor, kernels: PointKernels) -> SearchOutput:
        return self.search_heads(self.search_features(x), kernels)

    def refine(self, out: SearchOutput, pos: tuple[int, int]) -> torch.Tensor:
        """Refined (1,127,127) mask logits (no sigmoid) at pos = (row y, col x)."""
        fast = self._fast("fuse")
        if fast is not None:
            logits = fast(*self.refine_head.windows_at(out.f0, out.f1, out.f2, out.mask_corr, pos))
        else:
            logits = self.refine_head(out.f0, out.f1, out.f2, out.mask_corr, pos)
        return logits.reshape(-1, logits.size(-2), logits.size(-1))

    def init_mask_branch_from_box_head(self) -> None:
        """Start the mask correlation from the tracking-trained classification correlation and its first tower
        layers (same shapes), so the mask branch begins from features that already locate the target."""
        self.mask_branch.corr.load_state_dict(self.ban_head.corr_pw_cls.state_dict())
        tower = self.mask_branch.tower.state_dict()
        source = self.ban_head.cls_pw_tower.state_dict()
        self.mask_branch.tower.load_state_dict({key: source[key] for key in tower})



class _HeadsForTrace(nn.Module):
    """search_heads with plain tensor inputs and outputs (what torch.jit.trace takes)."""

    def __init__(self, model: LiteSiamMask) -> None:
        super().__init__()
        self.ban_head, self.mask_branch = model.ban_head, model.mask_branch

    def forward(self, xf: torch.Tensor, cls_kernel: torch.Tensor, loc_kernel: torch.Tensor,
                mask_kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cls, loc = self.ban_head.heads(xf, cls_kernel, loc_kernel)
        return cls, loc, self.mask_branch.correlate(xf, mask_kernel)


class _FuseForTrace(nn.Module):
    def __init__(self, refine: nn.Module) -> None:
        super().__init__()
        self.refine = refine

    def forward(self, p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor, p3: torch.Tensor) -> torch.Tensor:
        return self.refine.fuse(p0, p1, p2, p3)
