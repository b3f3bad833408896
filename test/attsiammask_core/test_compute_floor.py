"""Multiply-add counts of a tracking step and the float32 rate probe behind `bench --floor`."""
from __future__ import annotations

import argparse

import pytest
import torch
from torch import nn

from attsiammask_core.compute_floor import PEAK_LAYER, LayerShape, _layer_macs, layer_rates, step_arithmetic


def test_layer_macs_of_each_layer_kind():
    conv = nn.Conv2d(3, 8, 3)
    x = torch.zeros(1, 3, 10, 10)
    assert _layer_macs(conv, (x,), conv(x)) == 8 * 8 * 8 * 3 * 3 * 3  # 8x8 outputs, 8 channels, 27 products each
    deconv = nn.ConvTranspose2d(4, 2, 2, stride=2)
    y = torch.zeros(1, 4, 5, 5)
    assert _layer_macs(deconv, (y,), deconv(y)) == 4 * 5 * 5 * 2 * 2 * 2  # each input meets a 2x2 kernel per output
    linear = nn.Linear(10, 5)
    z = torch.zeros(2, 10)
    assert _layer_macs(linear, (z,), linear(z)) == 2 * 5 * 10


def test_r50_arithmetic_holds_its_largest_layer_and_outweighs_lite():
    r50, lite = step_arithmetic("r50"), step_arithmetic("lite")
    assert PEAK_LAYER.macs == 1024 * 512 * 9 * 31 * 31  # layer3's 3x3 shortcut: 4.5 G of r50's search step
    assert 15e9 < r50.search_macs < 17e9 and r50.search_macs > 3 * PEAK_LAYER.macs
    assert 0 < r50.refine_macs < r50.search_macs and 0 < lite.refine_macs
    assert r50.total_gmacs > 50 * lite.total_gmacs
    assert r50.total_gmacs == pytest.approx((r50.search_macs + r50.refine_macs) / 1e9)


def test_layer_rates_time_the_layer_in_each_installed_runtime():
    small = LayerShape(input_shape=(1, 16, 20, 20), out_channels=32, kernel=(3, 3), stride=(1, 1), padding=(1, 1),
                       dilation=(1, 1), groups=1, macs=32 * 16 * 9 * 20 * 20)
    threads = torch.get_num_threads()
    rates = layer_rates(small, threads=1, repeats=2)
    torch.set_num_threads(threads)
    assert rates["torch"] > 0
    pytest.importorskip("onnxruntime")
    assert rates["onnxruntime"] > 0
    assert small.describe() == "conv 16->32 3x3 on 20x20"


def test_bench_floor_prints_the_floor_next_to_the_measured_medians(capsys):
    from attsiammask_core.commands import bench

    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    args = parser.parse_args(["bench", "--variants", "lite", "--backends", "torch", "--frames", "2", "--warmup", "1",
                              "--width", "320", "--height", "240", "--floor"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "float32 rate, conv 512->1024 3x3 on 31x31 alone" in out and "lite arithmetic:" in out
    assert "lite torch attention off:" in out and "of which the floor is" in out
