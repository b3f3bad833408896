"""Peers run by onnxruntime with their own published tracking steps, nothing tuned here.

- NanoTrack V3 (HonglinChu/SiamTrackers, Apache-2.0): `nanotrack/tracker/nano_tracker.py` with
  `models/config/configv3.yaml` (exemplar 127, instance 255, context 0.5, 15x15 points at stride 16, softmax score,
  ltrb boxes, scale/ratio penalty k=0.138, Hann window 0.455, lr 0.348, size clipped to >= 10 px); raw BGR crops
  padded with the frame's mean colour (pysot's get_subwindow).
- LightFC (LiYunfengLYF/LightFC, MIT): `lib/test/tracker/lightfc.py` with its experiment yaml (template crop factor
  2 resized to 128, search factor 4 resized to 256, zero padding, RGB/255 with ImageNet mean/std, centred Hann
  window multiplied onto the 16x16 score map, box = (cell + offset)/16 and the size map at the best cell, no
  smoothing, clip_box with margin 2).

Each takes a folder of ONNX files written by tools/peers/build_peers.py (see attsiammask_core.eval.trackers).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from attsiammask_core import geometry

from .trackers import Prediction

_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def ort_session(path: Path, threads: int | None = None) -> Any:
    """A CPU onnxruntime session with our backend's settings (deploy.ort_model.session_options)."""
    import onnxruntime as ort

    from attsiammask_core.deploy.ort_model import session_options

    return ort.InferenceSession(str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"])


def _xywh(box_xywh: Any) -> np.ndarray:
    return np.asarray(box_xywh, dtype=np.float64).reshape(4)


class NanoTrackV3Tracker:
    """NanoTrack V3's backbone and head graphs with nano_tracker.py's step (configv3.yaml values)."""

    EXEMPLAR, INSTANCE, STRIDE, SCORE_SIZE = 127, 255, 16, 15
    CONTEXT, PENALTY_K, WINDOW_INFLUENCE, LR = 0.5, 0.138, 0.455, 0.348

    def __init__(self, backbone: Path, head: Path, name: str = "nanotrackv3") -> None:
        self.name = name
        self._backbone, self._head = ort_session(backbone), ort_session(head)
        hanning = np.hanning(self.SCORE_SIZE)
        self._window = np.outer(hanning, hanning).ravel()
        origin = -(self.SCORE_SIZE // 2) * self.STRIDE
        grid = origin + self.STRIDE * np.arange(self.SCORE_SIZE, dtype=np.float32)
        xs, ys = np.meshgrid(grid, grid)
        self._points = np.stack([xs.ravel(), ys.ravel()], axis=1)
        self._zf: np.ndarray | None = None

    def _features(self, crop: np.ndarray) -> np.ndarray:
        blob = crop.transpose(2, 0, 1)[None].astype(np.float32)
        return self._backbone.run(None, {self._backbone.get_inputs()[0].name: blob})[0]

    def init(self, frame: np.ndarray, box_xywh: Any) -> None:
        x, y, w, h = _xywh(box_xywh)
        self._center = np.array([x + (w - 1) / 2, y + (h - 1) / 2])
        self._size = np.array([w, h])
        self._average = geometry.channel_mean_uint8(frame)
        side = round(geometry.context_side(self._size, self.CONTEXT))
        self._zf = self._features(geometry.crop_square(frame, self._center, side, self.EXEMPLAR, self._average))

    def update(self, frame: np.ndarray) -> Prediction:
        if self._zf is None:
            raise RuntimeError(f"{self.name}: call init(frame, box) before update(frame)")
        s_z = geometry.context_side(self._size, self.CONTEXT)
        scale_z = self.EXEMPLAR / s_z
        s_x = s_z * self.INSTANCE / self.EXEMPLAR
        xf = self._features(geometry.crop_square(frame, self._center, round(s_x), self.INSTANCE, self._average))
        cls, loc = self._head.run(None, {"input1": self._zf, "input2": xf})
        logits = cls.reshape(2, -1)
        score = 1.0 / (1.0 + np.exp(logits[0] - logits[1]))  # softmax over the two channels, channel 1
        ltrb = loc.reshape(4, -1)
        x0, y0 = self._points[:, 0] - ltrb[0], self._points[:, 1] - ltrb[1]
        x1, y1 = self._points[:, 0] + ltrb[2], self._points[:, 1] + ltrb[3]
        pred = np.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])
        penalty = geometry.scale_ratio_penalty(pred[2:].T, self._size, scale_z, self.PENALTY_K)
        pscore = penalty * score * (1 - self.WINDOW_INFLUENCE) + self._window * self.WINDOW_INFLUENCE
        best = int(np.argmax(pscore))
        bbox = pred[:, best] / scale_z
        lr = penalty[best] * score[best] * self.LR
        cx, cy = bbox[0] + self._center[0], bbox[1] + self._center[1]
        width = self._size[0] * (1 - lr) + bbox[2] * lr
        height = self._size[1] * (1 - lr) + bbox[3] * lr
        frame_h, frame_w = frame.shape[:2]
        cx, cy = max(0.0, min(cx, frame_w)), max(0.0, min(cy, frame_h))
        width, height = max(10.0, min(width, frame_w)), max(10.0, min(height, frame_h))
        self._center, self._size = np.array([cx, cy]), np.array([width, height])
        return Prediction(box=np.array([cx - width / 2, cy - height / 2, width, height]))


