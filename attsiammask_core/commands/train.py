"""`attsiammask train`: train a SiamMask variant from a YAML recipe (attsiammask_core/train/configs/*.yaml).

Examples:
  attsiammask train --config attsiammask_core/train/configs/lite.yaml --out runs/lite
  attsiammask train --config attsiammask_core/train/configs/lite.yaml --out runs/lite --resume
  torchrun --nproc_per_node=4 -m attsiammask_core.cli train --config attsiammask_core/train/configs/r50.yaml \
      --out runs/r50 --device cuda
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

EXAMPLE = """example:
  attsiammask train --config attsiammask_core/train/configs/lite.yaml --out runs/lite --resume
"""


def run(args: argparse.Namespace) -> int:
    from attsiammask_core.train.config import load_config
    from attsiammask_core.train.trainer import CHECKPOINT, train

    try:
        config = load_config(args.config)
    except (ValueError, FileNotFoundError) as err:
        print(f"attsiammask train: {err}")
        return 2
    if args.data_dir is not None:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, data_dir=str(args.data_dir)))
    if args.resume and not (args.out / CHECKPOINT).is_file():
        print(f"attsiammask train: --resume given but {args.out / CHECKPOINT} does not exist")
        return 2
    out = train(config, args.out, resume=args.resume, device=args.device,
                max_iterations=args.max_iterations)
    print(f"attsiammask train: outputs in {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` subcommand."""
    parser = subparsers.add_parser("train", help="train a model variant from a YAML config (resumable, torchrun)",
                                   description=__doc__, epilog=EXAMPLE,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, type=Path, help="training YAML (schema: attsiammask_core/train/"
                        "config.py)")
    parser.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder (default runs/train)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint_last.pt")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda:LOCAL_RANK under torchrun; default cpu)")
    parser.add_argument("--data-dir", type=Path, help="override data.data_dir of the config")
    parser.add_argument("--max-iterations", type=int, help="stop (with a checkpoint) after this many iterations "
                        "of this run; --resume continues")
    parser.set_defaults(func=run)
