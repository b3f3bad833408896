"""Training of SiamMask variants: pairs and augmentation, anchor/mask targets, the loss, and the trainer.

`train(config, out_dir)` is the recipe; `load_config(path)` reads a YAML recipe (configs/*.yaml here).
"""
from __future__ import annotations

from .config import TrainConfig, config_from_dict, config_to_dict, load_config
from .losses import SiamMaskLoss, TrainingForward
from .trainer import learning_rate, train

__all__ = ["SiamMaskLoss", "TrainConfig", "TrainingForward", "config_from_dict", "config_to_dict", "learning_rate",
           "load_config", "train"]
