"""tools/docs/make_picture.py: the mask read back from the demo's tint, and the picture from a demo folder."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[3]


def _script():
    spec = importlib.util.spec_from_file_location("make_picture", REPO / "tools" / "docs" / "make_picture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tinted(script, clean: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = clean.copy()
    out[mask] = ((1 - script.TINT_WEIGHT) * clean[mask] + script.TINT_WEIGHT * script.TINT_BGR).astype(np.uint8)
    cv2.rectangle(out, (10, 10), (90, 70), (0, 140, 255), 2)  # drawings of the demo are not mask
    cv2.putText(out, "#3 tracking", (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return out


def test_recover_mask_finds_the_tinted_region_and_not_the_drawings():
    script = _script()
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 160, size=(120, 160, 3), dtype=np.uint8)
    mask = np.zeros(clean.shape[:2], dtype=bool)
    cv2.ellipse(mask.view(np.uint8), (60, 60), (30, 20), 0, 0, 360, 1, -1)
    recovered = script.recover_mask(_tinted(script, clean, mask), clean)
    iou = (recovered & mask).sum() / (recovered | mask).sum()
    assert iou > 0.9, iou


def test_picture_from_a_demo_folder_of_the_embedded_clip(tmp_path):
    from attsiammask_ros.demo.clip import make_clip

    script = _script()
    clip = make_clip()
    records, frames = [], []
    for i in range(3):
        box = [float(v) for v in clip.boxes[i]]
        records.append({"frame": i, "pred": box, "confidence": 0.9, "state": "tracking"})
        frames.append(_tinted(script, clip.frames[i], clip.masks[i]))
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (demo / "summary.json").write_text(json.dumps({"clip": "embedded"}))
    writer = cv2.VideoWriter(str(demo / "demo.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, (640, 480))
    for frame in frames:
        writer.write(frame)
    writer.release()
    out = tmp_path / "picture.jpg"
    assert script.main(["--demo", str(demo), "--frames", "0,2", "--tile-width", "200", "--out", str(out)]) == 0
    picture = cv2.imread(str(out))
    assert picture.shape[0] == 150 and picture.shape[1] == 2 * 200 + 4
    assert out.stat().st_size < script.MAX_BYTES
