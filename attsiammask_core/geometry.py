"""Pure image/box geometry of the SiamMask tracking step (spec sections 2, 6 and 8); inputs are never modified.

Box formats are in the names: ``xywh`` = (x, y, w, h) with (x, y) the top-left corner, ``cxcywh`` =
(centre x, centre y, w, h). Everything is vectorised numpy in float64 unless stated.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

__all__ = [
    "round_half_up", "channel_mean_uint8", "crop_square", "context_side", "template_crop_side", "search_scale",
    "search_crop_box_xywh", "anchor_shapes_wh", "anchors_cxcywh", "hann_window", "decode_deltas_cxcywh",
    "scale_ratio_penalty", "blend_window", "clip_state_cxcywh", "xywh_to_cxcywh", "cxcywh_to_xywh",
    "clip_xywh_to_frame", "axis_aligned_polygon_cxcywh", "mask_source_box_xywh", "mask_to_frame",
    "mask_reach_xyxy", "mask_polygon",
]


def round_half_up(value: float | np.ndarray) -> float | np.ndarray:
    """pysot rounding: floor(x + 0.5)."""
    return np.floor(np.asarray(value, dtype=np.float64) + 0.5)


def channel_mean_uint8(frame: np.ndarray) -> np.ndarray:
    """Per-channel mean of a frame, truncated toward zero to uint8 (the padding colour; spec 2)."""
    return np.mean(frame, axis=(0, 1)).astype(np.uint8)


def crop_square(frame: np.ndarray, center_xy: Sequence[float], side: int, out_size: int,
                pad_value: np.ndarray) -> np.ndarray:
    """Cut the side x side window centred on ``center_xy`` (pysot rounding), pad with ``pad_value``, resize.

    Returns an out_size x out_size x C uint8 array (cv2.resize, INTER_LINEAR, only when side != out_size).
    """
    side = int(side)
    if side < 1:
        raise ValueError(f"crop side must be >= 1, got {side}")
    height, width = frame.shape[:2]
    half = (side + 1) / 2
    x0 = int(round_half_up(center_xy[0] - half))
    y0 = int(round_half_up(center_xy[1] - half))
    x1, y1 = x0 + side, y0 + side  # exclusive
    if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
        patch = frame[y0:y1, x0:x1]
    else:
        patch = np.empty((side, side) + frame.shape[2:], dtype=np.uint8)
        patch[...] = pad_value
        ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if ix1 > ix0 and iy1 > iy0:
            patch[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = frame[iy0:iy1, ix0:ix1]
    if side != out_size:
        return cv2.resize(np.ascontiguousarray(patch), (out_size, out_size))
    return np.array(patch, dtype=np.uint8, copy=True)


CONTEXT_MODES = ("pysot", "area")


def context_side(size_wh: Sequence[float], context_amount: float, mode: str = "pysot") -> float:
    """The side of the square that holds the target with context: pysot's sqrt((w + c(w+h)) (h + c(w+h))), or
    "area": (1 + 2c) sqrt(w h) (OSTrack-style trackers' crop, LightFC's factor 2 at c = 0.5); equal for squares."""
    w, h = float(size_wh[0]), float(size_wh[1])
    if mode == "area":
        return float((1.0 + 2.0 * context_amount) * np.sqrt(w * h))
    pad = context_amount * (w + h)
    return float(np.sqrt((w + pad) * (h + pad)))


def template_crop_side(size_wh: Sequence[float], context_amount: float, mode: str = "pysot") -> int:
    """s_z of the template crop: the context side rounded (half to even, as Python's round)."""
    return int(np.round(context_side(size_wh, context_amount, mode)))


def search_scale(size_wh: Sequence[float], context_amount: float, exemplar_size: int,
                 instance_size: int, widen: float = 1.0, mode: str = "pysot") -> tuple[float, int]:
    """(scale_z, s_x) of the search crop: crop pixels per frame pixel and the crop side in frame pixels.

    ``widen`` > 1 enlarges the searched region (used while lost); 1.0 gives the spec's values exactly.
    """
    s_z = context_side(size_wh, context_amount, mode)
    scale_z = exemplar_size / s_z
    s_x = float(np.round(s_z * (instance_size / exemplar_size) * widen))
    return scale_z / widen, int(max(s_x, 1.0))


def search_crop_box_xywh(center_xy: Sequence[float], s_x: float) -> np.ndarray:
    """crop_box = [cx - s_x/2, cy - s_x/2, s_x, s_x] (spec 2)."""
    return np.array([center_xy[0] - s_x / 2, center_xy[1] - s_x / 2, s_x, s_x], dtype=np.float64)


def anchor_shapes_wh(stride: int, ratios: Sequence[float], scales: Sequence[float]) -> np.ndarray:
    """(A, 2) anchor widths and heights with the reference integer truncation (104x32 ... 32x96)."""
    ratios_arr = np.asarray(ratios, dtype=np.float64)
    ws = np.floor(np.sqrt(stride * stride / ratios_arr))
    hs = np.floor(ws * ratios_arr)
    scales_arr = np.asarray(scales, dtype=np.float64)
    w = (ws[:, None] * scales_arr[None, :]).reshape(-1)
    h = (hs[:, None] * scales_arr[None, :]).reshape(-1)
    return np.stack([w, h], axis=1)


def anchors_cxcywh(stride: int, ratios: Sequence[float], scales: Sequence[float], score_size: int) -> np.ndarray:
    """(A * S * S, 4) anchors in search-crop pixels relative to its centre, index a*S*S + y*S + x."""
    shapes = anchor_shapes_wh(stride, ratios, scales)
    offsets = -(score_size // 2) * stride + stride * np.arange(score_size, dtype=np.float64)
    yy, xx = np.meshgrid(offsets, offsets, indexing="ij")
    count = shapes.shape[0]
    cx = np.tile(xx.reshape(-1), count)
    cy = np.tile(yy.reshape(-1), count)
    w = np.repeat(shapes[:, 0], score_size * score_size)
    h = np.repeat(shapes[:, 1], score_size * score_size)
    return np.stack([cx, cy, w, h], axis=1)


def hann_window(score_size: int, anchor_num: int) -> np.ndarray:
    """Outer product of np.hanning(S) with itself, flattened row-major and tiled over the anchors."""
    hanning = np.hanning(score_size)
    return np.tile(np.outer(hanning, hanning).reshape(-1), anchor_num)


def decode_deltas_cxcywh(deltas: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(N, 4) boxes from (4, N) deltas (dx, dy, dw, dh) and (N, 4) anchors; no variances, no clamping."""
    d = np.asarray(deltas, dtype=np.float64)
    a = np.asarray(anchors, dtype=np.float64)
    cx = d[0] * a[:, 2] + a[:, 0]
    cy = d[1] * a[:, 3] + a[:, 1]
    w = np.exp(d[2]) * a[:, 2]
    h = np.exp(d[3]) * a[:, 3]
    return np.stack([cx, cy, w, h], axis=1)


def decode_ltrb_cxcywh(distances: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 4) boxes from (4, N) distances to the left, top, right and bottom edges and (N, 2+) points (cx, cy)."""
    d = np.asarray(distances, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    return np.stack([p[:, 0] + (d[2] - d[0]) / 2, p[:, 1] + (d[3] - d[1]) / 2, d[0] + d[2], d[1] + d[3]], axis=1)


def _change(r: np.ndarray) -> np.ndarray:
    return np.maximum(r, 1.0 / r)


def _context_size(w: np.ndarray | float, h: np.ndarray | float) -> np.ndarray | float:
    pad = (w + h) * 0.5
    return np.sqrt((w + pad) * (h + pad))


def scale_ratio_penalty(pred_wh: np.ndarray, prev_wh: Sequence[float], scale: float, k: float) -> np.ndarray:
    """exp(-(r_c * s_c - 1) * k) for (N, 2) predicted sizes in crop pixels and the previous frame size."""
    pw, ph = float(prev_wh[0]), float(prev_wh[1])
    w, h = pred_wh[:, 0], pred_wh[:, 1]
    s_c = _change(_context_size(w, h) / _context_size(pw * scale, ph * scale))
    r_c = _change((pw / ph) / (w / h))
    return np.exp(-(r_c * s_c - 1.0) * k)


def blend_window(pscore: np.ndarray, window: np.ndarray, influence: float) -> np.ndarray:
    """pscore * (1 - influence) + window * influence."""
    return pscore * (1.0 - influence) + window * influence


def clip_state_cxcywh(state: Sequence[float], frame_hw: Sequence[int], min_size: float = 10.0) -> np.ndarray:
    """Centre inside [0, W] x [0, H]; size in [min_size, W] x [min_size, H] (pysot _bbox_clip order)."""
    cx, cy, w, h = (float(v) for v in state)
    height, width = float(frame_hw[0]), float(frame_hw[1])
    return np.array([max(0.0, min(cx, width)), max(0.0, min(cy, height)),
                     max(min_size, min(w, width)), max(min_size, min(h, height))], dtype=np.float64)


def xywh_to_cxcywh(box: Sequence[float]) -> np.ndarray:
    """pysot init convention: centre = (x + (w - 1)/2, y + (h - 1)/2)."""
    x, y, w, h = (float(v) for v in box)
    return np.array([x + (w - 1) / 2, y + (h - 1) / 2, w, h], dtype=np.float64)


def cxcywh_to_xywh(box: Sequence[float]) -> np.ndarray:
    """Output convention: (cx - w/2, cy - h/2, w, h)."""
    cx, cy, w, h = (float(v) for v in box)
    return np.array([cx - w / 2, cy - h / 2, w, h], dtype=np.float64)


def clip_xywh_to_frame(box: Sequence[float], frame_hw: Sequence[int]) -> np.ndarray | None:
    """The part of ``box`` inside the frame, or None if nothing of it is inside."""
    x, y, w, h = (float(v) for v in box)
    height, width = float(frame_hw[0]), float(frame_hw[1])
    x0, y0 = max(x, 0.0), max(y, 0.0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return np.array([x0, y0, x1 - x0, y1 - y0], dtype=np.float64)


def axis_aligned_polygon_cxcywh(state: Sequence[float]) -> np.ndarray:
    """(4, 2) corners TL, TR, BR, BL of the box (cx - w/2, cy - h/2, w, h)."""
    x, y, w, h = cxcywh_to_xywh(state)
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)


def first_cell_offset(stride: int, base_size: int, exemplar_size: int, instance_size: int) -> float:
    """Search-crop pixel where the exemplar-sized window of score cell 0 starts: the crop centre minus half an
    exemplar, shifted by cell 0's offset -(S // 2) * stride (S the score size); -32 for r50's geometry."""
    score_size = (instance_size - exemplar_size) // stride + 1 + base_size
    return (instance_size - exemplar_size) / 2 - (score_size // 2) * stride


def mask_source_box_xywh(crop_box_xywh: Sequence[float], pos_yx: tuple[int, int], stride: int, base_size: int,
                         exemplar_size: int, instance_size: int) -> np.ndarray:
    """Frame region covered by the refine mask of score-map cell (y, x) (spec 8.9 sub_box)."""
    s = crop_box_xywh[2] / instance_size
    y, x = pos_yx
    first = first_cell_offset(stride, base_size, exemplar_size, instance_size)
    return np.array([crop_box_xywh[0] + (first + x * stride) * s,
                     crop_box_xywh[1] + (first + y * stride) * s,
                     s * exemplar_size, s * exemplar_size], dtype=np.float64)


def _mask_mapping(mask_side: int, source_box_xywh: Sequence[float], frame_hw: Sequence[int]
                  ) -> tuple[float, float, float, float]:
    """(a, c, b, d) of the forward map X = a u + c, Y = b v + d from mask pixels (u, v) to frame pixels (spec 8.9)."""
    height, width = int(frame_hw[0]), int(frame_hw[1])
    k = mask_side / source_box_xywh[2]
    back = (-source_box_xywh[0] * k, -source_box_xywh[1] * k, width * k, height * k)
    a = (width - 1) / back[2]
    b = (height - 1) / back[3]
    return a, -a * back[0], b, -b * back[1]


def _reach(scale: float, offset: float, side: int, limit: int) -> tuple[int, int]:
    """Frame pixels [lo, hi) that a bilinear warp of ``side`` samples at X = scale u + offset can reach (u in
    (-1, side)), with a pixel to spare each way, clipped to [0, limit)."""
    lo = int(np.floor(offset - scale)) - 1
    hi = int(np.ceil(offset + scale * side)) + 2
    return max(lo, 0), max(min(hi, limit), max(lo, 0))


def mask_reach_xyxy(mask_side: int, source_box_xywh: Sequence[float], frame_hw: Sequence[int]
                    ) -> tuple[int, int, int, int]:
    """Frame rectangle (x0, y0, x1, y1) outside which ``mask_to_frame`` of an M x M mask is exactly its border value:
    thresholds and contours need only look inside it."""
    height, width = int(frame_hw[0]), int(frame_hw[1])
    a, c, b, d = _mask_mapping(mask_side, source_box_xywh, frame_hw)
    x0, x1 = _reach(a, c, mask_side, width)
    y0, y1 = _reach(b, d, mask_side, height)
    return x0, y0, x1, y1


def mask_to_frame(mask: np.ndarray, source_box_xywh: Sequence[float], frame_hw: Sequence[int],
                  border: float = 0.0) -> np.ndarray:
    """Warp a square M x M mask covering ``source_box_xywh`` into an H x W float32 frame mask (spec 8.9).

    Forward affine map X = a u + c, Y = b v + d with a = (W - 1) / (W k), c = x0 (W - 1) / W, k = M / box side;
    cv2.warpAffine, bilinear, constant border.
    """
    height, width = int(frame_hw[0]), int(frame_hw[1])
    a, c, b, d = _mask_mapping(mask.shape[1], source_box_xywh, frame_hw)
    mapping = np.array([[a, 0.0, c], [0.0, b, d]], dtype=np.float64)
    src = np.ascontiguousarray(mask, dtype=np.float32)
    return cv2.warpAffine(src, mapping, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=float(border))


def mask_polygon(mask_prob: np.ndarray, threshold: float, fallback_cxcywh: Sequence[float],
                 min_area: float = 100.0, offset_xy: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(4, 2) rotated rectangle of the largest external contour of mask > threshold (spec 8.10); ``mask_prob`` may
    be a region of the frame whose top-left is ``offset_xy``.

    Falls back to the axis-aligned ``fallback_cxcywh`` box (TL, TR, BR, BL) when no contour has area > min_area.
    """
    binary = (np.asarray(mask_prob) > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE, offset=tuple(offset_xy))
    if contours:
        areas = np.array([cv2.contourArea(c) for c in contours])
        best = int(np.argmax(areas))
        if areas[best] > min_area:
            points = contours[best].reshape(-1, 2)
            return cv2.boxPoints(cv2.minAreaRect(points)).astype(np.float64)
    return axis_aligned_polygon_cxcywh(fallback_cxcywh)


TIE_WINDOW = 10.0  # cells further than this many temperatures below the best get weight 0 (e^-10 < 5e-5)


def near_tie_weights(pscore: np.ndarray, best: int, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """Cells within TIE_WINDOW temperatures of the best penalised score and their softmax weights (summing to 1).

    Just (best,) with weight 1 when no other cell is that close or temperature is 0: the argmax exactly.
    """
    if temperature <= 0:
        return np.array([best]), np.ones(1)
    gap = pscore[best] - pscore
    near = np.flatnonzero(gap < TIE_WINDOW * temperature)
    if near.size <= 1:
        return np.array([best]), np.ones(1)
    weights = np.exp(-gap[near] / temperature)
    return near, weights / weights.sum()


def tile_centres(frame_hw: Sequence[int], side: float, near_xy: Sequence[float], overlap: float = 0.25,
                 reach: float = 0.0) -> list[np.ndarray]:
    """Centres of square tiles of ``side`` covering the frame (neighbours overlap by ``overlap`` of the side; one
    tile per axis when the side covers it), nearest to ``near_xy`` first: the re-detection's search order.
    ``reach`` > 0 keeps the tiles whose centre is within ``reach`` sides of ``near_xy`` (0: all)."""
    height, width = float(frame_hw[0]), float(frame_hw[1])
    step = max(float(side) * (1.0 - overlap), 1.0)

    def axis(length: float) -> np.ndarray:
        if side >= length:
            return np.array([length / 2.0])
        count = int(np.ceil((length - side) / step)) + 1
        return np.linspace(side / 2.0, length - side / 2.0, count)

    grid = [np.array([x, y]) for y in axis(height) for x in axis(width)]
    near = np.asarray(near_xy, dtype=np.float64)
    if reach > 0:
        grid = [c for c in grid if float(np.hypot(*(c - near))) <= reach * side]
    return sorted(grid, key=lambda c: (float(np.hypot(*(c - near))), float(c[1]), float(c[0])))
