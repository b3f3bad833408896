"""The r50 SiamMask network: real shapes, parameter/key schema, determinism, split inference == reference."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from attsiammask_core.models import SearchOutput, TemplateKernels, build_model
from attsiammask_core.models.siammask import SiamMask

REFERENCE = Path(__file__).resolve().parents[3].parent / "shared" / "reference"
PYSOT_KEYS = REFERENCE / "pysot_siammask_r50_l3_keys.json"


def _randomise_bn(model: SiamMask, seed: int = 0) -> None:
    """Non-trivial BN statistics so eval-mode BN is not the identity, and activations stay in range."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=gen) * 0.5 + 0.25)
            module.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


@pytest.fixture(scope="module")
def model() -> SiamMask:
    torch.manual_seed(0)
    net = build_model("r50")
    _randomise_bn(net)
    return net.eval()


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    z = torch.randint(0, 256, (1, 3, 127, 127), generator=gen).float()
    x = torch.randint(0, 256, (1, 3, 255, 255), generator=gen).float()
    return z, x


@pytest.fixture(scope="module")
def run(model, images) -> tuple[torch.Tensor, TemplateKernels, SearchOutput]:
    z, x = images
    with torch.inference_mode():
        zf = model.template_features(z)
        kernels = model.template_kernels(zf)
        return zf, kernels, model.search(x, kernels)


def test_build_model_eval_mode_and_unknown_variant():
    assert not build_model().training
    with pytest.raises(ValueError, match="unknown model variant 'nope'"):
        build_model("nope")


def test_parameter_and_state_dict_counts(model):
    assert sum(p.numel() for p in model.parameters()) == 21_482_052
    groups = {g: sum(p.numel() for n, p in model.named_parameters() if n.startswith(g + "."))
              for g in ("backbone", "neck", "rpn_head", "mask_head", "refine_head")}
    assert groups == {"backbone": 13_786_176, "neck": 262_656, "rpn_head": 2_501_150, "mask_head": 2_266_753,
                      "refine_head": 2_665_317}
    state = model.state_dict()
    assert len(state) == 356
    assert sum(k.endswith("num_batches_tracked") for k in state) == 53


def test_keys_and_shapes_equal_pysot_schema(model):
    if not PYSOT_KEYS.is_file():
        pytest.skip(f"reference schema not available: {PYSOT_KEYS}")
    schema = json.loads(PYSOT_KEYS.read_text())
    state = model.state_dict()
    assert list(state) == list(schema)  # same names, same order
    assert {k: list(v.shape) for k, v in state.items()} == schema


def test_backbone_feature_shapes(model, images):
    z, x = images
    with torch.inference_mode():
        fz = model.backbone(z)
        fx = model.backbone(x)
    assert [tuple(f.shape[1:]) for f in fz] == [(64, 61, 61), (256, 31, 31), (512, 15, 15), (1024, 15, 15)]
    assert [tuple(f.shape[1:]) for f in fx] == [(64, 125, 125), (256, 63, 63), (512, 31, 31), (1024, 31, 31)]
    assert model.backbone.out_channels == (64, 256, 512, 1024)


def test_inference_shapes(model, images, run):
    _, x = images
    zf, kernels, out = run
    assert zf.shape == (1, 256, 7, 7)
    for k in (kernels.cls, kernels.loc, kernels.mask):
        assert k.shape == (1, 256, 5, 5)
    with torch.inference_mode():
        assert model.features(x).shape == (1, 256, 31, 31)
        assert model.refine(out, (12, 12)).shape == (1, 127, 127)
        assert model.mask_logits(out, (0, 24)).shape == (1, 63, 63)
    assert out.cls.shape == (1, 10, 25, 25)
    assert out.loc.shape == (1, 20, 25, 25)
    assert out.mask_corr.shape == (1, 256, 25, 25)
    assert (out.f0.shape, out.f1.shape, out.f2.shape) == ((1, 64, 125, 125), (1, 256, 63, 63), (1, 512, 31, 31))
    assert all(torch.isfinite(t).all() for t in (out.cls, out.loc, out.mask_corr))


