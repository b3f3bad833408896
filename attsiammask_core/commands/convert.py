"""`attsiammask convert SRC DST`: any supported checkpoint -> our weights format (.pt)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLE = """example:
  attsiammask convert SiamMask_VOT.pth weights/r50_vot.pt --variant r50
"""


def _convert(args: argparse.Namespace) -> int:
    """Load SRC strictly into a fresh model of the variant, write DST, print the key count."""
    from attsiammask_core.models import build_model
    from attsiammask_core.weights import load_any, save_weights

    src, dst = Path(args.src), Path(args.dst)
    try:
        model = build_model(args.variant)
        fmt = load_any(src, model, variant=args.variant)
        count = save_weights(model, dst, {"variant": args.variant, "source": src.name, "source_format": fmt})
    except (ValueError, FileNotFoundError) as err:  # WeightsError is a ValueError
        print(f"attsiammask convert: {err}", file=sys.stderr)
        return 1
    print(f"{src} ({fmt}) -> {dst}: {count} keys, variant {args.variant}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `convert` subcommand."""
    parser = subparsers.add_parser("convert", help="convert an official SiamMask checkpoint to our weights format",
                                   description=__doc__, epilog=EXAMPLE,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="pysot model.pth, SiamMask_*.pth, or our .pt")
    parser.add_argument("dst", help="output .pt file")
    parser.add_argument("--variant", default="r50", help="model variant (default r50)")
    parser.set_defaults(func=_convert)
