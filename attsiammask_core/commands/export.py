"""`attsiammask export --variant lite|r50 [--weights F] --out DIR`: the tracking step's network parts as ONNX graphs
(template_features, template_kernels, search, refine; opset 17, fixed sizes) with the
variant and its tracking values in each graph's metadata, plus attsiammask_onnx.json naming every input and output
with its shape. Run them with `Tracker.create(backend="onnxruntime", weights=DIR)` or the node's model.backend."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLE = """example:
  attsiammask export --variant lite --out outputs/onnx_lite
"""


def _export(args: argparse.Namespace) -> int:
    from attsiammask_core.config import VARIANT_PRESETS, tracker_config_to_json
    from attsiammask_core.deploy.folder import write_export
    from attsiammask_core.models import build_model
    from attsiammask_core.tracker import resolve_tracker_config, stored_attention_default, stored_tracker_config
    from attsiammask_core.weights import WeightsError, embedded_weights_path, load_any

    try:
        model = build_model(args.variant)
        weights = args.weights or embedded_weights_path(args.variant)
        if weights is None:
            raise WeightsError(f"variant {args.variant!r} has no embedded weights: pass --weights")
        load_any(weights, model, variant=args.variant)
        config = resolve_tracker_config(stored_tracker_config(weights) or VARIANT_PRESETS.get(args.variant))
        metadata = {"variant": args.variant, "weights": Path(weights).name,
                    "tracker_config": tracker_config_to_json(config),
                    "attention": "true" if stored_attention_default(weights) else "false"}
        manifest = write_export(model, args.out, metadata)
    except ImportError as err:
        print(f"attsiammask export: {err}; install the extra: pip install 'onnx>=1.15' onnxruntime", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as err:  # WeightsError is a ValueError
        print(f"attsiammask export: {err}", file=sys.stderr)
        return 1
    print(f"attsiammask export: {args.variant} from {weights} -> {args.out} (opset {manifest['opset']})")
    for entry in manifest["graphs"].values():
        inputs = ", ".join(f"{k} {tuple(v)}" for k, v in entry["inputs"].items())
        outputs = ", ".join(f"{k} {tuple(v)}" for k, v in entry["outputs"].items())
        print(f"  {entry['file']:<24} {inputs} -> {outputs}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` subcommand."""
    parser = subparsers.add_parser("export", help="ONNX graphs of the tracking step (onnxruntime backend)",
                                   description=__doc__, epilog=EXAMPLE,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="lite", help="model variant (default lite)")
    parser.add_argument("--weights", type=Path, help="weights file (default: the variant's embedded weights)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.set_defaults(func=_export)