def test_features_keep_any_size_uncropped(model):
    with torch.inference_mode():
        assert model.features(torch.zeros(1, 3, 127, 127)).shape == (1, 256, 15, 15)


def test_deterministic(model, images, run):
    z, x = images
    _, _, first = run
    with torch.inference_mode():
        kernels = model.template_kernels(model.template_features(z))
        second = model.search(x, kernels)
        for name in ("cls", "loc", "mask_corr", "f0", "f1", "f2"):
            assert torch.equal(getattr(first, name), getattr(second, name)), name
        assert torch.equal(model.refine(first, (7, 18)), model.refine(second, (7, 18)))


def test_split_inference_equals_reference_formulation(model, images, run):
    """Kernels once + search (+ one-position mask head) == per-frame conv_kernel and the full 3969 map."""
    z, x = images
    _, _, out = run
    with torch.inference_mode():
        full = model(z, x)  # reference: conv_kernel recomputed inside every head, full mask map
    assert torch.equal(out.cls, full.cls)
    assert torch.equal(out.loc, full.loc)
    assert torch.equal(out.mask_corr, full.mask_corr)
    assert full.mask.shape == (1, 3969, 25, 25)
    scale = full.mask.abs().max()
    with torch.inference_mode():
        for y, x_ in [(0, 0), (12, 12), (24, 3), (5, 24)]:
            ours = model.mask_logits(out, (y, x_))
            ref = full.mask[0, :, y, x_].reshape(1, 63, 63)  # row-major 63x63 at each position
            torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5 * float(scale))
            refined = model.refine(out, (y, x_))
            ref_refined = model.refine_head(full.f0, full.f1, full.f2, full.mask_corr, (y, x_))
            assert torch.equal(refined, ref_refined.reshape(1, 127, 127))


def test_template_kernels_are_the_conv_kernel_branches(model, run):
    zf, kernels, _ = run
    with torch.inference_mode():
        assert torch.equal(kernels.cls, model.rpn_head.cls.conv_kernel(zf))
        assert torch.equal(kernels.loc, model.rpn_head.loc.conv_kernel(zf))
        assert torch.equal(kernels.mask, model.mask_head.conv_kernel(zf))


def test_backbone_layer_quirks(model):
    bb = model.backbone
    assert bb.conv1.padding == (0, 0) and bb.conv1.stride == (2, 2)
    l2 = bb.layer2[0]
    assert (l2.conv2.stride, l2.conv2.padding) == ((2, 2), (0, 0))
    assert (l2.downsample[0].kernel_size, l2.downsample[0].stride, l2.downsample[0].padding) == ((3, 3), (2, 2),
                                                                                                   (0, 0))
    l3 = bb.layer3[0]
    assert (l3.conv2.dilation, l3.conv2.padding, l3.conv2.stride) == ((1, 1), (1, 1), (1, 1))
    assert (l3.downsample[0].kernel_size, l3.downsample[0].padding) == ((3, 3), (1, 1))
    for block in bb.layer3[1:]:
        assert (block.conv2.dilation, block.conv2.padding) == ((2, 2), (2, 2))
    assert bb.layer1[0].downsample[0].kernel_size == (1, 1)
    assert not any(m.bias is not None for m in bb.modules() if isinstance(m, torch.nn.Conv2d))


def test_template_path_matches_manual_crop(model, images):
    z, _ = images
    with torch.inference_mode():
        adjusted = model.neck(model.backbone(z)[-1], crop=False)
        assert torch.equal(model.template_features(z), adjusted[:, :, 4:11, 4:11])
        # the reference rule (crop=None) crops only maps narrower than 20
        assert model.neck(model.backbone(z)[-1]).shape[-1] == 7
        assert model.neck.downsample(torch.zeros(1, 1024, 31, 31)).shape[-1] == 31