def lightfc_crop(frame_rgb: np.ndarray, box_xywh: Any, factor: float, out_size: int) -> tuple[np.ndarray, float]:
    """LightFC's sample_target: the square of side ceil(sqrt(w h) factor) centred on the box (Python rounding,
    zero padding with its one-pixel quirk on the right and bottom), resized to out_size; and out_size / side."""
    x, y, w, h = (float(v) for v in _xywh(box_xywh))
    side = math.ceil(math.sqrt(max(w * h, 0.0)) * factor)
    if side < 1:
        raise ValueError(f"box {box_xywh} is too small to crop")
    x1 = round(x + 0.5 * w - side * 0.5)
    y1 = round(y + 0.5 * h - side * 0.5)
    x2, y2 = x1 + side, y1 + side
    height, width = frame_rgb.shape[:2]
    x1_pad, y1_pad = max(0, -x1), max(0, -y1)
    x2_pad, y2_pad = max(x2 - width + 1, 0), max(y2 - height + 1, 0)
    patch = frame_rgb[y1 + y1_pad:y2 - y2_pad, x1 + x1_pad:x2 - x2_pad]
    if patch.size == 0:  # the window lies wholly outside the frame: all padding
        padded = np.zeros((y2 - y1, x2 - x1, 3), dtype=np.uint8)
    else:
        padded = cv2.copyMakeBorder(np.ascontiguousarray(patch), y1_pad, y2_pad, x1_pad, x2_pad,
                                    cv2.BORDER_CONSTANT)
    return cv2.resize(padded, (out_size, out_size)), out_size / side


def lightfc_hann(size: int) -> np.ndarray:
    """LightFC's centred 2-D cosine window (hann2d(centered=True))."""
    k = np.arange(1, size + 1, dtype=np.float64)
    one = 0.5 * (1 - np.cos(2 * math.pi / (size + 1) * k))
    return np.outer(one, one)


def lightfc_clip(box: list[float], frame_h: int, frame_w: int, margin: float = 2.0) -> np.ndarray:
    """LightFC's clip_box."""
    x1, y1, w, h = box
    x2, y2 = x1 + w, y1 + h
    x1, x2 = min(max(0, x1), frame_w - margin), min(max(margin, x2), frame_w)
    y1, y2 = min(max(0, y1), frame_h - margin), min(max(margin, y2), frame_h)
    return np.array([x1, y1, max(margin, x2 - x1), max(margin, y2 - y1)])


class LightFCTracker:
    """LightFC's backbone and tracking graphs with lib/test/tracker/lightfc.py's step."""

    TEMPLATE_FACTOR, TEMPLATE_SIZE, SEARCH_FACTOR, SEARCH_SIZE, STRIDE = 2.0, 128, 4.0, 256, 16

    def __init__(self, backbone: Path, tracking: Path, name: str = "lightfc") -> None:
        self.name = name
        self._backbone, self._tracking = ort_session(backbone), ort_session(tracking)
        self._window = lightfc_hann(self.SEARCH_SIZE // self.STRIDE)
        self._zf: np.ndarray | None = None
        self._state = np.zeros(4)

    @staticmethod
    def _normalised(crop_rgb: np.ndarray) -> np.ndarray:
        values = (crop_rgb.astype(np.float32) / 255.0 - _IMAGENET_MEAN) / _IMAGENET_STD
        return values.transpose(2, 0, 1)[None].astype(np.float32)

    def init(self, frame: np.ndarray, box_xywh: Any) -> None:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        crop, _ = lightfc_crop(rgb, box_xywh, self.TEMPLATE_FACTOR, self.TEMPLATE_SIZE)
        self._zf = self._backbone.run(None, {"image": self._normalised(crop)})[0]
        self._state = _xywh(box_xywh).copy()

    def update(self, frame: np.ndarray) -> Prediction:
        if self._zf is None:
            raise RuntimeError(f"{self.name}: call init(frame, box) before update(frame)")
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        crop, resize_factor = lightfc_crop(rgb, self._state, self.SEARCH_FACTOR, self.SEARCH_SIZE)
        xf = self._backbone.run(None, {"image": self._normalised(crop)})[0]
        score, size, offset = self._tracking.run(None, {"template_features": self._zf, "search_features": xf})
        cells = score.shape[-1]
        response = self._window * score[0, 0]
        best = int(np.argmax(response))
        row, col = divmod(best, cells)
        box = np.array([(col + offset[0, 0, row, col]) / cells, (row + offset[0, 1, row, col]) / cells,
                        size[0, 0, row, col], size[0, 1, row, col]], dtype=np.float64)
        cx, cy, w, h = box * self.SEARCH_SIZE / resize_factor
        x, y, sw, sh = self._state
        half = 0.5 * self.SEARCH_SIZE / resize_factor
        cx_real, cy_real = cx + (x + 0.5 * sw - half), cy + (y + 0.5 * sh - half)
        frame_h, frame_w = frame.shape[:2]
        self._state = lightfc_clip([cx_real - 0.5 * w, cy_real - 0.5 * h, w, h], frame_h, frame_w)
        return Prediction(box=self._state.copy())
