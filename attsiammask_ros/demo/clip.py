"""Clips for the demo: the embedded one made from scikit-image's sample images, a video file, or a sequence folder.

The embedded clip (:func:`make_clip`) is computed, not stored, and is the same on every run: the face of the cat
of ``skimage.data.chelsea()``, cut out with an elliptical mask, moves along a smooth path over the launch pad of
``skimage.data.rocket()`` while its size changes (x0.75 to x1.40), passes behind a wooden post cut from the
table of ``skimage.data.coffee()`` (partial occlusion), and a recoloured copy of the face (a similar distractor)
crosses just below it in the second half. Ground truth is exact: each frame's box is the tight box of the
target's visible mask (the pasted ellipse minus what the post hides), in 0-based pixel ``xywh``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["Clip", "make_clip", "clip_from_video", "clip_from_sequence", "tight_box_xywh", "FRAME_SIZE",
           "DEMO_FRAMES", "DEMO_FPS"]

FRAME_SIZE = (640, 480)  # width, height
DEMO_FRAMES = 150
DEMO_FPS = 20.0

# The cut-out: an ellipse around the cat's face in chelsea() (451x300): centre and semi-axes, source pixels.
_FACE_CENTRE = (205.0, 150.0)
_FACE_AXES = (150.0, 140.0)
_FACE_WIDTH = 120.0          # the face's width in the clip at scale 1
_SCALE_RANGE = (0.75, 1.40)  # smallest (first and last frame) and largest (middle) scale
_POST_X = (306, 342)         # the wooden post's columns (full height)
_DISTRACTOR_SPAN = (0.55, 1.0)  # the part of the clip (t in [0, 1]) the distractor is on screen
_DISTRACTOR_DY = 150.0       # the distractor's centre is this far below the target's
_DISTRACTOR_SCALE = 0.9      # relative to the target's scale


@dataclass(frozen=True, eq=False)
class Clip:
    """Frames (BGR uint8) at ``fps`` with optional ground truth: (N, 4) xywh boxes (NaN = unknown) and masks."""

    name: str
    frames: list[np.ndarray]
    boxes: np.ndarray
    fps: float
    masks: np.ndarray | None = None              # (N, H, W) bool, the target's visible pixels
    info: dict[str, Any] = field(default_factory=dict)  # per-frame facts of the embedded clip (see make_clip)

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError(f"{self.name}: a clip needs at least one frame")
        boxes = np.asarray(self.boxes, dtype=np.float64)
        if boxes.shape != (len(self.frames), 4):
            raise ValueError(f"{self.name}: boxes must be ({len(self.frames)}, 4), got {boxes.shape}")
        if not np.all(np.isfinite(boxes[0])):
            raise ValueError(f"{self.name}: the first frame needs a box (the target to track)")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError(f"{self.name}: fps must be positive, got {self.fps}")
        object.__setattr__(self, "boxes", boxes)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def has_ground_truth(self) -> bool:
        """True when boxes beyond the first frame are known."""
        return bool(np.isfinite(self.boxes[1:]).all(axis=1).any()) if len(self) > 1 else False

    def head(self, count: int) -> Clip:
        """The first ``count`` frames (all when count is larger)."""
        n = max(1, min(int(count), len(self)))
        info = {k: (v[:n] if isinstance(v, np.ndarray) and v.shape[:1] == (len(self),) else v)
                for k, v in self.info.items()}
        return Clip(self.name, self.frames[:n], self.boxes[:n], self.fps,
                    None if self.masks is None else self.masks[:n], info)


def tight_box_xywh(mask: np.ndarray) -> np.ndarray:
    """Tight box of a boolean mask: (x_min, y_min, x_max - x_min + 1, y_max - y_min + 1); NaN when empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return np.full(4, np.nan)
    return np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], dtype=np.float64)


def _smooth(t: float) -> float:
    """0 -> 0, 1 -> 1 with zero speed at both ends."""
    return 0.5 - 0.5 * math.cos(math.pi * t)


