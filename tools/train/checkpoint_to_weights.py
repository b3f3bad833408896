"""A training checkpoint (runs/<name>/epoch_NNN.pt or checkpoint_last.pt) -> our weights file, optionally with a
tracker configuration and the attention default in its metadata (what `Tracker.create` and the node read).

    python tools/train/checkpoint_to_weights.py runs/lfc/epoch_012.pt runs/lfc_e12.pt --variant lfc \\
        [--config-json '{"penalty_k": 0.04, ...}'] [--attention on|off]

The checkpoint is read with weights_only=True (attsiammask_core.train.trainer.load_checkpoint).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from attsiammask_core.config import VARIANT_PRESETS, preset, tracker_config_to_json
from attsiammask_core.models import build_model
from attsiammask_core.train.trainer import load_checkpoint
from attsiammask_core.weights.store import save_weights


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--config-json", help="tracker configuration overrides on the variant's preset (JSON object)")
    parser.add_argument("--attention", choices=("on", "off"), help="the attention default stored with the weights")
    args = parser.parse_args()
    state = load_checkpoint(args.checkpoint)
    model = build_model(args.variant)
    model.load_state_dict(state["model"])
    metadata = {"variant": args.variant, "source_checkpoint": f"{args.checkpoint.name} (epoch {state['epoch']})"}
    if args.config_json:
        config = dataclasses.replace(preset(VARIANT_PRESETS[args.variant]), **json.loads(args.config_json))
        metadata["tracker_config"] = tracker_config_to_json(config)
    if args.attention:
        metadata["attention"] = "true" if args.attention == "on" else "false"
    save_weights(model, args.out, metadata)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) from {args.checkpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
