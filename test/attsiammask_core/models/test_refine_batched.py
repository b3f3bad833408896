"""Refine.forward_at (training path, one position per window) equals Refine.forward at each single position."""
import torch

from attsiammask_core.models import Refine


def test_forward_at_equals_single_position_path():
    torch.manual_seed(0)
    refine = Refine(8, 12, 16, 20).double().eval()
    n = 3
    f0 = torch.randn(n, 8, 125, 125, dtype=torch.float64)
    f1 = torch.randn(n, 12, 63, 63, dtype=torch.float64)
    f2 = torch.randn(n, 16, 31, 31, dtype=torch.float64)
    corr = torch.randn(n, 20, 25, 25, dtype=torch.float64)
    # two windows from sample 0, one from 2, one from 1; includes border positions (zero padding)
    index = torch.tensor([0, 2, 0, 1])
    ys = torch.tensor([0, 24, 12, 5])
    xs = torch.tensor([24, 0, 12, 19])
    with torch.no_grad():
        batched = refine.forward_at(f0, f1, f2, corr, ys, xs, index)
        assert batched.shape == (4, 1, 127, 127)
        for m in range(4):
            b = int(index[m])
            single = refine(f0[b:b + 1], f1[b:b + 1], f2[b:b + 1], corr[b:b + 1], (int(ys[m]), int(xs[m])))
            torch.testing.assert_close(batched[m:m + 1], single, rtol=1e-12, atol=1e-12)
        default = refine.forward_at(f0, f1, f2, corr, ys[:3], xs[:3])
        single = refine(f0[1:2], f1[1:2], f2[1:2], corr[1:2], (int(ys[1]), int(xs[1])))
        torch.testing.assert_close(default[1:2], single, rtol=1e-12, atol=1e-12)


def test_forward_at_backpropagates_into_features():
    refine = Refine(4, 4, 4, 4)
    f0 = torch.randn(2, 4, 125, 125, requires_grad=True)
    f1, f2 = torch.randn(2, 4, 63, 63), torch.randn(2, 4, 31, 31)
    corr = torch.randn(2, 4, 25, 25, requires_grad=True)
    refine.forward_at(f0, f1, f2, corr, torch.tensor([3, 7]), torch.tensor([9, 1])).sum().backward()
    assert f0.grad is not None and corr.grad[0, :, 3, 9].abs().sum() > 0 and corr.grad[0, :, 0, 0].abs().sum() == 0
