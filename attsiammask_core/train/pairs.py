"""Training pairs from sequence folders: a template crop and a search crop of the same target a random gap apart.

Crops follow the tracker (spec section 2): the template is the 127x127 context square (context 0.5) around the
target, padded with the frame's mean colour (black, and the "area" context, when the geometry's config says so);
the search crop is the 255x255 square of side s_z * 255/127, but around a shifted, scaled and stretched centre so
the target sits anywhere within +-search_shift pixels of the crop centre. Boxes in a `Pair` are ``cxcywh`` in crop
pixels relative to the crop centre (pixel 127 of 255, 63 of 127), pixel centres at integers, the convention of
`geometry.anchors_cxcywh`. Frames whose box is absent (NaN) or degenerate are never used. Every draw comes from the
numpy Generator passed in.
"""
from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import dataclass, replace

import cv2
import numpy as np

from attsiammask_core.config import TrackerConfig
from attsiammask_core.eval.sequences import Sequence
from attsiammask_core.geometry import channel_mean_uint8, context_side, xywh_to_cxcywh

from .config import DataConfig


def _pad(frame: np.ndarray, mode: str) -> np.ndarray:
    """The crop's fill colour: the frame's mean (pysot) or black, as the tracker's TrackerConfig.pad."""
    return channel_mean_uint8(frame) if mode == "mean" else np.zeros(frame.shape[2:], dtype=np.uint8)

__all__ = ["FramePool", "Pair", "PairSampler", "valid_frames", "warp_crop"]

MIN_BOX_SIDE = 2.0


@dataclass(frozen=True)
class Pair:
    """One training pair. ``box`` is None for a negative pair (the search crop shows another target);
    ``mask``/``template_mask`` are None when the sequence has no masks."""

    template: np.ndarray  # (127,127,3) uint8 BGR
    search: np.ndarray  # (255,255,3) uint8 BGR
    box: np.ndarray | None  # (4,) cxcywh, search-crop-centre relative
    template_box: np.ndarray  # (4,) cxcywh, template-crop-centre relative
    mask: np.ndarray | None = None  # (255,255) bool
    template_mask: np.ndarray | None = None  # (127,127) bool
    source: str = ""

    def with_(self, **changes) -> Pair:
        return replace(self, **changes)


def valid_frames(boxes: np.ndarray) -> np.ndarray:
    """Indices of frames whose xywh box is present (finite) and at least MIN_BOX_SIDE wide and high."""
    b = np.asarray(boxes, dtype=np.float64)
    ok = np.isfinite(b).all(axis=1)
    ok[ok] &= (b[ok, 2] >= MIN_BOX_SIDE) & (b[ok, 3] >= MIN_BOX_SIDE)
    return np.flatnonzero(ok)


class FramePool:
    """The training sequences with their usable frames; decoded frames/masks optionally held in memory.

    With ``cache=True`` everything is decoded once here (before DataLoader workers fork, so they share the
    pages); otherwise each access decodes the file.
    """

    def __init__(self, sequences: Seq[Sequence], cache: bool = False) -> None:
        self.sequences = [s for s in sequences if len(valid_frames(s.boxes))]
        if not self.sequences:
            raise ValueError("no training sequence has a frame with a present target")
        self.valid = [valid_frames(s.boxes) for s in self.sequences]
        self.with_masks = [i for i, s in enumerate(self.sequences) if s.mask_paths is not None]
        self.without_masks = [i for i, s in enumerate(self.sequences) if s.mask_paths is None]
        self._frames: dict[tuple[int, int], np.ndarray] = {}
        self._masks: dict[tuple[int, int], np.ndarray] = {}
        if cache:
            for k, seq in enumerate(self.sequences):
                for i in self.valid[k]:
                    self._frames[k, int(i)] = seq.frame(int(i))
                    if seq.mask_paths is not None:
                        self._masks[k, int(i)] = seq.mask(int(i))

    def __len__(self) -> int:
        return len(self.sequences)

    def frame(self, k: int, i: int) -> np.ndarray:
        cached = self._frames.get((k, i))
        return cached if cached is not None else self.sequences[k].frame(i)

    def mask(self, k: int, i: int) -> np.ndarray | None:
        if self.sequences[k].mask_paths is None:
            return None
        cached = self._masks.get((k, i))
        return cached if cached is not None else self.sequences[k].mask(i)

    def box(self, k: int, i: int) -> np.ndarray:
        return np.asarray(self.sequences[k].boxes[i], dtype=np.float64)

    def cached_bytes(self) -> int:
        return sum(a.nbytes for a in self._frames.values()) + sum(a.nbytes for a in self._masks.values())


