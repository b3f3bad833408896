"""Training targets over the 5x25x25 anchors and the refine mask windows (pure numpy; inputs never modified).

Coordinates: boxes are ``cxcywh`` in 255-crop pixels relative to the crop centre (pixel 127), the frame of
`geometry.anchors_cxcywh`; anchor index a*S*S + y*S + x. Mask crops are 255x255 arrays in crop pixels.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from attsiammask_core.config import TrackerConfig
from attsiammask_core.geometry import anchors_cxcywh, first_cell_offset

from .config import LabelConfig

__all__ = ["AnchorTargets", "anchor_targets", "point_targets", "box_iou_cxcywh", "encode_deltas_cxcywh",
           "mask_positions", "mask_window", "crop_anchors"]

POSITIVE, NEGATIVE, IGNORE = 1, 0, -1


def crop_anchors(geometry: TrackerConfig) -> np.ndarray:
    """(A*S*S, 4) anchors of the tracker geometry (crop-centre-relative cxcywh); for a point head the cells'
    points (sizes unused)."""
    if geometry.head == "point":
        return anchors_cxcywh(geometry.stride, (1.0,), (1.0,), geometry.score_size)
    return anchors_cxcywh(geometry.stride, geometry.ratios, geometry.scales, geometry.score_size)


def box_iou_cxcywh(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of each of (N, 4) cxcywh boxes with one cxcywh box."""
    b = np.asarray(boxes, dtype=np.float64)
    g = np.asarray(box, dtype=np.float64)
    x0 = np.maximum(b[:, 0] - b[:, 2] / 2, g[0] - g[2] / 2)
    y0 = np.maximum(b[:, 1] - b[:, 3] / 2, g[1] - g[3] / 2)
    x1 = np.minimum(b[:, 0] + b[:, 2] / 2, g[0] + g[2] / 2)
    y1 = np.minimum(b[:, 1] + b[:, 3] / 2, g[1] + g[3] / 2)
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = b[:, 2] * b[:, 3] + g[2] * g[3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def encode_deltas_cxcywh(box: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(4, N) deltas whose spec decoding (`geometry.decode_deltas_cxcywh`) gives ``box`` back for every anchor."""
    g = np.asarray(box, dtype=np.float64)
    a = np.asarray(anchors, dtype=np.float64)
    return np.stack([(g[0] - a[:, 0]) / a[:, 2], (g[1] - a[:, 1]) / a[:, 3],
                     np.log(g[2] / a[:, 2]), np.log(g[3] / a[:, 3])])


@dataclass(frozen=True)
class AnchorTargets:
    """cls (N,) int64 in {1 positive, 0 negative, -1 ignored}; loc (4, N) float32; loc_weight (N,) = 1/#positives."""

    cls: np.ndarray
    loc: np.ndarray
    loc_weight: np.ndarray

    @property
    def num_positive(self) -> int:
        return int((self.cls == POSITIVE).sum())


def _sampled_targets(n: int, pos_idx: np.ndarray, neg_idx: np.ndarray, config: LabelConfig,
                     rng: np.random.Generator, encode: Callable[[np.ndarray], np.ndarray]) -> AnchorTargets:
    """At most max_pos positives, negatives up to ``total`` in all, the rest ignored; loc of the positives from
    ``encode(positive indices)`` (4, P), each positive weighted 1/#positives."""
    cls = np.full(n, IGNORE, dtype=np.int64)
    loc = np.zeros((4, n), dtype=np.float32)
    loc_weight = np.zeros(n, dtype=np.float32)
    if len(pos_idx) > config.max_pos:
        pos_idx = rng.choice(pos_idx, config.max_pos, replace=False)
    neg_count = min(len(neg_idx), config.total - len(pos_idx))
    neg_idx = rng.choice(neg_idx, neg_count, replace=False) if neg_count < len(neg_idx) else neg_idx
    cls[neg_idx] = NEGATIVE
    if len(pos_idx):
        cls[pos_idx] = POSITIVE
        loc[:, pos_idx] = encode(pos_idx).astype(np.float32)
        loc_weight[pos_idx] = 1.0 / len(pos_idx)
    return AnchorTargets(cls=cls, loc=loc, loc_weight=loc_weight)


def anchor_targets(box_cxcywh: np.ndarray | None, anchors: np.ndarray, config: LabelConfig,
                   rng: np.random.Generator) -> AnchorTargets:
    """Assign and sample anchors: IoU > pos_iou positive (at most max_pos), IoU < neg_iou negative, up to
    ``total`` sampled in all; the rest ignored. ``box_cxcywh=None`` (a negative pair) gives only negatives."""
    n = len(anchors)
    if box_cxcywh is None:
        pos_idx, neg_idx = np.zeros(0, dtype=np.int64), np.arange(n)
    else:
        iou = box_iou_cxcywh(anchors, box_cxcywh)
        pos_idx = np.flatnonzero(iou > config.pos_iou)
        neg_idx = np.flatnonzero(iou < config.neg_iou)
    return _sampled_targets(n, pos_idx, neg_idx, config, rng,
                            lambda idx: encode_deltas_cxcywh(box_cxcywh, anchors[idx]))


def point_targets(box_cxcywh: np.ndarray | None, points: np.ndarray, config: LabelConfig,
                  rng: np.random.Generator, centre_fraction: float = 0.25) -> AnchorTargets:
    """Targets of a point head: cells whose point lies within ``centre_fraction`` of the box's size from its
    centre (at least the nearest cell) are positive (at most max_pos), cells outside the box negative (up to
    ``total`` in all), the rest ignored; loc holds the distances to the box's left, top, right, bottom edges."""
    n = len(points)
    if box_cxcywh is None:
        return _sampled_targets(n, np.zeros(0, dtype=np.int64), np.arange(n), config, rng, lambda idx: idx)
    cx, cy, w, h = (float(v) for v in box_cxcywh)
    dx, dy = np.abs(points[:, 0] - cx), np.abs(points[:, 1] - cy)
    central = (dx <= centre_fraction * w) & (dy <= centre_fraction * h)
    central[int(np.argmin(dx * dx + dy * dy))] = True

    def edges(idx: np.ndarray) -> np.ndarray:
        p = points[idx]
        return np.stack([p[:, 0] - (cx - w / 2), p[:, 1] - (cy - h / 2), cx + w / 2 - p[:, 0], cy + h / 2 - p[:, 1]])

    return _sampled_targets(n, np.flatnonzero(central), np.flatnonzero((dx > w / 2) | (dy > h / 2)), config, rng,
                            edges)


def mask_positions(cls: np.ndarray, score_size: int, count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Up to ``count`` distinct score-map positions (y, x) holding a positive anchor, chosen at random."""
    positive = np.flatnonzero(cls == POSITIVE) % (score_size * score_size)
    cells = np.unique(positive)
    if len(cells) > count:
        cells = rng.choice(cells, count, replace=False)
    return [(int(c // score_size), int(c % score_size)) for c in cells]


def mask_window(mask: np.ndarray, pos_yx: tuple[int, int], geometry: TrackerConfig) -> np.ndarray:
    """The exemplar_size square of a search-crop mask that refine output at (y, x) covers (spec 8.9): top-left
    first + stride * (x, y) in the crop (first = -32 for r50's geometry); outside the crop is background (False)."""
    y, x = pos_yx
    size = geometry.exemplar_size
    first = first_cell_offset(geometry.stride, geometry.base_size, geometry.exemplar_size, geometry.instance_size)
    left = int(round(first + geometry.stride * x))
    top = int(round(first + geometry.stride * y))
    out = np.zeros((size, size), dtype=bool)
    height, width = mask.shape[:2]
    ix0, iy0 = max(left, 0), max(top, 0)
    ix1, iy1 = min(left + size, width), min(top + size, height)
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - top:iy1 - top, ix0 - left:ix1 - left] = mask[iy0:iy1, ix0:ix1]
    return out
