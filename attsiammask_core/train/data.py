"""torch Dataset / DataLoader wiring: pairs, augmentation and targets as tensors, reproducible per sample.

Sample ``i`` of epoch ``e`` on rank ``r`` of ``w`` processes is drawn from ``numpy.random.default_rng([seed, e,
i * w + r])`` alone, so the data does not depend on the number of DataLoader workers, two ranks never draw the
same sample, and a run resumed at batch b of epoch e sees exactly the batches an uninterrupted run would.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from attsiammask_core.config import TrackerConfig

from .augment import augment_pair, paste_object
from .config import TrainConfig
from .labels import anchor_targets, crop_anchors, mask_positions, mask_window, point_targets
from .pairs import FramePool, Pair, PairSampler

__all__ = ["PairDataset", "ResumeSampler", "SampleCoordinates", "make_loader", "worker_init"]


@dataclass(frozen=True)
class SampleCoordinates:
    """Where a dataset sits in the run: seed, epoch, this process's rank and the number of processes."""

    seed: int = 0
    epoch: int = 0
    rank: int = 0
    world: int = 1


class PairDataset(Dataset):
    """``length`` samples per epoch for one process; item i -> dict of tensors:

    template (3,127,127) float32 BGR 0-255; search (3,255,255); cls (A,S,S) int64 {1,0,-1}; loc (4,A,S,S);
    loc_weight (A,S,S); mask_pos (K,2) int64 (y, x); mask_target (K,127,127) float32 in {0,1};
    mask_weight (K,) float32 (0 for unused slots and for samples without masks).
    """

    def __init__(self, pool: FramePool, config: TrainConfig, length: int,
                 coords: SampleCoordinates = SampleCoordinates(), geometry: TrackerConfig | None = None) -> None:
        self.geometry = geometry or TrackerConfig()
        self.sampler = PairSampler(pool, config.data, self.geometry)
        self.config = config
        self.length = int(length)
        self.coords = coords
        self.anchors = crop_anchors(self.geometry)

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.coords = SampleCoordinates(self.coords.seed, epoch, self.coords.rank, self.coords.world)

    def rng(self, index: int, stream: int = 0) -> np.random.Generator:
        """The Generator of sample ``index`` (stream 0: pair and augmentation, 1: label sampling)."""
        c = self.coords
        return np.random.default_rng([c.seed, c.epoch, index * c.world + c.rank, stream])

    def pair(self, index: int) -> Pair:
        """The augmented pair of sample ``index`` (for inspection; __getitem__ turns it into tensors)."""
        rng = self.rng(index)
        aug = self.config.augment
        pool = self.sampler.pool
        if pool.with_masks and len(pool) > 1 and rng.random() < aug.paste_prob:
            pair = self.sampler.sample(rng, mask_only=True, allow_negative=False)
            pair = paste_object(pair, self.sampler.background(rng), aug.paste_feather)
        else:
            pair = self.sampler.sample(rng, mask_only=self.config.data.mask_pairs_only and bool(pool.with_masks))
        return augment_pair(pair, aug, rng, donor=self.sampler.object_patch if len(pool) > 1 else None)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        pair = self.pair(index)
        rng = self.rng(index, stream=1)
        g = self.geometry
        assign = point_targets if g.head == "point" else anchor_targets
        targets = assign(pair.box, self.anchors, self.config.labels, rng)
        shape = (g.anchor_num, g.score_size, g.score_size)
        k = self.config.labels.mask_positions
        mask_pos = np.zeros((k, 2), np.int64)
        mask_target = np.zeros((k, g.exemplar_size, g.exemplar_size), np.float32)
        mask_weight = np.zeros(k, np.float32)
        if pair.mask is not None and k:
            for j, pos in enumerate(mask_positions(targets.cls, g.score_size, k, rng)):
                mask_pos[j] = pos
                mask_target[j] = mask_window(pair.mask, pos, g)
                mask_weight[j] = 1.0
        return {
            "template": torch.from_numpy(np.ascontiguousarray(pair.template.transpose(2, 0, 1), np.float32)),
            "search": torch.from_numpy(np.ascontiguousarray(pair.search.transpose(2, 0, 1), np.float32)),
            "cls": torch.from_numpy(targets.cls.reshape(shape)),
            "loc": torch.from_numpy(targets.loc.reshape((4,) + shape)),
            "loc_weight": torch.from_numpy(targets.loc_weight.reshape(shape)),
            "mask_pos": torch.from_numpy(mask_pos),
            "mask_target": torch.from_numpy(mask_target),
            "mask_weight": torch.from_numpy(mask_weight),
        }


class ResumeSampler(Sampler[int]):
    """Indices start, start+1, ..., length-1 in order (the pair randomness lives in the per-index Generator)."""

    def __init__(self, length: int, start: int = 0) -> None:
        self.length, self.start = int(length), int(start)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.length))

    def __len__(self) -> int:
        return max(self.length - self.start, 0)


def worker_init(worker_id: int) -> None:
    """DataLoader workers: one OpenCV/torch thread each (the 2-core budget belongs to the training step)."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    info = torch.utils.data.get_worker_info()
    seed = (info.seed if info is not None else worker_id) % 2**32
    np.random.seed(seed)


def make_loader(dataset: PairDataset, batch_size: int, start_batch: int = 0, num_workers: int = 0,
                pin_memory: bool = False) -> DataLoader:
    """Batches of an epoch from batch ``start_batch`` on (incomplete last batch dropped)."""
    usable = (len(dataset) // batch_size) * batch_size
    return DataLoader(dataset, batch_size=batch_size, sampler=ResumeSampler(usable, start_batch * batch_size),
                      num_workers=num_workers, worker_init_fn=worker_init if num_workers else None,
                      pin_memory=pin_memory, drop_last=True, persistent_workers=False)
