"""The `lfc` Att-SiamMask: LightFC's tracking-trained trunk (MobileNetV2, pointwise-correlation fusion, centre
heads) with SiamMask's mask branch and refine module, in the same crop geometry and behind the same entry points as
`LiteSiamMask` (127 template, 255 search, 16x16 cells at stride 16, "point" box head), so the tracker, the
attention step, ONNX export, both backends and training use it unchanged.

LightFC's centre-head outputs are expressed in the tracker's point-head terms: the score s as the two logits
(0, log(s / (1 - s))) and the box as distances to the left, top, right and bottom edges from each cell's point,
in crop pixels. The template kernels are the template features themselves (the fusion correlates them); the
three kernel slots carry the same tensor so the attention step weights it like any other kernel.
"""
from __future__ import annotations

import torch
from torch import nn

from .lightfc_trunk import CentreHead, MobileNetV2Trunk, PointwiseFusion, load_lightfc_ncnn, normalise_bgr
from .lite import PointKernels
from .refine import WINDOWS_STRIDE16, Refine
from .siammask import SearchFeatures, SearchOutput

SEARCH_SIZE = 255
SCORE_SIZE = 16
STRIDE = 16


class MaskFeatures(nn.Module):
    """The fused (N,192,16,16) map -> the per-cell vector the refine module deconvolves (N,96,16,16)."""

    def __init__(self, cin: int = 192, width: int = 96) -> None:
        super().__init__()
        self.tower = nn.Sequential(nn.Conv2d(cin, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                   nn.Conv2d(width, width, 1))
        self.out_channels = width

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.tower(fused)


def _points(score_size: int = SCORE_SIZE, stride: int = STRIDE) -> torch.Tensor:
    """(2, S, S) x and y of each cell's point relative to the crop centre (geometry.anchors_cxcywh's points)."""
    offsets = -(score_size // 2) * stride + stride * torch.arange(score_size, dtype=torch.float32)
    ys, xs = torch.meshgrid(offsets, offsets, indexing="ij")
    return torch.stack([xs, ys])


class LfcSiamMask(nn.Module):
    """LightFC trunk -> (box head outputs, mask features) -> refine."""

    box_head = "point"

    def __init__(self) -> None:
        super().__init__()
        self.backbone = MobileNetV2Trunk()
        self.fusion = PointwiseFusion()
        self.score_head = CentreHead(1, bounded=True)
        self.size_head = CentreHead(2, bounded=True)
        self.offset_head = CentreHead(2, bounded=False)
        self.mask_branch = MaskFeatures()
        c0, c1, c2, _ = self.backbone.out_channels
        self.refine_head = Refine(c0, c1, c2, self.mask_branch.out_channels, WINDOWS_STRIDE16, deconv_as_matmul=True)
        self.register_buffer("points", _points(), persistent=False)

    def load_lightfc(self, folder: str) -> None:
        """The trunk's weights from LightFC's FP32 ncnn files (see lightfc_trunk.load_lightfc_ncnn)."""
        load_lightfc_ncnn(folder, self.backbone, self.fusion, (self.score_head, self.size_head, self.offset_head))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Correlation feature (the backbone's stride-16 level) of a raw BGR crop of any size."""
        return self.backbone(normalise_bgr(x))[-1]

    def template_features(self, z: torch.Tensor) -> torch.Tensor:
        """Template feature (1,96,8,8) from a 127x127 exemplar."""
        return self.features(z)

    def template_kernels(self, zf: torch.Tensor) -> PointKernels:
        return PointKernels(cls=zf, loc=zf, mask=zf)

    def search_features(self, x: torch.Tensor) -> SearchFeatures:
        f0, f1, f2, f3 = self.backbone(normalise_bgr(x))
        return SearchFeatures(xf=f3, f0=f0, f1=f1, f2=f2)

    def search_heads(self, feats: SearchFeatures, kernels: PointKernels) -> SearchOutput:
        # The three slots hold one tensor; the zero terms keep every graph input used (ONNX export) at no cost.
        zf = kernels.cls + 0.0 * kernels.loc + 0.0 * kernels.mask
        fused = self.fusion(zf, feats.xf)
        score = self.score_head(fused)  # (N,1,S,S) in (0, 1)
        size = self.size_head(fused) * SEARCH_SIZE  # (N,2,S,S) w, h in crop pixels
        offset = self.offset_head(fused)
        cells = score.shape[-1]
        grid = torch.arange(cells, dtype=score.dtype, device=score.device)
        centre_x = (grid.view(1, 1, cells) + offset[:, 0]) / cells * SEARCH_SIZE - SEARCH_SIZE / 2
        centre_y = (grid.view(1, cells, 1) + offset[:, 1]) / cells * SEARCH_SIZE - SEARCH_SIZE / 2
        px, py = self.points[0].to(score.dtype), self.points[1].to(score.dtype)
        half_w, half_h = size[:, 0] / 2, size[:, 1] / 2
        loc = torch.stack([px - (centre_x - half_w), py - (centre_y - half_h),
                           centre_x + half_w - px, centre_y + half_h - py], dim=1)
        cls = torch.cat([torch.zeros_like(score), torch.log(score) - torch.log1p(-score)], dim=1)
        return SearchOutput(cls=cls, loc=loc, mask_corr=self.mask_branch(fused), f0=feats.f0, f1=feats.f1,
                            f2=feats.f2)

    def search(self, x: torch.Tensor, kernels: PointKernels) -> SearchOutput:
        return self.search_heads(self.search_features(x), kernels)

    def refine(self, out: SearchOutput, pos: tuple[int, int]) -> torch.Tensor:
        """Refined (1,127,127) mask logits (no sigmoid) at pos = (row y, col x)."""
        logits = self.refine_head(out.f0, out.f1, out.f2, out.mask_corr, pos)
        return logits.reshape(-1, logits.size(-2), logits.size(-1))