def warp_crop(image: np.ndarray, center_xy: Seq[float], scale_xy: Seq[float], out_size: int,
              pad_value: np.ndarray | float, target_xy: Seq[float] | None = None,
              interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """out_size crop where frame point ``center_xy`` lands on crop pixel ``target_xy`` (default: the centre
    pixel (out_size-1)/2) and frame distances are multiplied by ``scale_xy``; outside the frame is pad_value."""
    kx, ky = float(scale_xy[0]), float(scale_xy[1])
    mid = (out_size - 1) / 2
    tx, ty = (mid, mid) if target_xy is None else (float(target_xy[0]), float(target_xy[1]))
    matrix = np.array([[kx, 0.0, tx - kx * center_xy[0]], [0.0, ky, ty - ky * center_xy[1]]], dtype=np.float64)
    border = tuple(float(v) for v in np.atleast_1d(pad_value)) if np.ndim(pad_value) else float(pad_value)
    return cv2.warpAffine(image, matrix, (out_size, out_size), flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def _warp_mask(mask: np.ndarray, center_xy: Seq[float], scale_xy: Seq[float], out_size: int,
               target_xy: Seq[float] | None = None) -> np.ndarray:
    soft = warp_crop(mask.astype(np.uint8) * 255, center_xy, scale_xy, out_size, 0.0, target_xy)
    return soft > 127


class PairSampler:
    """Draws `Pair`s from a `FramePool` with the crop geometry of the tracker and the jitter of a DataConfig."""

    def __init__(self, pool: FramePool, data: DataConfig, geometry: TrackerConfig | None = None) -> None:
        self.pool = pool
        self.data = data
        self.geometry = geometry or TrackerConfig()

    # -- choosing frames -------------------------------------------------------------------------------
    def _pick_sequence(self, rng: np.random.Generator, mask_only: bool = False, exclude: int | None = None) -> int:
        choices = self.pool.with_masks if mask_only else list(range(len(self.pool)))
        if exclude is not None and len(choices) > 1:
            choices = [c for c in choices if c != exclude]
        if not choices:
            raise ValueError("no sequence with masks to sample from")
        return int(choices[rng.integers(len(choices))])

    def _pick_frames(self, k: int, rng: np.random.Generator) -> tuple[int, int]:
        valid = self.pool.valid[k]
        t = int(valid[rng.integers(len(valid))])
        near = valid[np.abs(valid - t) <= self.data.max_gap]
        return t, int(near[rng.integers(len(near))])

    # -- crops -----------------------------------------------------------------------------------------
    def template_crop(self, k: int, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                                               np.ndarray | None]:
        """(127 crop, cxcywh box relative to the crop centre, 127 mask or None) of frame i of sequence k."""
        d = self.data
        return self._jittered_crop(k, i, rng, self.geometry.exemplar_size, d.template_scale, None, d.template_shift)

    def search_crop(self, k: int, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                                             np.ndarray | None]:
        """(255 crop, cxcywh box relative to the crop centre, 255 mask or None) with shift/scale/aspect jitter."""
        d = self.data
        return self._jittered_crop(k, i, rng, self.geometry.instance_size, d.search_scale, d.search_aspect,
                                   d.search_shift)

    def _jittered_crop(self, k: int, i: int, rng: np.random.Generator, out_size: int, scale_jitter: float,
                       aspect_jitter: float | None, shift_jitter: float) -> tuple[np.ndarray, np.ndarray,
                                                                                  np.ndarray | None]:
        """A crop at the tracker's scale (exemplar / context side) with random scale, aspect and target shift."""
        frame, box = self.pool.frame(k, i), self.pool.box(k, i)
        g = self.geometry
        cx, cy, w, h = xywh_to_cxcywh(box)
        scale = g.exemplar_size / context_side((w, h), g.context_amount, g.context)
        scale *= float(np.exp(rng.uniform(-1, 1) * scale_jitter))
        aspect = 1.0 if aspect_jitter is None else float(np.exp(rng.uniform(-1, 1) * aspect_jitter / 2))
        kx, ky = scale * aspect, scale / aspect
        shift = rng.uniform(-1, 1, size=2) * shift_jitter
        mid = (out_size - 1) / 2
        target = (mid + shift[0], mid + shift[1])
        crop = warp_crop(frame, (cx, cy), (kx, ky), out_size, _pad(frame, g.pad), target)
        mask = self.pool.mask(k, i)
        crop_mask = None if mask is None else _warp_mask(mask, (cx, cy), (kx, ky), out_size, target)
        return crop, np.array([shift[0], shift[1], w * kx, h * ky]), crop_mask

    # -- pairs -----------------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, mask_only: bool = False, allow_negative: bool = True) -> Pair:
        """A positive pair (same target, frames at most max_gap apart), or with probability neg_pair_prob a
        negative pair whose search crop is centred near another sequence's target (box None)."""
        k = self._pick_sequence(rng, mask_only)
        t, s = self._pick_frames(k, rng)
        template, template_box, template_mask = self.template_crop(k, t, rng)
        name = self.pool.sequences[k].name
        negative = allow_negative and len(self.pool) > 1 and rng.random() < self.data.neg_pair_prob
        if negative:
            other = self._pick_sequence(rng, exclude=k)
            valid = self.pool.valid[other]
            j = int(valid[rng.integers(len(valid))])
            search, _, _ = self.search_crop(other, j, rng)
            return Pair(template, search, None, template_box, None, template_mask,
                        f"{name}:{t} / {self.pool.sequences[other].name}:{j} (negative)")
        search, box, mask = self.search_crop(k, s, rng)
        return Pair(template, search, box, template_box, mask, template_mask, f"{name}:{t}->{s}")

    def object_patch(self, rng: np.random.Generator, exclude: int | None = None) -> tuple[np.ndarray,
                                                                                          np.ndarray]:
        """A target cut from a random frame of another sequence: (h,w,3) uint8 patch and (h,w) float alpha
        (its mask where the sequence has masks, else a full rectangle)."""
        k = self._pick_sequence(rng, exclude=exclude)
        valid = self.pool.valid[k]
        i = int(valid[rng.integers(len(valid))])
        crop, box, mask = self.template_crop(k, i, rng)
        return object_region(crop, box, mask)

    def background(self, rng: np.random.Generator, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Template and search backgrounds (127 and 255 crops) of two nearby frames of a box-only sequence
        (any sequence when there is none), around a random point at a random scale."""
        choices = [c for c in (self.pool.without_masks or range(len(self.pool))) if c != exclude]
        k = int(choices[rng.integers(len(choices))]) if choices else self._pick_sequence(rng)
        t, s = self._pick_frames(k, rng)
        frames = self.pool.frame(k, t), self.pool.frame(k, s)
        height, width = frames[0].shape[:2]
        center = (rng.uniform(0, width), rng.uniform(0, height))
        side = rng.uniform(0.2, 0.6) * min(height, width)
        g = self.geometry
        kz = g.exemplar_size / side
        template = warp_crop(frames[0], center, (kz, kz), g.exemplar_size, _pad(frames[0], g.pad))
        search = warp_crop(frames[1], center, (kz, kz), g.instance_size, _pad(frames[1], g.pad))
        return template, search


def object_region(crop: np.ndarray, box: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The target's box region of a crop (box cxcywh relative to the crop centre) and its alpha (mask or ones)."""
    mid = (crop.shape[0] - 1) / 2
    x0 = int(np.clip(np.floor(mid + box[0] - box[2] / 2 + 0.5), 0, crop.shape[1] - 1))
    y0 = int(np.clip(np.floor(mid + box[1] - box[3] / 2 + 0.5), 0, crop.shape[0] - 1))
    x1 = int(np.clip(np.floor(mid + box[0] + box[2] / 2 + 0.5), x0 + 1, crop.shape[1]))
    y1 = int(np.clip(np.floor(mid + box[1] + box[3] / 2 + 0.5), y0 + 1, crop.shape[0]))
    patch = crop[y0:y1, x0:x1].copy()
    alpha = np.ones(patch.shape[:2], np.float32) if mask is None else mask[y0:y1, x0:x1].astype(np.float32)
    return patch, alpha
