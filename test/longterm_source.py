"""Synthetic source sequences for the long-term tests: a patterned square wandering over a textured background."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np


def wandering_boxes(n: int, frame_wh: tuple[int, int], side: int, nan_frames: tuple[int, ...] = ()) -> np.ndarray:
    """(n, 4) xywh boxes of a side x side square whose centre sweeps the frame on two slow sines; NaN rows at
    ``nan_frames``."""
    width, height = frame_wh
    t = np.arange(n, dtype=np.float64)
    cx = width / 2 + 0.36 * width * np.sin(2 * np.pi * t / 300.0)
    cy = height / 2 + 0.32 * height * np.sin(2 * np.pi * t / 170.0 + 0.5)
    boxes = np.stack([np.round(cx - side / 2), np.round(cy - side / 2), np.full(n, side), np.full(n, side)], axis=1)
    boxes[list(nan_frames)] = np.nan
    return boxes


def write_source(root: Path, name: str, n: int, frame_wh: tuple[int, int] = (320, 240), side: int = 16,
                 nan_frames: tuple[int, ...] = ()) -> np.ndarray:
    """root/<name>/ in the data/sequences layout (img/ JPEG, groundtruth.txt 0-based, nan rows) plus an entry in
    root/manifest.json; returns the boxes."""
    width, height = frame_wh
    rng = np.random.default_rng(3)
    background = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (7, 7), 0)
    patch = np.full((side, side, 3), 235, np.uint8)
    patch[side // 2 - 2:side // 2 + 2, :] = (20, 20, 210)
    patch[:, side // 2 - 2:side // 2 + 2] = (210, 30, 30)
    boxes = wandering_boxes(n, frame_wh, side, nan_frames)
    folder = root / name
    (folder / "img").mkdir(parents=True)
    lines = []
    for i, box in enumerate(boxes):
        frame = background.copy()
        if np.isfinite(box).all():
            x, y = int(box[0]), int(box[1])
            frame[y:y + side, x:x + side] = patch
            lines.append(f"{x},{y},{side},{side}")
        else:
            lines.append("nan,nan,nan,nan")
        cv2.imwrite(str(folder / "img" / f"{i:04d}.jpg"), frame)
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"sequences": {}}
    manifest["sequences"][name] = {"name": name, "frames": n, "image_size": [[width, height]],
                                   "index_base": "0-based pixel coords", "attributes": ["FM"], "has_masks": False,
                                   "dataset_family": "synthetic", "data_license_note": "test data"}
    manifest_path.write_text(json.dumps(manifest))
    return boxes
