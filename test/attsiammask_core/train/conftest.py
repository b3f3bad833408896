"""Fixtures of the training tests: tiny synthetic sequence folders and a small random SiamMask."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from attsiammask_core.eval.sequences import read_sequence_folder
from attsiammask_core.models import assemble


def write_sequence(folder: Path, frames: int, seed: int, absent: tuple[int, ...] = (), masks: bool = False,
                   size: tuple[int, int] = (160, 120)) -> Path:
    """A folder in the shared layout: noisy background, one bright moving rectangle (the target), nan rows for
    the ``absent`` frames (drawn without the target), optional masks/."""
    rng = np.random.default_rng(seed)
    width, height = size
    (folder / "img").mkdir(parents=True)
    if masks:
        (folder / "masks").mkdir()
    lines = []
    colour = rng.integers(150, 256, size=3).tolist()
    for i in range(frames):
        image = rng.integers(0, 90, size=(height, width, 3), dtype=np.uint8)
        w, h = 20 + 2 * (i % 5), 16 + (i % 3)
        x, y = 30 + 4 * i, 40 + 2 * (i % 7)
        mask = np.zeros((height, width), np.uint8)
        if i in absent:
            lines.append("nan,nan,nan,nan")
        else:
            image[y:y + h, x:x + w] = colour
            mask[y:y + h, x:x + w] = 255
            lines.append(f"{x},{y},{w},{h}")
        cv2.imwrite(str(folder / "img" / f"{i:05d}.png"), image)
        if masks:
            cv2.imwrite(str(folder / "masks" / f"{i:05d}.png"), mask)
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def sequences(tmp_path):
    """Three sequences: two box-only (one with absent frames), one with masks."""
    return [read_sequence_folder(write_sequence(tmp_path / "boxes_a", 12, 1, absent=(0, 3, 4, 9))),
            read_sequence_folder(write_sequence(tmp_path / "boxes_b", 8, 2)),
            read_sequence_folder(write_sequence(tmp_path / "masked", 8, 3, masks=True))]


class TinyBackbone(nn.Module):
    """f0 (c0, 125), f1 (c1, 63), f2 (c2, 31), f3 (c3, 31) for a 255 input; f3 15 for 127."""

    out_channels = (4, 6, 8, 8)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 7, stride=2)
        self.bn1 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = nn.Conv2d(4, 6, 1)
        self.layer2 = nn.Conv2d(6, 8, 3, stride=2)
        self.layer3 = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f0 = torch.relu(self.bn1(self.conv1(x / 255.0 - 0.5)))
        f1 = torch.relu(self.layer1(self.pool(f0)))
        f2 = torch.relu(self.layer2(f1))
        return [f0, f1, f2, torch.relu(self.layer3(f2))]


def tiny_model(seed: int = 0):
    torch.manual_seed(seed)
    return assemble(TinyBackbone(), neck_channels=8)


@pytest.fixture
def tiny():
    return tiny_model()


@pytest.fixture
def make_tiny():
    """tiny_model(seed) as a fixture (test modules cannot import this conftest by name)."""
    return tiny_model
