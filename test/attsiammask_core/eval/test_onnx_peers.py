"""The onnxruntime peers (NanoTrack V3, LightFC): their published tracking steps on planted graphs whose outputs
are known, the crop and window helpers against LightFC's formulas, and the spec/factory plumbing."""
from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from attsiammask_core.eval.onnx_peers import (
    LightFCTracker,
    NanoTrackV3Tracker,
    lightfc_clip,
    lightfc_crop,
    lightfc_hann,
)
from attsiammask_core.eval.trackers import make_tracker


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str], outputs: list[str],
            dynamic: dict | None = None) -> Path:  # type: ignore[type-arg]
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, buffer, dynamo=False, opset_version=17, input_names=inputs,
                          output_names=outputs, dynamic_axes=dynamic)
    path.write_bytes(buffer.getvalue())
    return path


class _Features(nn.Module):
    """image (1,3,H,W) -> (1,96,ceil(H/16),ceil(W/16)) of the mean pixel value."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.avg_pool2d(image.mean(1, keepdim=True), 16, 16, ceil_mode=True)
        return pooled.repeat(1, 96, 1, 1)


class _LightFCMaps(nn.Module):
    """Peak score at cell (row 5, col 11), offsets (0.25, 0.75), size (0.2, 0.1) everywhere."""

    def forward(self, zf: torch.Tensor, xf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        base = xf[:, :1] * 0.0
        score = base + 0.1
        score[:, :, 5, 11] = 0.9
        size = torch.cat([base + 0.2, base + 0.1], 1)
        offset = torch.cat([base + 0.25, base + 0.75], 1)
        return score + zf.mean() * 0.0, size, offset


class _NanoHead(nn.Module):
    """cls: target at cell (row 3, col 9) of the 15x15 map, background elsewhere; every cell predicts
    ltrb = (20, 10, 30, 40)."""

    def forward(self, zf: torch.Tensor, xf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        base = xf[:, :1, :15, :15] * 0.0 + zf.mean() * 0.0
        fg = base - 8.0
        fg[:, :, 3, 9] = 8.0
        cls = torch.cat([base, fg], 1)
        loc = torch.cat([base + 20, base + 10, base + 30, base + 40], 1)
        return cls, loc


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("peers")
    (root / "lightfc").mkdir()
    (root / "nanotrackv3").mkdir()
    dynamic = {"image": {2: "h", 3: "w"}, "features": {2: "fh", 3: "fw"}}
    _export(_Features(), (torch.zeros(1, 3, 256, 256),), root / "lightfc" / "lightfc_backbone.onnx", ["image"],
            ["features"], dynamic)
    _export(_LightFCMaps(), (torch.zeros(1, 96, 8, 8), torch.zeros(1, 96, 16, 16)),
            root / "lightfc" / "lightfc_tracking.onnx", ["template_features", "search_features"],
            ["score_map", "size_map", "offset_map"])
    _export(_Features(), (torch.zeros(1, 3, 255, 255),), root / "nanotrackv3" / "nanotrack_backbone.onnx", ["input"],
            ["output"], {"input": {2: "h", 3: "w"}, "output": {2: "fh", 3: "fw"}})
    _export(_NanoHead(), (torch.zeros(1, 96, 8, 8), torch.zeros(1, 96, 16, 16)),
            root / "nanotrackv3" / "nanotrack_head.onnx", ["input1", "input2"], ["output1", "output2"])
    return root


def test_lightfc_step(peers: Path) -> None:
    tracker = make_tracker("lightfc", peers_dir=peers).create()
    frame = np.full((480, 640, 3), 100, dtype=np.uint8)
    box = (300.0, 200.0, 50.0, 32.0)
    tracker.init(frame, box)
    pred = tracker.update(frame)
    side = math.ceil(math.sqrt(50 * 32) * 4.0)
    resize = 256 / side
    cx = (11 + 0.25) / 16 * 256 / resize + (300 + 25 - 0.5 * 256 / resize)
    cy = (5 + 0.75) / 16 * 256 / resize + (200 + 16 - 0.5 * 256 / resize)
    w, h = 0.2 * 256 / resize, 0.1 * 256 / resize
    np.testing.assert_allclose(pred.box, [cx - w / 2, cy - h / 2, w, h], rtol=1e-5)


def test_nanotrackv3_step(peers: Path) -> None:
    tracker = make_tracker("nanotrackv3", peers_dir=peers).create()
    frame = np.full((480, 640, 3), 100, dtype=np.uint8)
    tracker.init(frame, (300.0, 200.0, 60.0, 40.0))
    pred = tracker.update(frame)
    scale_z = 127 / math.sqrt((60 + 50) * (40 + 50))
    # the best cell (3, 9) wins the window-blended score; its point is (9*16 - 112, 3*16 - 112)
    px, py = 9 * 16 - 112, 3 * 16 - 112
    cx, cy = px + (30 - 20) / 2, py + (40 - 10) / 2
    w_crop, h_crop = 50.0, 50.0
    prob = 1 / (1 + math.exp(-8.0))
    s_c = max(r := (math.sqrt((w_crop + 50) * (h_crop + 50)) / (scale_z * math.sqrt(110 * 90))), 1 / r)
    r_c = max(q := (60 / 40) / (w_crop / h_crop), 1 / q)
    penalty = math.exp(-(r_c * s_c - 1) * 0.138)
    lr = penalty * prob * 0.348
    centre = (300 + 59 / 2 + cx / scale_z, 200 + 39 / 2 + cy / scale_z)
    width, height = 60 * (1 - lr) + w_crop / scale_z * lr, 40 * (1 - lr) + h_crop / scale_z * lr
    np.testing.assert_allclose(pred.box, [centre[0] - width / 2, centre[1] - height / 2, width, height], rtol=1e-5)


@pytest.mark.parametrize("box", [(10.0, 20.0, 30.0, 40.0), (-25.0, -10.0, 40.0, 30.0), (620.0, 470.0, 50.0, 50.0),
                                 (5000.0, 5000.0, 10.0, 10.0)])
def test_lightfc_crop_follows_sample_target(box: tuple[float, float, float, float]) -> None:
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    crop, factor = lightfc_crop(frame, box, 2.0, 128)
    x, y, w, h = box
    side = math.ceil(math.sqrt(w * h) * 2.0)
    assert crop.shape == (128, 128, 3) and factor == pytest.approx(128 / side)
    x1, y1 = round(x + 0.5 * w - side * 0.5), round(y + 0.5 * h - side * 0.5)
    if 0 <= x1 and 0 <= y1 and x1 + side < 640 and y1 + side < 480:
        import cv2

        np.testing.assert_array_equal(crop, cv2.resize(frame[y1:y1 + side, x1:x1 + side], (128, 128)))
    if x1 >= 640:
        assert not crop.any()  # wholly outside: all zero padding


def test_lightfc_window_and_clip() -> None:
    window = lightfc_hann(16)
    assert window.shape == (16, 16) and np.allclose(window, window.T) and np.allclose(window, window[::-1, ::-1])
    assert window[0, 0] == pytest.approx((0.5 * (1 - math.cos(2 * math.pi / 17))) ** 2)
    np.testing.assert_allclose(lightfc_clip([-5.0, 470.0, 30.0, 30.0], 480, 640), [0.0, 470.0, 25.0, 10.0])


def test_peers_need_their_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="lightfc_backbone.onnx"):
        make_tracker("lightfc", peers_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="--peers"):
        make_tracker("nanotrackv3")
    tracker = LightFCTracker.__new__(LightFCTracker)
    tracker.name, tracker._zf = "lightfc", None
    with pytest.raises(RuntimeError, match="init"):
        tracker.update(np.zeros((10, 10, 3), dtype=np.uint8))
    assert NanoTrackV3Tracker.SCORE_SIZE == 15
