"""Augmentations of training pairs; each is a pure function of its inputs and a numpy Generator (same seed, same
result). Inputs are never modified.

Photometric: colour jitter (per-channel gain, brightness, contrast), grey, Gaussian blur. Geometric: horizontal
flip of the whole pair (the crop-level shift/scale/aspect jitter lives in pairs.py). Content: synthetic
occluders over part of the target, pasted distractors (the template object or another sequence's object
elsewhere in the search crop), and `paste_object`, which puts a mask sequence's target (cut out with its
masks) onto the frames of another sequence, multiplying the pairs that carry mask labels.
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from .config import AugmentConfig
from .labels import box_iou_cxcywh
from .pairs import Pair, object_region

__all__ = ["augment_pair", "blur", "color_jitter", "distractor", "flip_pair", "grey", "occluder", "paste_object"]

Donor = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


def color_jitter(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Per-channel gains 1 +- color_gain, contrast 1 +- contrast about the mean, brightness +- brightness."""
    gains = 1.0 + rng.uniform(-1, 1, size=3) * config.color_gain
    contrast = 1.0 + rng.uniform(-1, 1) * config.contrast
    shift = rng.uniform(-1, 1) * config.brightness
    out = image.astype(np.float32) * gains.astype(np.float32)
    mean = out.mean()
    out = (out - mean) * contrast + mean + shift
    return np.clip(out, 0, 255).astype(np.uint8)


