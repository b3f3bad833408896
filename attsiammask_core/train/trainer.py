"""The training recipe (`train`): data, model, loss, SGD and the paper's schedule, with checkpoints and resume.

Single process (CPU or one GPU)::

    attsiammask train --config attsiammask_core/train/configs/lite.yaml --out runs/lite
    attsiammask train --config attsiammask_core/train/configs/lite.yaml --out runs/lite --resume

Several GPUs / machines with DistributedDataParallel (one process per GPU; ``batch_size`` is per process and
``samples_per_epoch`` is split over the processes; only rank 0 writes logs and checkpoints)::

    torchrun --nproc_per_node=4 -m attsiammask_core.cli train \
        --config attsiammask_core/train/configs/r50.yaml --out runs/r50 --device cuda
    # two machines: add --nnodes=2 --node_rank=<0|1> --rdzv_backend=c10d --rdzv_endpoint=<host0>:29500

The output folder holds ``checkpoint_last.pt`` (model, optimizer, scheduler, epoch/batch, RNG states and the
config; rewritten atomically every ``run.checkpoint_every`` iterations and at each epoch end),
``epoch_<n>.pt`` (the same after epoch n), ``log.jsonl`` (one line of losses per ``run.log_every``
iterations, with the iterations per second since the previous line), ``config.yaml`` and, at the end,
``<variant>.pt`` (the weights format of the package).
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from attsiammask_core.config import DEFAULT_PRESET, VARIANT_PRESETS, preset
from attsiammask_core.eval.sequences import Sequence, discover, load_split
from attsiammask_core.models import SiamMask, build_model

from .config import ModelConfig, OptimConfig, TrainConfig, config_to_dict
from .data import PairDataset, SampleCoordinates, make_loader
from .losses import SiamMaskLoss, TrainingForward
from .pairs import FramePool

__all__ = ["Distributed", "apply_freeze", "build_training_model", "learning_rate", "load_checkpoint",
           "matches_prefix", "param_groups", "save_checkpoint", "set_train_mode", "train", "CHECKPOINT"]

CHECKPOINT = "checkpoint_last.pt"
NANOTRACK_INIT = "nanotrack:"  # model.init "nanotrack:<path to nanotrackv2.pth>"
LIGHTFC_INIT = "lightfc:"  # model.init "lightfc:<folder of LightFC's FP32 ncnn files>" (the lfc variant)
LOG = "log.jsonl"


def learning_rate(epoch: int, optim: OptimConfig) -> float:
    """Learning rate of an epoch: linear warm-up warmup_lr -> base_lr over epochs [0, warmup_epochs], then
    logarithmic decay from base_lr at epoch warmup_epochs to final_lr at the last epoch (epochs - 1)."""
    w, last = optim.warmup_epochs, optim.epochs - 1
    if epoch < w:
        return optim.warmup_lr + (optim.base_lr - optim.warmup_lr) * epoch / w
    if last <= w:
        return optim.base_lr
    t = min(max((epoch - w) / (last - w), 0.0), 1.0)
    return float(optim.base_lr * (optim.final_lr / optim.base_lr) ** t)


def matches_prefix(name: str, prefixes: Iterable[str]) -> bool:
    """name equals a prefix or continues it at a '.' boundary ('backbone.layer1' matches 'backbone.layer1.0.x',
    not 'backbone.layer10')."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def apply_freeze(model: nn.Module, prefixes: Seq[str]) -> int:
    """requires_grad=False for the parameters under the prefixes; returns how many tensors were frozen.
    A prefix matching no parameter is an error (a typo must not silently train everything)."""
    names = [name for name, _ in model.named_parameters()]
    unused = [p for p in prefixes if not any(matches_prefix(n, [p]) for n in names)]
    if unused:
        raise ValueError(f"freeze prefixes match no parameter: {unused}")
    count = 0
    for name, param in model.named_parameters():
        if matches_prefix(name, prefixes):
            param.requires_grad_(False)
            count += 1
    return count


def set_train_mode(model: nn.Module, eval_prefixes: Seq[str]) -> None:
    """model.train(), then eval mode for every module under the prefixes (their BN statistics stay fixed)."""
    model.train()
    for name, module in model.named_modules():
        if name and matches_prefix(name, eval_prefixes):
            module.eval()


