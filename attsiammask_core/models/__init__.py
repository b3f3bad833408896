"""SiamMask networks: backbones, neck, depthwise heads, refine, assembly, and `build_model` by variant name."""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .efficientnet_lite import EfficientNetLite0Trunk, load_imagenet_weights
from .heads import DepthwiseXCorrHead, RPNHead, mask_head, xcorr_depthwise
from .lfc import LfcSiamMask
from .lite import LiteSiamMask, PointKernels
from .mobilenetv3 import MobileNetV3SmallTrunk
from .neck import AdjustLayer, Neck
from .refine import Refine
from .resnet50 import ResNet50
from .siammask import SearchOutput, SiamMask, TemplateKernels, TrainingOutput


def assemble(backbone: nn.Module, neck_channels: int = 256, anchor_num: int = 5) -> SiamMask:
    """SiamMask around any backbone exposing `out_channels` of (f0, f1, f2, f3); for a 255 search crop the
    refine windows expect f0/f1/f2 at 125/63/31 and f3 at 31 (15 for the 127 template)."""
    c0, c1, c2, c3 = backbone.out_channels
    return SiamMask(backbone=backbone,
                    neck=Neck(c3, neck_channels),
                    rpn_head=RPNHead(anchor_num, neck_channels, neck_channels),
                    mask_head=mask_head(neck_channels, neck_channels),
                    refine_head=Refine(c0, c1, c2, neck_channels))


def build_r50() -> SiamMask:
    """The paper's model: SiamMask sharp with the modified ResNet-50 (pysot siammask_r50_l3)."""
    return assemble(ResNet50())


def build_lite() -> LiteSiamMask:
    """The embedded CPU model: NanoTrack V2's MobileNetV3 trunk and box head (stride 16), mask branch, refine."""
    return LiteSiamMask()


def build_lfc() -> LfcSiamMask:
    """LightFC's tracking-trained trunk (MobileNetV2, pointwise-correlation fusion, centre heads), our mask branch
    and refine."""
    return LfcSiamMask()


def build_effnet() -> SiamMask:
    """The first CPU model (kept for its checkpoints): EfficientNet-Lite0 trunk (stride 8), 128-channel heads."""
    return assemble(EfficientNetLite0Trunk(), neck_channels=EFFNET_CHANNELS)


EFFNET_CHANNELS = 128
# The embedded CPU model is the default wherever a variant is not named (Tracker.create, track, eval "ours").
DEFAULT_VARIANT = "lite"
MODELS: dict[str, Callable[[], nn.Module]] = {"r50": build_r50, "lite": build_lite, "effnet": build_effnet,
                                              "lfc": build_lfc}


def build_model(variant: str = "r50") -> nn.Module:
    """A randomly initialised model of the named variant, in eval mode (BN uses running statistics)."""
    try:
        constructor = MODELS[variant]
    except KeyError:
        raise ValueError(f"unknown model variant {variant!r}; known: {', '.join(sorted(MODELS))}") from None
    return constructor().eval()


__all__ = ["DEFAULT_VARIANT", "MODELS", "AdjustLayer", "DepthwiseXCorrHead", "EfficientNetLite0Trunk", "Neck",
           "LfcSiamMask", "LiteSiamMask", "MobileNetV3SmallTrunk", "PointKernels", "build_effnet",
           "RPNHead", "Refine", "ResNet50", "SearchOutput", "SiamMask", "TemplateKernels", "TrainingOutput", "assemble",
           "build_lfc", "build_lite", "build_model", "build_r50", "load_imagenet_weights", "mask_head",
           "xcorr_depthwise"]