def _target_pose(t: float, size_wh: tuple[int, int]) -> tuple[float, float, float]:
    """Centre x, y and scale of the target at clip time t in [0, 1]."""
    w, h = size_wh
    cx = 0.17 * w + 0.63 * w * _smooth(t)
    cy = 0.40 * h + 0.125 * h * math.sin(2.0 * math.pi * t)
    low, high = _SCALE_RANGE
    scale = low + (high - low) * (0.5 - 0.5 * math.cos(2.0 * math.pi * t))
    return cx, cy, scale


def _distractor_pose(t: float, size_wh: tuple[int, int]) -> tuple[float, float, float] | None:
    """Centre and scale of the distractor, None while it is off screen: it enters right and leaves left."""
    start, end = _DISTRACTOR_SPAN
    if t < start:
        return None
    w, _ = size_wh
    u = (t - start) / (end - start)
    cx, cy, scale = _target_pose(t, size_wh)
    return 1.10 * w - 1.20 * w * u, cy + _DISTRACTOR_DY, _DISTRACTOR_SCALE * scale


def _sources() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Background, face (half resolution), recoloured face and post, all BGR uint8, from scikit-image's data."""
    import skimage.data

    width, height = FRAME_SIZE
    rocket = cv2.cvtColor(skimage.data.rocket(), cv2.COLOR_RGB2BGR)            # 427 x 640
    scaled_w = int(round(rocket.shape[1] * height / rocket.shape[0]))
    rocket = cv2.resize(rocket, (scaled_w, height), interpolation=cv2.INTER_AREA)
    x0 = (scaled_w - width) // 2
    background = np.ascontiguousarray(rocket[:, x0:x0 + width])
    face = cv2.cvtColor(skimage.data.chelsea(), cv2.COLOR_RGB2BGR)             # 300 x 451
    face = cv2.resize(face, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(face, cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int32) + 100) % 180                   # hue turned by 200 degrees
    hsv[..., 1] = (hsv[..., 1].astype(np.float32) * 0.7).astype(np.uint8)
    recoloured = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    coffee = cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR)            # 400 x 600: the table's edge
    post = cv2.resize(coffee[:, 525:585], (_POST_X[1] - _POST_X[0], height), interpolation=cv2.INTER_AREA)
    return background, face, recoloured, post


def _ellipse_mask(centre: tuple[float, float], axes: tuple[float, float], size_wh: tuple[int, int]) -> np.ndarray:
    """Pixels (centres at integer coordinates) inside the ellipse."""
    w, h = size_wh
    (cx, cy), (ax, ay) = centre, axes
    x0, x1 = max(int(math.floor(cx - ax)), 0), min(int(math.ceil(cx + ax)) + 1, w)
    y0, y1 = max(int(math.floor(cy - ay)), 0), min(int(math.ceil(cy + ay)) + 1, h)
    mask = np.zeros((h, w), dtype=bool)
    if x1 > x0 and y1 > y0:
        xs = (np.arange(x0, x1, dtype=np.float64) - cx) / ax
        ys = (np.arange(y0, y1, dtype=np.float64) - cy) / ay
        mask[y0:y1, x0:x1] = ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0
    return mask