def build_training_model(config: ModelConfig) -> SiamMask:
    """The variant with its initial weights: "imagenet" (the backbone's ImageNet loader), a weights file, or
    None (random init)."""
    model = build_model(config.variant)
    if config.init and config.init.startswith(NANOTRACK_INIT):
        from attsiammask_core.models import LiteSiamMask
        from attsiammask_core.weights.nanotrack import load_nanotrack_into
        if not isinstance(model, LiteSiamMask):
            raise ValueError(f"model.init {config.init!r} is for the lite variant only")
        load_nanotrack_into(config.init[len(NANOTRACK_INIT):], model)
        model.init_mask_branch_from_box_head()
    elif config.init and config.init.startswith(LIGHTFC_INIT):
        from attsiammask_core.models import LfcSiamMask
        if not isinstance(model, LfcSiamMask):
            raise ValueError(f"model.init {config.init!r} is for the lfc variant only")
        model.load_lightfc(config.init[len(LIGHTFC_INIT):])
    elif config.init == "imagenet":
        from attsiammask_core.models import EfficientNetLite0Trunk, load_imagenet_weights
        if not isinstance(model.backbone, EfficientNetLite0Trunk):
            raise ValueError(f"model.init 'imagenet' is available for the lite backbone only; for "
                             f"{config.variant!r} give a weights file or null")
        load_imagenet_weights(model.backbone)
    elif config.init:
        from attsiammask_core.weights.store import load_any
        load_any(config.init, model, variant=config.variant)
    return model


def param_groups(model: nn.Module, backbone_lr_scale: float) -> list[dict[str, Any]]:
    """Trainable parameters: the backbone's at lr * backbone_lr_scale, the rest at lr (empty groups dropped)."""
    backbone = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("backbone.")]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("backbone.")]
    groups = [{"params": rest, "lr_scale": 1.0}, {"params": backbone, "lr_scale": backbone_lr_scale}]
    return [g for g in groups if g["params"]]


@dataclass(frozen=True)
class Distributed:
    """The process's place in a torchrun launch (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @staticmethod
    def from_env() -> Distributed:
        return Distributed(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                           int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def main(self) -> bool:
        return self.rank == 0


def _rng_state() -> dict[str, Any]:
    """RNG states as tensors and plain Python values only, so checkpoints load with weights_only=True."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(version), "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["name"], numpy_state["keys"].numpy().astype(np.uint32), numpy_state["pos"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["internal"]), python_state["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, epoch: int,
                    batch: int, step: int, config: TrainConfig) -> None:
    """Write the full training state atomically (temporary file + rename). ``epoch``/``batch``: where to go on."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": epoch, "batch": batch, "step": step, "rng": _rng_state(), "config": config_to_dict(config),
             "variant": config.model.variant}
    tmp = path.with_name(path.name + ".part")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by save_checkpoint, loaded safely (weights_only=True: tensors and plain values only)."""
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from: {path}")
    return torch.load(path, map_location="cpu", weights_only=True)


def _sequences(config: TrainConfig) -> list[Sequence]:
    names = list(config.data.sequences) or load_split(config.data.split,
                                                      Path(config.data.split_file) if config.data.split_file else None)
    return discover(config.data.data_dir, names)


def _log_line(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                            for k, v in record.items()}) + "\n")


