"""Small-input checks of the building blocks: xcorr, neck crop, refine windows and legacy nearest upsampling."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from attsiammask_core.models import AdjustLayer, DepthwiseXCorrHead, Refine, xcorr_depthwise
from attsiammask_core.models.refine import WINDOWS, _upsample, crop_window


def _coords(channels: int, size: int) -> torch.Tensor:
    """(1,C,size,size) map whose value at (c, i, j) is 1 + c*1e6 + i*1000 + j: every entry identifies its index."""
    c = torch.arange(channels).view(channels, 1, 1) * 1e6
    i = torch.arange(size).view(1, size, 1) * 1000.0
    j = torch.arange(size).view(1, 1, size).float()
    return (1 + c + i + j).unsqueeze(0).double()


def _spec_window(feature: torch.Tensor, pad: int, size: int, step: int, pos: tuple[int, int]) -> torch.Tensor:
    """Window by explicit index arithmetic: entry (i, j) is feature[step*y - pad + i, step*x - pad + j] or 0."""
    y, x = pos
    n, c, h, w = feature.shape
    out = torch.zeros(n, c, size, size, dtype=feature.dtype)
    for i in range(size):
        for j in range(size):
            r, s = step * y - pad + i, step * x - pad + j
            if 0 <= r < h and 0 <= s < w:
                out[:, :, i, j] = feature[:, :, r, s]
    return out


def test_xcorr_depthwise_is_per_channel_cross_correlation():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 9, 8, generator=gen, dtype=torch.float64)
    k = torch.randn(2, 3, 3, 2, generator=gen, dtype=torch.float64)
    out = xcorr_depthwise(x, k)
    assert out.shape == (2, 3, 7, 7)
    for n in range(2):
        for c in range(3):
            for i in range(7):
                for j in range(7):
                    expected = (x[n, c, i:i + 3, j:j + 2] * k[n, c]).sum()  # no kernel flip
                    torch.testing.assert_close(out[n, c, i, j], expected)


def test_depthwise_head_layout_and_sizes():
    head = DepthwiseXCorrHead(10, in_channels=8, hidden=6).eval()
    assert [type(m).__name__ for m in head.head] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d"]
    assert head.head[3].bias is not None and head.head[0].bias is None
    assert head.conv_kernel[0].bias is None and head.conv_kernel[0].padding == (0, 0)
    with torch.inference_mode():
        out, feature = head(torch.randn(1, 8, 7, 7), torch.randn(1, 8, 31, 31))
    assert out.shape == (1, 10, 25, 25) and feature.shape == (1, 6, 25, 25)


def test_neck_crops_centre_7x7_only_below_width_20():
    neck = AdjustLayer(4, 4).eval()
    torch.nn.init.dirac_(neck.downsample[0].weight)  # identity conv; BN eval with default stats ~ identity
    small = _coords(4, 15).float()
    with torch.inference_mode():
        out = neck(small)
        assert out.shape == (1, 4, 7, 7)
        torch.testing.assert_close(out, neck(small, crop=False)[:, :, 4:11, 4:11])
        assert neck(_coords(4, 19).float()).shape[-1] == 7
        assert neck(_coords(4, 20).float()).shape[-1] == 20
        assert neck(_coords(4, 31).float()).shape[-1] == 31
        assert neck(_coords(4, 31).float(), crop=True).shape[-1] == 7


def test_refine_windows_follow_spec_offsets():
    sizes = (125, 63, 31)
    for window, size in zip(WINDOWS, sizes, strict=True):
        assert (window.pad, window.size, window.step) in {(16, 61, 4), (8, 31, 2), (4, 15, 1)}
        feature = _coords(2, size)
        for pos in [(0, 0), (24, 24), (3, 17), (12, 12), (24, 0)]:
            got = crop_window(feature, window, pos)
            assert got.shape == (1, 2, window.size, window.size)
            assert torch.equal(got, _spec_window(feature, window.pad, window.size, window.step, pos))
    # concrete spot check: p0 at pos (y=2, x=5) starts at padded row 8, col 20 -> f0 row -8, col 4
    p0 = crop_window(_coords(1, 125), WINDOWS[0], (2, 5))
    assert p0[0, 0, 8, 0].item() == 1 + 0 * 1000 + 4  # f0[0, 4]
    assert p0[0, 0, 7, 0].item() == 0  # above the map: zero padding


def test_legacy_nearest_upsampling():
    x = torch.arange(15.0).view(1, 1, 1, 15).expand(1, 1, 15, 15)
    up = _upsample(x, 31)
    expected = torch.tensor([(d * 15) // 31 for d in range(31)], dtype=torch.float32)
    assert torch.equal(up[0, 0, 0], expected)
    assert torch.equal(_upsample(torch.arange(61.0).view(1, 1, 1, 61).expand(1, 1, 61, 61), 127)[0, 0, 0],
                       torch.tensor([(d * 61) // 127 for d in range(127)], dtype=torch.float32))


@pytest.mark.parametrize("pos", [(0, 0), (11, 19), (24, 24)])
def test_refine_forward_uses_spec_windows(pos):
    torch.manual_seed(0)
    refine = Refine().double().eval()
    f0 = torch.randn(1, 64, 125, 125, dtype=torch.float64)
    f1 = torch.randn(1, 256, 63, 63, dtype=torch.float64)
    f2 = torch.randn(1, 512, 31, 31, dtype=torch.float64)
    corr = torch.randn(1, 256, 25, 25, dtype=torch.float64)
    y, x = pos
    with torch.inference_mode():
        out = refine(f0, f1, f2, corr, pos)
        p0 = F.pad(f0, [16] * 4)[:, :, 4 * y:4 * y + 61, 4 * x:4 * x + 61]
        p1 = F.pad(f1, [8] * 4)[:, :, 2 * y:2 * y + 31, 2 * x:2 * x + 31]
        p2 = F.pad(f2, [4] * 4)[:, :, y:y + 15, x:x + 15]
        expected = refine.fuse(p0, p1, p2, corr[:, :, y, x].reshape(1, 256, 1, 1))
    assert out.shape == (1, 1, 127, 127)
    assert torch.equal(out, expected)


def test_refine_layout():
    refine = Refine()
    assert refine.deconv.weight.shape == (256, 32, 15, 15) and refine.deconv.stride == (15, 15)
    convs = [m for m in refine.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.kernel_size == (3, 3) and m.padding == (1, 1) and m.bias is not None for m in convs)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in refine.modules())
