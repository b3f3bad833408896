"""Att-SiamMask attention (paper 4.2-4.3): the target's essential part by HOG, and the template weighting.

Run once per target: find the essential part K of the target patch T (9 half-size windows at stride 1/4;
argmin of HOG(T) . HOG(T with window i zeroed)), correlate f(K) over f(T) into a map A in [0, 1], and
weight the template features f * (1 + a A) before (or, by configuration, after) the kernel convolutions.
The model only computes; every choice lives in `AttentionConfig`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from skimage.feature import hog

from attsiammask_core.config import AttentionConfig

__all__ = ["EssentialPart", "TemplateAttention", "candidate_windows_xywh", "hog_descriptor", "find_essential_part",
           "target_box_in_template_xywh", "feature_cells", "correlate_same", "normalise_map", "weight_features",
           "attention_map", "attended_kernels"]


_DEFAULT = AttentionConfig()  # frozen, so safe as a shared default


class EssentialPart(NamedTuple):
    """The chosen window: its index (0 = top-left, row-major), its (x, y, w, h) in patch pixels, all scores."""

    index: int
    window_xywh: np.ndarray
    scores: np.ndarray


@dataclasses.dataclass(frozen=True)
class TemplateAttention:
    """What the attention step decided for one target (template-crop pixel coordinates)."""

    part: EssentialPart
    target_box_xywh: np.ndarray
    part_box_xywh: np.ndarray
    map: np.ndarray


def candidate_windows_xywh(patch_wh: tuple[float, float], config: AttentionConfig = _DEFAULT) -> np.ndarray:
    """(G*G, 4) windows of part_fraction of the patch size at stride stride_fraction, top-left to bottom-right."""
    w, h = float(patch_wh[0]), float(patch_wh[1])
    steps = np.arange(config.grid, dtype=np.float64) * config.stride_fraction
    yy, xx = np.meshgrid(steps * h, steps * w, indexing="ij")
    count = xx.size
    return np.stack([xx.reshape(-1), yy.reshape(-1), np.full(count, w * config.part_fraction),
                     np.full(count, h * config.part_fraction)], axis=1)


def hog_descriptor(patch: np.ndarray, config: AttentionConfig = _DEFAULT) -> np.ndarray:
    """scikit-image HOG of the patch resized to hog_size x hog_size (colour: strongest channel gradient).

    With the default one-block layout the descriptor is the cell histograms under one global normalisation.
    """
    side = config.hog_size
    resized = cv2.resize(np.ascontiguousarray(patch), (side, side), interpolation=cv2.INTER_LINEAR)
    return hog(resized, orientations=config.hog_orientations,
               pixels_per_cell=(config.hog_pixels_per_cell, config.hog_pixels_per_cell),
               cells_per_block=(config.cells_per_block, config.cells_per_block),
               block_norm=config.hog_block_norm, feature_vector=True,
               channel_axis=-1 if resized.ndim == 3 else None).astype(np.float64)


def _check_patch(patch: Any) -> np.ndarray:
    arr = np.asarray(patch)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3)):
        raise ValueError(f"target patch must be HxW or HxWx3, got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"target patch must be at least 2x2 pixels, got shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return arr


def find_essential_part(target_patch: np.ndarray, config: AttentionConfig = _DEFAULT) -> EssentialPart:
    """Paper eq. 6: k = argmin_i HOG(T) . HOG(T_m(i)), T_m(i) = T with window i set to zero (see mask_fill)."""
    patch = _check_patch(target_patch)
    height, width = patch.shape[:2]
    windows = candidate_windows_xywh((width, height), config)
    edges = np.rint(np.stack([windows[:, 0], windows[:, 1], windows[:, 0] + windows[:, 2],
                              windows[:, 1] + windows[:, 3]], axis=1)).astype(int)
    edges[:, 2] = np.clip(np.maximum(edges[:, 2], edges[:, 0] + 1), 0, width)
    edges[:, 3] = np.clip(np.maximum(edges[:, 3], edges[:, 1] + 1), 0, height)
    masked = np.repeat(patch[None], len(windows), axis=0)
    for i, (x0, y0, x1, y1) in enumerate(edges):  # 9 windows, once per target
        window = masked[i, y0:y1, x0:x1]
        window[...] = 0 if config.mask_fill == "zero" else np.mean(window, axis=(0, 1)).astype(patch.dtype)
    reference = hog_descriptor(patch, config)
    descriptors = np.stack([hog_descriptor(m, config) for m in masked])
    scores = descriptors @ reference
    index = int(np.argmin(scores))
    return EssentialPart(index=index, window_xywh=windows[index].copy(), scores=scores)


def target_box_in_template_xywh(size_wh: tuple[float, float], template_side: float, exemplar_size: int) -> np.ndarray:
    """The target's box inside the exemplar crop: centred at (E-1)/2, size scaled by E / s_z, clipped to the crop."""
    scale = exemplar_size / float(template_side)
    w = min(float(size_wh[0]) * scale, float(exemplar_size))
    h = min(float(size_wh[1]) * scale, float(exemplar_size))
    centre = (exemplar_size - 1) / 2
    x0 = float(np.clip(centre - w / 2, 0.0, exemplar_size - w))
    y0 = float(np.clip(centre - h / 2, 0.0, exemplar_size - h))
    return np.array([x0, y0, w, h], dtype=np.float64)