def _paste(frame: np.ndarray, source: np.ndarray, centre: tuple[float, float], scale: float) -> np.ndarray:
    """Warp the half-resolution face so that its ellipse lands at ``centre`` with ``scale``; paste; its mask."""
    h, w = frame.shape[:2]
    k = scale * _FACE_WIDTH / (2.0 * _FACE_AXES[0])          # clip pixels per source pixel
    k_half = 2.0 * k                                           # the source is at half resolution
    sx, sy = (_FACE_CENTRE[0] + 0.5) * 0.5 - 0.5, (_FACE_CENTRE[1] + 0.5) * 0.5 - 0.5
    matrix = np.array([[k_half, 0.0, centre[0] - k_half * sx], [0.0, k_half, centre[1] - k_half * sy]])
    warped = cv2.warpAffine(source, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = _ellipse_mask(centre, (k * _FACE_AXES[0], k * _FACE_AXES[1]), (w, h))
    frame[mask] = warped[mask]
    return mask


def make_clip(frames: int = DEMO_FRAMES, fps: float = DEMO_FPS) -> Clip:
    """The embedded demo clip: ``frames`` frames of 640x480 BGR with exact boxes and visible masks.

    ``info`` holds, per frame: ``scale`` (target size relative to scale 1, 120 px wide), ``occlusion`` (fraction
    of the target's pixels hidden by the post), ``distractor_boxes`` (tight boxes of the distractor's visible
    pixels, NaN while off screen) and ``full_boxes`` (boxes of the whole pasted ellipse, occluded part included).
    """
    if frames < 2:
        raise ValueError(f"the demo clip needs at least 2 frames, got {frames}")
    size = FRAME_SIZE
    background, face, recoloured, post = _sources()
    post_cols = np.zeros(size[::-1], dtype=bool)
    post_cols[:, _POST_X[0]:_POST_X[1]] = True
    images, boxes, masks = [], np.zeros((frames, 4)), np.zeros((frames, size[1], size[0]), dtype=bool)
    scales, occlusion = np.zeros(frames), np.zeros(frames)
    distractor_boxes, full_boxes = np.full((frames, 4), np.nan), np.zeros((frames, 4))
    for i in range(frames):
        t = i / (frames - 1)
        frame = background.copy()
        distractor = _distractor_pose(t, size)
        distractor_mask = None
        if distractor is not None:
            distractor_mask = _paste(frame, recoloured, distractor[:2], distractor[2])
        cx, cy, scale = _target_pose(t, size)
        full = _paste(frame, face, (cx, cy), scale)
        frame[:, _POST_X[0]:_POST_X[1]] = post
        visible = full & ~post_cols
        if distractor_mask is not None:
            distractor_boxes[i] = tight_box_xywh(distractor_mask & ~post_cols & ~full)
        images.append(frame)
        masks[i] = visible
        boxes[i] = tight_box_xywh(visible)
        full_boxes[i] = tight_box_xywh(full)
        scales[i] = scale
        occlusion[i] = 1.0 - visible.sum() / max(int(full.sum()), 1)
    info = {"scale": scales, "occlusion": occlusion, "distractor_boxes": distractor_boxes, "full_boxes": full_boxes,
            "post_columns": _POST_X}
    return Clip("embedded", images, boxes, float(fps), masks, info)


def _resize_to(frame: np.ndarray, size_wh: tuple[int, int] | None) -> tuple[np.ndarray, float, float]:
    if size_wh is None or (frame.shape[1], frame.shape[0]) == tuple(size_wh):
        return frame, 1.0, 1.0
    sx, sy = size_wh[0] / frame.shape[1], size_wh[1] / frame.shape[0]
    return cv2.resize(frame, tuple(size_wh), interpolation=cv2.INTER_AREA), sx, sy


def clip_from_video(path: str | Path, box: tuple[float, float, float, float], fps: float | None = None,
                    max_frames: int | None = None) -> Clip:
    """Frames of a video file with the target's box on the first frame (no ground truth after it).

    ``fps`` None takes the file's frame rate (30 when the file does not say).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open video {path}")
    try:
        rate = fps or float(capture.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0
        images: list[np.ndarray] = []
        while max_frames is None or len(images) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            images.append(frame)
    finally:
        capture.release()
    if not images:
        raise ValueError(f"no frame could be read from {path}")
    boxes = np.full((len(images), 4), np.nan)
    boxes[0] = box
    return Clip(path.stem, images, boxes, rate)


def clip_from_sequence(folder: str | Path, fps: float = 30.0, max_frames: int | None = None) -> Clip:
    """A sequence folder (img/, groundtruth.txt, optional masks/; as in data/sequences) with its boxes."""
    from attsiammask_core.eval.sequences import read_sequence_folder

    sequence = read_sequence_folder(folder)
    n = len(sequence) if max_frames is None else min(len(sequence), max_frames)
    images = [sequence.frame(i) for i in range(n)]
    return Clip(sequence.name, images, np.array(sequence.boxes[:n]), float(fps))
