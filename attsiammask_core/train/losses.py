"""The training step: the network's training forward (`TrainingForward`) and the loss (`SiamMaskLoss`).

Losses (foolwood SiamMask, spec section 10 "Training-side facts"):
- cls: 2-way softmax cross-entropy per anchor (background channel a, foreground channel 5+a), the mean over
  sampled positives and the mean over sampled negatives weighted 0.5 each;
- loc: smooth-L1 on (dx, dy, dw, dh) of positive anchors, each sample's positives weighted 1/#positives,
  summed over anchors, averaged over the batch;
- mask: logistic (soft-margin) loss of the 127x127 refine logits against the +-1 ground-truth window, the
  per-pixel mean over positive positions of samples that have masks.
total = cls_weight * cls + loc_weight * loc + mask_weight * mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from attsiammask_core.models import SearchOutput, SiamMask

from .config import LossConfig

__all__ = ["LossOutput", "SiamMaskLoss", "TrainingForward"]


class TrainingForward(nn.Module):
    """Wraps a SiamMask for training: cls/loc/mask correlation for a batch plus refine at one position per window.

    It is this module that DistributedDataParallel wraps, so every trained parameter is used inside one
    forward call. Holds no loss and no state of its own.
    """

    def __init__(self, model: SiamMask) -> None:
        super().__init__()
        self.model = model

    def forward(self, template: torch.Tensor, search: torch.Tensor, mask_index: torch.Tensor,
                mask_ys: torch.Tensor, mask_xs: torch.Tensor) -> tuple[SearchOutput, torch.Tensor | None]:
        # The inference path (batched): cls, loc, mask_corr and f0-f2, without the 3969-channel raw mask map
        # of SiamMask.forward, which the refine ("sharp") loss does not use and which costs ~1/4 of the heads.
        out = self.model.search(search, self.model.template_kernels(self.model.template_features(template)))
        if mask_index.numel() == 0:
            return out, None
        refined = self.model.refine_head.forward_at(out.f0, out.f1, out.f2, out.mask_corr, mask_ys, mask_xs,
                                                    mask_index)
        return out, refined[:, 0]


@dataclass
class LossOutput:
    """The weighted total (for backward) and detached parts and diagnostics as floats."""

    total: torch.Tensor
    parts: dict[str, float]


class SiamMaskLoss:
    """Training-step object: runs the (possibly DDP-wrapped) `TrainingForward` on a batch and returns the loss."""

    def __init__(self, config: LossConfig) -> None:
        self.config = config

    def __call__(self, net: nn.Module, batch: dict[str, torch.Tensor]) -> LossOutput:
        device = next(iter(net.parameters())).device
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        weight = batch["mask_weight"]
        index, slot = torch.nonzero(weight > 0, as_tuple=True)
        pos = batch["mask_pos"][index, slot]
        out, refined = net(batch["template"], batch["search"], index, pos[:, 0], pos[:, 1])
        cls, cls_parts = self.classification(out.cls, batch["cls"])
        loc = self.localisation(out.loc, batch["loc"], batch["loc_weight"])
        if refined is None:
            mask = out.cls.sum() * 0.0
            mask_iou = float("nan")
        else:
            target = batch["mask_target"][index, slot]
            mask = F.softplus(-(target * 2 - 1) * refined).mean()  # soft-margin loss, overflow-free
            with torch.no_grad():
                predicted = refined > 0
                truth = target > 0.5
                union = (predicted | truth).sum((1, 2)).clamp(min=1)
                mask_iou = float(((predicted & truth).sum((1, 2)) / union).mean())
        c = self.config
        total = c.cls_weight * cls + c.loc_weight * loc + c.mask_weight * mask
        parts = {"loss": float(total.detach()), "cls": float(cls.detach()), "loc": float(loc.detach()),
                 "mask": float(mask.detach()), "mask_iou": mask_iou, "mask_windows": int(index.numel()), **cls_parts}
        return LossOutput(total=total, parts=parts)

    @staticmethod
    def classification(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """logits (N,2A,S,S) [background a, foreground A+a]; labels (N,A,S,S) in {1,0,-1}."""
        n, channels, h, w = logits.shape
        log_prob = F.log_softmax(logits.view(n, 2, channels // 2, h, w), dim=1)
        pos, neg = labels == 1, labels == 0
        zero = logits.sum() * 0.0
        pos_loss = -log_prob[:, 1][pos].mean() if pos.any() else zero
        neg_loss = -log_prob[:, 0][neg].mean() if neg.any() else zero
        with torch.no_grad():
            fg = log_prob[:, 1] > log_prob[:, 0]
            pos_acc = float(fg[pos].float().mean()) if pos.any() else float("nan")
            neg_acc = float((~fg[neg]).float().mean()) if neg.any() else float("nan")
        return 0.5 * pos_loss + 0.5 * neg_loss, {"pos_acc": pos_acc, "neg_acc": neg_acc}

    def localisation(self, deltas: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """deltas (N,4A,S,S) [dx a, dy A+a, dw 2A+a, dh 3A+a]; target (N,4,A,S,S); weight (N,A,S,S)."""
        n, channels, h, w = deltas.shape
        pred = deltas.view(n, 4, channels // 4, h, w)
        per_anchor = F.smooth_l1_loss(pred, target, reduction="none", beta=self.config.loc_beta).sum(1)
        return (per_anchor * weight).sum() / n
