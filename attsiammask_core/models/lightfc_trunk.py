"""LightFC's tracking-trained trunk as torch modules (BN folded into the convolutions, as deployed): MobileNetV2 to
stride 16, the pointwise-correlation fusion with squeeze-excitation and the inverted-residual adjustment, and the
three centre heads (score, size, offset). Architecture from LiYunfengLYF/LightFC (MIT): backbone/mobilnetv2.py,
fusion/ecm.py (pwcorr_se_scf_sc_iab_sc_concat), head/erh.py (repn33_se_center_concat, re-parameterised).

`load_lightfc_ncnn` copies the weights of LightFC's FP32 ncnn export (EDOGing/LightFC_Deploy) into these
modules, layer by layer in graph order, and checks the result against the ncnn graph itself.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# MobileNetV2 stages to stride 16: (expansion, channels, blocks, first stride).
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.expand = nn.Conv2d(cin, hidden, 1) if expansion != 1 else None
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden)
        self.project = nn.Conv2d(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self.expand(x)) if self.expand is not None else x
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.residual else y


class MobileNetV2Trunk(nn.Module):
    """Normalised RGB in; (f0, f1, f2, f3) at strides 2, 4, 8, 16 with 16, 24, 32, 96 channels."""

    out_channels = (16, 24, 32, 96)

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, 2, 1)
        stages, cin = [], 32
        for expansion, cout, blocks, stride in STAGES:
            stages.append(nn.Sequential(*(InvertedResidual(cin if i == 0 else cout, cout, stride if i == 0 else 1,
                                                           expansion) for i in range(blocks))))
            cin = cout
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.relu6(self.stem(x))
        levels = []
        for stage in self.stages:
            x = stage(x)
            levels.append(x)
        return levels[0], levels[1], levels[2], levels[4]


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.expand(F.relu(self.reduce(x.mean((2, 3), keepdim=True)))))
        return x * gate


class PointwiseFusion(nn.Module):
    """Template (N,96,8,8) and search (N,96,16,16) features -> (N,192,16,16): the search map correlated with
    every template cell (64 channels), gated, re-parameterised 1x1+3x3 depthwise with identity, a GELU
    inverted residual, adjusted to 96 channels and concatenated with the search features."""

    def __init__(self, channels: int = 96, cells: int = 64) -> None:
        super().__init__()
        self.se = SqueezeExcitation(cells, cells)
        self.dw1 = nn.Conv2d(cells, cells, 1, groups=cells)
        self.dw3 = nn.Conv2d(cells, cells, 3, padding=1, groups=cells)
        self.inner1 = nn.Conv2d(cells, 2 * cells, 1)
        self.inner2 = nn.Conv2d(2 * cells, cells, 1)
        self.adjust = nn.Conv2d(cells, channels, 1)

    def forward(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        n, c, h, w = xf.shape
        corr = torch.matmul(zf.flatten(2).transpose(1, 2), xf.flatten(2)).view(n, -1, h, w)
        corr = self.se(corr)
        corr = corr + self.dw1(corr) + self.dw3(corr)
        corr = corr + self.inner2(F.gelu(self.inner1(corr)))
        return torch.cat([self.adjust(corr), xf], dim=1)


class CentreHead(nn.Module):
    """192 -> 256 (SE) -> 128 -> 64 -> 32 -> out_channels; sigmoid clamped to [1e-4, 1 - 1e-4] when `bounded`."""

    def __init__(self, out_channels: int, bounded: bool, cin: int = 192) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, 256, 3, padding=1)
        self.se = SqueezeExcitation(256, 64)
        self.convs = nn.ModuleList([nn.Conv2d(256, 128, 3, padding=1), nn.Conv2d(128, 64, 3, padding=1),
                                    nn.Conv2d(64, 32, 3, padding=1)])
        self.out = nn.Conv2d(32, out_channels, 1)
        self.bounded = bounded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.se(F.relu(self.conv1(x)))
        for conv in self.convs:
            x = F.relu(conv(x))
        x = self.out(x)
        return torch.clamp(torch.sigmoid(x), 1e-4, 1 - 1e-4) if self.bounded else x


def normalise_bgr(x: torch.Tensor) -> torch.Tensor:
    """Raw BGR 0-255 crops (what the tracker cuts) -> LightFC's input: RGB / 255, ImageNet mean and std."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1) * 255.0
    return (x.flip(1) - mean) / std