def feature_cells(start: float, length: float, cells: int, stride: int, centre: float) -> slice:
    """Feature-map cells (one axis) whose centres, centre + stride (j - (n-1)/2), lie in [start, start + length].

    When none does, the single cell nearest to the interval's middle.
    """
    centres = centre + stride * (np.arange(cells) - (cells - 1) / 2)
    inside = np.nonzero((centres >= start) & (centres <= start + length))[0]
    if inside.size == 0:
        nearest = int(np.argmin(np.abs(centres - (start + length / 2))))
        return slice(nearest, nearest + 1)
    return slice(int(inside[0]), int(inside[-1]) + 1)


def correlate_same(feature: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Full-channel cross-correlation of a (1,C,kh,kw) kernel over a (1,C,H,W) map, zero padded to (H, W)."""
    kh, kw = kernel.shape[-2:]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = F.pad(feature, (left, kw - 1 - left, top, kh - 1 - top))
    return F.conv2d(padded, kernel)[0, 0]


def normalise_map(z: torch.Tensor, mode: str) -> torch.Tensor:
    """Map a correlation to [0, 1]: "minmax" (z - min)/(max - min), "max" max(z, 0)/max; zeros if degenerate."""
    if mode == "minmax":
        low, high = z.min(), z.max()
        span = high - low
        if float(span) <= 1e-12 * max(float(high.abs()), 1.0):
            return torch.zeros_like(z)
        return (z - low) / span
    if mode == "max":
        high = z.max()
        if float(high) <= 0:
            return torch.zeros_like(z)
        return z.clamp(min=0) / high
    raise ValueError(f"unknown attention normalisation {mode!r}")


def weight_features(features: torch.Tensor, attention: torch.Tensor, strength: float,
                    renormalise: bool) -> torch.Tensor:
    """features * (1 + a A) with A centre-cropped to the features' size; optionally rescaled to the same L2 norm."""
    fh, fw = features.shape[-2:]
    ah, aw = attention.shape[-2:]
    top, left = (ah - fh) // 2, (aw - fw) // 2
    crop = attention[top:top + fh, left:left + fw]
    weighted = features * (1.0 + strength * crop)
    if renormalise:
        norm = weighted.norm()
        if float(norm) > 0:
            weighted = weighted * (features.norm() / norm)
    return weighted


def _part_kernel_backbone(model: Any, template_crop: np.ndarray, part_box_xywh: np.ndarray,
                          zf: torch.Tensor, min_side: int) -> torch.Tensor:
    """f(K) by running model.features on K's pixels cut from the template crop (at least min_side, shifted inside)."""
    size = template_crop.shape[0]
    x, y, w, h = part_box_xywh
    side_w = int(min(max(round(w), min_side), size))
    side_h = int(min(max(round(h), min_side), size))
    x0 = int(np.clip(round(x + w / 2 - side_w / 2), 0, size - side_w))
    y0 = int(np.clip(round(y + h / 2 - side_h / 2), 0, size - side_h))
    cut = np.ascontiguousarray(template_crop[y0:y0 + side_h, x0:x0 + side_w])
    tensor = torch.from_numpy(cut).to(zf.device).permute(2, 0, 1).unsqueeze(0).float().contiguous()
    kernel = model.features(tensor)
    kh, kw = min(kernel.shape[-2], zf.shape[-2]), min(kernel.shape[-1], zf.shape[-1])
    top, left = (kernel.shape[-2] - kh) // 2, (kernel.shape[-1] - kw) // 2
    return kernel[..., top:top + kh, left:left + kw]


@torch.inference_mode()
def attention_map(model: Any, zf: torch.Tensor, template_crop: np.ndarray, target_box_xywh: np.ndarray,
                  config: AttentionConfig, stride: int = 8) -> TemplateAttention:
    """Essential part of the target in the template crop, and A = norm(f(K) correlated over zf), (h, w) of zf."""
    tx, ty, tw, th = target_box_xywh
    size = template_crop.shape[0]
    x0, y0 = min(int(np.floor(tx)), size - 2), min(int(np.floor(ty)), size - 2)
    x1 = min(max(int(np.ceil(tx + tw)), x0 + 2), size)
    y1 = min(max(int(np.ceil(ty + th)), y0 + 2), size)
    part = find_essential_part(template_crop[y0:y1, x0:x1], config)
    part_box = part.window_xywh + np.array([x0, y0, 0.0, 0.0])
    centre = (size - 1) / 2
    if config.part_features == "template":
        rows = feature_cells(part_box[1], part_box[3], zf.shape[-2], stride, centre)
        cols = feature_cells(part_box[0], part_box[2], zf.shape[-1], stride, centre)
        kernel = zf[..., rows, cols]
    else:
        kernel = _part_kernel_backbone(model, template_crop, part_box, zf, config.backbone_min_side)
    amap = normalise_map(correlate_same(zf, kernel), config.normalisation)
    return TemplateAttention(part=part, target_box_xywh=np.asarray(target_box_xywh, dtype=np.float64).copy(),
                             part_box_xywh=part_box, map=amap.detach().cpu().numpy().astype(np.float64))


@torch.inference_mode()
def attended_kernels(model: Any, zf: torch.Tensor, attention: TemplateAttention, config: AttentionConfig) -> Any:
    """Template kernels with the attention applied at the configured level ("neck" or "kernels")."""
    amap = torch.as_tensor(attention.map, dtype=zf.dtype, device=zf.device)
    if config.level == "neck":
        return model.template_kernels(weight_features(zf, amap, config.strength, config.renormalise))
    kernels = model.template_kernels(zf)
    return dataclasses.replace(kernels, **{
        f.name: weight_features(getattr(kernels, f.name), amap, config.strength, config.renormalise)
        for f in dataclasses.fields(kernels)})