def train(config: TrainConfig, out_dir: str | Path, *, resume: bool = False, device: str = "cpu",
          model: SiamMask | None = None, sequences: Seq[Sequence] | None = None,
          max_iterations: int | None = None, progress: bool = True) -> Path:
    """Train ``config.model.variant`` (or the given model) and return the output folder.

    ``sequences`` replaces the configured data; ``max_iterations`` stops (with a checkpoint) after that many
    iterations of this call, as a session ending mid-run would; ``resume`` continues from checkpoint_last.pt.
    """
    from tqdm import tqdm

    dist = Distributed.from_env()
    distributed = dist.world > 1
    if distributed:
        import torch.distributed as tdist
        tdist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        if device.startswith("cuda"):
            device = f"cuda:{dist.local_rank}"
            torch.cuda.set_device(dist.local_rank)
    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    out = Path(out_dir)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))

    # -- model, frozen parts, optimiser, schedule
    torch.manual_seed(config.run.seed)
    if model is None:
        model = build_training_model(config.model)
    frozen = apply_freeze(model, config.model.freeze)
    eval_prefixes = tuple(config.model.freeze) + tuple(config.model.bn_eval)
    model.to(device)
    net: nn.Module = TrainingForward(model)
    if distributed:
        net = nn.parallel.DistributedDataParallel(
            net, device_ids=[dist.local_rank] if device.startswith("cuda") else None, find_unused_parameters=True)
    optim = config.optim
    groups = param_groups(model, config.model.backbone_lr_scale)
    for g in groups:
        g["lr"] = optim.base_lr * g["lr_scale"]
    if optim.optimizer == "adamw":
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=optim.base_lr,
                                                             weight_decay=optim.weight_decay)
    else:
        optimizer = torch.optim.SGD(groups, lr=optim.base_lr, momentum=optim.momentum,
                                    weight_decay=optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: learning_rate(e, optim) / optim.base_lr)
    loss_fn = SiamMaskLoss(config.loss)

    # -- where to start
    epoch, start_batch, step = 0, 0, 0
    if resume:
        state = load_checkpoint(out / CHECKPOINT)
        if state["config"] != config_to_dict(config) and dist.main:
            print(f"warning: {out / CHECKPOINT} was written with a different config; continuing with the new one")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        epoch, start_batch, step = state["epoch"], state["batch"], state["step"]
        _set_rng_state(state["rng"])

    # -- data
    pool = FramePool(sequences if sequences is not None else _sequences(config), cache=config.data.cache_frames)
    per_rank = optim.samples_per_epoch // dist.world
    dataset = PairDataset(pool, config, per_rank, SampleCoordinates(config.run.seed, epoch, dist.rank, dist.world),
                          geometry=preset(VARIANT_PRESETS.get(config.model.variant, DEFAULT_PRESET)))
    batches = per_rank // optim.batch_size
    if batches < 1:
        raise ValueError(f"samples_per_epoch {optim.samples_per_epoch} gives no full batch of {optim.batch_size} "
                         f"on each of {dist.world} process(es)")
    if dist.main and progress:
        print(f"training {config.model.variant}: {sum(p.numel() for p in model.parameters() if p.requires_grad):,} "
              f"trainable parameters ({frozen} tensors frozen), {len(pool)} sequences, "
              f"{pool.cached_bytes() / 2**20:.0f} MiB cached, {batches} iterations/epoch, device {device}, "
              f"{dist.world} process(es)")

    def checkpoint(at_epoch: int, at_batch: int, copy: str | None = None) -> None:
        if dist.main:
            save_checkpoint(out / CHECKPOINT, model, optimizer, scheduler, at_epoch, at_batch, step, config)
            if copy:
                save_checkpoint(out / copy, model, optimizer, scheduler, at_epoch, at_batch, step, config)

    done_here = 0
    clip_params = [p for g in groups for p in g["params"]]
    while epoch < optim.epochs:
        dataset.set_epoch(epoch)
        loader = make_loader(dataset, optim.batch_size, start_batch, config.run.num_workers,
                             pin_memory=device.startswith("cuda"))
        set_train_mode(model, eval_prefixes)
        bar = tqdm(total=batches, initial=start_batch, desc=f"epoch {epoch + 1}/{optim.epochs}",
                   disable=not (dist.main and progress), dynamic_ncols=True)
        tick, tick_step = time.perf_counter(), step
        for batch_index, batch in enumerate(loader, start=start_batch):
            result = loss_fn(net, batch)
            if not torch.isfinite(result.total):
                raise FloatingPointError(f"non-finite loss at epoch {epoch} batch {batch_index}: {result.parts}")
            optimizer.zero_grad(set_to_none=True)
            result.total.backward()
            if optim.grad_clip > 0:
                nn.utils.clip_grad_norm_(clip_params, optim.grad_clip)
            optimizer.step()
            step += 1
            done_here += 1
            bar.update(1)
            if dist.main and (step % config.run.log_every == 0 or batch_index == 0):
                now = time.perf_counter()
                bar.set_postfix(loss=f"{result.parts['loss']:.3f}", mask_iou=f"{result.parts['mask_iou']:.2f}")
                _log_line(out / LOG, {"epoch": epoch, "batch": batch_index, "step": step,
                                      "lr": optimizer.param_groups[0]["lr"], "seconds": round(now - tick, 3),
                                      "it_per_s": round((step - tick_step) / max(now - tick, 1e-9), 3),
                                      **result.parts})
                tick, tick_step = now, step
            finished_epoch = batch_index + 1 == batches
            if not finished_epoch and config.run.checkpoint_every and step % config.run.checkpoint_every == 0:
                checkpoint(epoch, batch_index + 1)
            if max_iterations is not None and done_here >= max_iterations and not finished_epoch:
                checkpoint(epoch, batch_index + 1)
                bar.close()
                return _finish(out, distributed)
        bar.close()
        epoch, start_batch = epoch + 1, 0
        scheduler.step()
        checkpoint(epoch, 0, copy=f"epoch_{epoch:03d}.pt")
        if max_iterations is not None and done_here >= max_iterations:
            return _finish(out, distributed)
    if dist.main:
        from attsiammask_core.weights.store import save_weights
        save_weights(model, out / f"{config.model.variant}.pt",
                     {"variant": config.model.variant, "trained_steps": str(step)})
    return _finish(out, distributed)


def _finish(out: Path, distributed: bool) -> Path:
    if distributed:
        import torch.distributed as tdist
        tdist.barrier()
        tdist.destroy_process_group()
    return out