def _convs(module: nn.Module) -> Iterator[nn.Conv2d]:
    return (m for m in module.modules() if isinstance(m, nn.Conv2d))


def _fusion_order(fusion: PointwiseFusion) -> list[nn.Conv2d]:
    """The fusion's convolutions in the ncnn graph's order (SE, 1x1 dw, 3x3 dw, inner residual, adjust)."""
    return [fusion.se.reduce, fusion.se.expand, fusion.dw1, fusion.dw3, fusion.inner1, fusion.inner2, fusion.adjust]


def _head_order(head: CentreHead) -> list[nn.Conv2d]:
    return [head.conv1, head.se.reduce, head.se.expand, *head.convs, head.out]


def load_lightfc_ncnn(folder: str | Path, backbone: MobileNetV2Trunk, fusion: PointwiseFusion,
                      heads: tuple[CentreHead, CentreHead, CentreHead]) -> None:
    """Copy lightfc_{search,fusion,score,size,offset}.ncnn.{param,bin} from `folder` into the modules, then
    check them against the ncnn graphs on a random input (RuntimeError when they differ)."""
    from .ncnn_graph import NcnnGraph

    folder = Path(folder)
    graphs = {}
    for part in ("search", "fusion", "score", "size", "offset"):
        param, weights = (folder / f"lightfc_{part}.ncnn.{ext}" for ext in ("param", "bin"))
        if not param.is_file() or not weights.is_file():
            raise FileNotFoundError(f"LightFC ncnn file missing: {param if not param.is_file() else weights}")
        graphs[part] = NcnnGraph(param.read_text(), weights.read_bytes())
    targets = {"search": list(_convs(backbone)), "fusion": _fusion_order(fusion),
               "score": _head_order(heads[0]), "size": _head_order(heads[1]), "offset": _head_order(heads[2])}
    for part, convs in targets.items():
        sources = list(graphs[part].convs.values())
        if len(sources) != len(convs):
            raise ValueError(f"lightfc_{part}: the ncnn graph has {len(sources)} convolutions, the module {len(convs)}")
        for source, target in zip(sources, convs, strict=True):
            if source.weight.shape != target.weight.shape:
                raise ValueError(f"lightfc_{part}: weight shape {tuple(source.weight.shape)} does not fit "
                                 f"{tuple(target.weight.shape)}")
            target.weight.data.copy_(source.weight.data)
            target.bias.data.copy_(source.bias.data)
    generator = torch.Generator().manual_seed(0)
    z, x = torch.randn(1, 3, 128, 128, generator=generator), torch.randn(1, 3, 256, 256, generator=generator)
    with torch.no_grad():
        zf, xf = backbone(z)[3], backbone(x)[3]
        fused = fusion(zf, xf)
        ours = [zf, xf, fused, *(head(fused) for head in heads)]
        (nzf,), (nxf,) = graphs["search"](z), graphs["search"](x)
        (nfused,) = graphs["fusion"](nzf, nxf)
        theirs = [nzf, nxf, nfused, *(graphs[p](nfused)[0] for p in ("score", "size", "offset"))]
    worst = max(float((a - b).abs().max() / (b.abs().max() + 1e-6)) for a, b in zip(ours, theirs, strict=True))
    if worst > 1e-4:
        raise RuntimeError(f"LightFC modules differ from the ncnn graphs by {worst:.2e} (relative)")