def grey(image: np.ndarray) -> np.ndarray:
    """Grey image with three equal channels."""
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def blur(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur with sigma in (0.3, blur_sigma]."""
    sigma = rng.uniform(0.3, max(config.blur_sigma, 0.3))
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)


def _flip_box(box: np.ndarray | None) -> np.ndarray | None:
    return None if box is None else np.array([-box[0], box[1], box[2], box[3]])


def flip_pair(pair: Pair) -> Pair:
    """Mirror template, search and masks left-right (boxes: cx -> -cx about the crop centre)."""
    def mirror(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.ascontiguousarray(a[:, ::-1])
    return pair.with_(template=mirror(pair.template), search=mirror(pair.search), mask=mirror(pair.mask),
                      template_mask=mirror(pair.template_mask), box=_flip_box(pair.box),
                      template_box=_flip_box(pair.template_box))


def _box_pixels(box: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """Integer (x0, y0, x1, y1) of a crop-centre-relative cxcywh box, clipped to the crop."""
    mid = (size - 1) / 2
    x0 = int(np.clip(round(mid + box[0] - box[2] / 2), 0, size))
    y0 = int(np.clip(round(mid + box[1] - box[3] / 2), 0, size))
    x1 = int(np.clip(round(mid + box[0] + box[2] / 2), 0, size))
    y1 = int(np.clip(round(mid + box[1] + box[3] / 2), 0, size))
    return x0, y0, x1, y1


def _blend(base: np.ndarray, patch: np.ndarray, alpha: np.ndarray, x0: int, y0: int) -> tuple[np.ndarray, np.ndarray]:
    """Paste patch with alpha at (x0, y0) (clipped to base); returns the new image and the coverage (>0.5) mask."""
    out = base.copy()
    cover = np.zeros(base.shape[:2], dtype=bool)
    h, w = alpha.shape
    bx0, by0 = max(x0, 0), max(y0, 0)
    bx1, by1 = min(x0 + w, base.shape[1]), min(y0 + h, base.shape[0])
    if bx1 <= bx0 or by1 <= by0:
        return out, cover
    a = alpha[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0, None]
    p = patch[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0].astype(np.float32)
    region = out[by0:by1, bx0:bx1].astype(np.float32)
    out[by0:by1, bx0:bx1] = np.clip(region * (1 - a) + p * a, 0, 255).astype(np.uint8)
    cover[by0:by1, bx0:bx1] = a[..., 0] > 0.5
    return out, cover


def occluder(pair: Pair, config: AugmentConfig, rng: np.random.Generator) -> Pair:
    """A rectangle over part of the target in the search crop (solid colour, noise, or a patch of the crop),
    covering up to occluder_cover of the box area; the target's mask loses the covered pixels."""
    if pair.box is None:
        return pair
    size = pair.search.shape[0]
    x0, y0, x1, y1 = _box_pixels(pair.box, size)
    bw, bh = max(x1 - x0, 2), max(y1 - y0, 2)
    area = rng.uniform(0.1, max(config.occluder_cover, 0.1)) * bw * bh
    aspect = float(np.exp(rng.uniform(-0.7, 0.7)))
    ow = int(np.clip(np.sqrt(area * aspect), 2, size))
    oh = int(np.clip(np.sqrt(area / aspect), 2, size))
    cx, cy = rng.uniform(x0, x0 + bw), rng.uniform(y0, y0 + bh)
    ox, oy = int(cx - ow / 2), int(cy - oh / 2)
    kind = rng.integers(3)
    if kind == 0:
        patch = np.empty((oh, ow, 3), np.uint8)
        patch[...] = rng.integers(0, 256, size=3, dtype=np.uint8)
    elif kind == 1:
        patch = rng.integers(0, 256, size=(oh, ow, 3), dtype=np.uint8)
    else:
        sx, sy = int(rng.integers(0, size - ow + 1)), int(rng.integers(0, size - oh + 1))
        patch = pair.search[sy:sy + oh, sx:sx + ow]
    search, cover = _blend(pair.search, patch, np.ones((oh, ow), np.float32), ox, oy)
    mask = None if pair.mask is None else pair.mask & ~cover
    return pair.with_(search=search, mask=mask)


def distractor(pair: Pair, patch: np.ndarray, alpha: np.ndarray, rng: np.random.Generator,
               max_iou: float = 0.1, tries: int = 10) -> Pair:
    """Paste an object patch (with alpha) at about the target's size somewhere in the search crop where it
    overlaps the target box by IoU < max_iou; unchanged when no such place is found in ``tries`` draws."""
    size = pair.search.shape[0]
    if pair.box is not None:
        w, h = pair.box[2], pair.box[3]
    else:
        w, h = patch.shape[1] * 2.0, patch.shape[0] * 2.0
    factor = rng.uniform(0.8, 1.2)
    pw, ph = int(np.clip(w * factor, 4, size * 0.6)), int(np.clip(h * factor, 4, size * 0.6))
    for _ in range(tries):
        cx, cy = rng.uniform(pw / 2, size - pw / 2), rng.uniform(ph / 2, size - ph / 2)
        candidate = np.array([cx - (size - 1) / 2, cy - (size - 1) / 2, pw, ph])
        if pair.box is None or box_iou_cxcywh(candidate[None], pair.box)[0] < max_iou:
            break
    else:
        return pair
    resized = cv2.resize(patch, (pw, ph))
    a = cv2.resize(alpha.astype(np.float32), (pw, ph))
    search, cover = _blend(pair.search, resized, a, int(round(cx - pw / 2)), int(round(cy - ph / 2)))
    mask = None if pair.mask is None else pair.mask & ~cover
    return pair.with_(search=search, mask=mask)


def _feathered(mask: np.ndarray, feather: float) -> np.ndarray:
    alpha = mask.astype(np.float32)
    return cv2.GaussianBlur(alpha, (0, 0), sigmaX=feather) if feather > 0 else alpha


def paste_object(pair: Pair, background: tuple[np.ndarray, np.ndarray], feather: float = 1.0) -> Pair:
    """Cut the target of a mask pair out of both crops (by its masks) and paste it onto background crops of
    another sequence; boxes and masks are unchanged. Pairs without both masks are returned unchanged."""
    if pair.mask is None or pair.template_mask is None or pair.box is None:
        return pair
    template, _ = _blend(background[0], pair.template, _feathered(pair.template_mask, feather), 0, 0)
    search, _ = _blend(background[1], pair.search, _feathered(pair.mask, feather), 0, 0)
    return pair.with_(template=template, search=search, source=pair.source + " (pasted)")


def augment_pair(pair: Pair, config: AugmentConfig, rng: np.random.Generator, donor: Donor | None = None) -> Pair:
    """Content augmentations, flip, then photometric ones, in a fixed order with fixed draws per step
    (so the result is a function of the pair and the Generator state). ``donor(rng)`` gives another
    sequence's object (patch, alpha) for distractors; without it the template object is used."""
    if rng.random() < config.occluder_prob:
        pair = occluder(pair, config, rng)
    if rng.random() < config.distractor_prob:
        if donor is not None and rng.random() < config.distractor_from_other_prob:
            patch, alpha = donor(rng)
        else:
            patch, alpha = object_region(pair.template, pair.template_box, pair.template_mask)
        pair = distractor(pair, patch, alpha, rng)
    if rng.random() < config.flip_prob:
        pair = flip_pair(pair)
    if rng.random() < config.color_prob:
        pair = pair.with_(template=color_jitter(pair.template, config, rng))
    if rng.random() < config.color_prob:
        pair = pair.with_(search=color_jitter(pair.search, config, rng))
    if rng.random() < config.gray_prob:
        pair = pair.with_(template=grey(pair.template), search=grey(pair.search))
    if rng.random() < config.blur_prob:
        pair = pair.with_(search=blur(pair.search, config, rng))
    return pair
