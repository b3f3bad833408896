"""The embedded demo clip: deterministic, exact ground truth, and the documented properties."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from attsiammask_core.eval.metrics import iou_xywh
from attsiammask_core.eval.sequences import tight_box_xywh as core_tight_box
from attsiammask_ros.demo.clip import (
    DEMO_FPS,
    DEMO_FRAMES,
    FRAME_SIZE,
    Clip,
    clip_from_sequence,
    clip_from_video,
    make_clip,
    tight_box_xywh,
)


@pytest.fixture(scope="module")
def clip() -> Clip:
    return make_clip()


def test_deterministic():
    a, b = make_clip(frames=12), make_clip(frames=12)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames, strict=True))
    assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.masks, b.masks)


def test_format(clip):
    assert len(clip) == DEMO_FRAMES and 100 <= len(clip) <= 200
    assert clip.fps == DEMO_FPS and 15 <= clip.fps <= 30
    for frame in clip.frames:
        assert frame.dtype == np.uint8 and frame.shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)
    assert clip.masks.shape == (len(clip), FRAME_SIZE[1], FRAME_SIZE[0]) and clip.masks.dtype == bool


def test_gt_boxes_are_the_tight_boxes_of_the_visible_masks(clip):
    for i in range(len(clip)):
        assert np.array_equal(clip.boxes[i], tight_box_xywh(clip.masks[i]))
        assert np.array_equal(clip.boxes[i], core_tight_box(clip.masks[i]))


def test_gt_boxes_inside_the_frame(clip):
    x, y, w, h = clip.boxes.T
    assert np.all(np.isfinite(clip.boxes))
    assert x.min() >= 0 and y.min() >= 0 and (x + w).max() <= FRAME_SIZE[0] and (y + h).max() <= FRAME_SIZE[1]
    assert w.min() >= 40 and h.min() >= 40


def test_the_target_is_pasted_where_its_mask_says(clip):
    from attsiammask_ros.demo.clip import _sources

    background = _sources()[0]
    for i in (0, len(clip) // 2, len(clip) - 1):
        mask = clip.masks[i]
        differs = np.any(clip.frames[i] != background, axis=2)
        assert differs[mask].mean() > 0.95          # the object covers its mask
        outside = ~mask & ~np.isfinite(clip.info["distractor_boxes"][i, 0])
        outside[:, clip.info["post_columns"][0]:clip.info["post_columns"][1]] = False
        assert not differs[outside].any()           # nothing else changed (when no distractor is on screen)


def test_smooth_motion_and_scale_change(clip):
    scale = clip.info["scale"]
    assert scale.min() <= 0.8 and scale.max() >= 1.3
    full = clip.info["full_boxes"]
    centres = full[:, :2] + full[:, 2:] / 2
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert steps.max() < 8.0                        # smooth: a few pixels per frame
    assert np.ptp(centres[:, 0]) > 300              # it crosses the frame


def test_partial_occlusion(clip):
    occlusion = clip.info["occlusion"]
    occluded = np.nonzero(occlusion > 0)[0]
    assert len(occluded) >= 20
    assert 0.15 < occlusion.max() < 0.5             # partial, never hidden
    assert np.all(np.diff(occluded) == 1)           # one contiguous passage behind the post


def test_distractor_passes_close_without_covering_the_target(clip):
    distractor = clip.info["distractor_boxes"]
    present = np.isfinite(distractor[:, 0])
    assert present.sum() >= 30
    assert not np.any(iou_xywh(distractor[present], clip.boxes[present]) > 0)
    # at its closest it is less than one target height away, side by side
    gaps = distractor[present, 1] - (clip.boxes[present, 1] + clip.boxes[present, 3])
    overlap_x = (np.minimum(distractor[present, 0] + distractor[present, 2], clip.boxes[present, 0] + clip.boxes[
        present, 2]) - np.maximum(distractor[present, 0], clip.boxes[present, 0])) > 0
    assert overlap_x.any() and gaps[overlap_x].min() < clip.boxes[present, 3][overlap_x].min()


def test_head_keeps_per_frame_info(clip):
    short = clip.head(20)
    assert len(short) == 20 and short.masks.shape[0] == 20 and short.info["scale"].shape == (20,)
    assert np.array_equal(short.boxes, clip.boxes[:20])


def test_clip_from_video(tmp_path):
    path = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    clip = clip_from_video(path, (10, 10, 20, 20), max_frames=4)
    assert len(clip) == 4 and clip.fps == 25.0 and clip.boxes[0].tolist() == [10, 10, 20, 20]
    assert not clip.has_ground_truth
    with pytest.raises(FileNotFoundError):
        clip_from_video(tmp_path / "missing.mp4", (0, 0, 1, 1))


def test_clip_from_sequence(tmp_path):
    folder = tmp_path / "Seq"
    (folder / "img").mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(folder / "img" / f"{i:04d}.png"), np.full((40, 50, 3), i, np.uint8))
    (folder / "groundtruth.txt").write_text("1,2,10,12\n2,3,10,12\n3,4,10,12\n")
    clip = clip_from_sequence(folder, fps=15.0, max_frames=2)
    assert len(clip) == 2 and clip.fps == 15.0 and clip.boxes.tolist() == [[1, 2, 10, 12], [2, 3, 10, 12]]
    assert clip.has_ground_truth
