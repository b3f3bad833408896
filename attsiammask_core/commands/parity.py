"""`attsiammask parity --data DIR [--variants lite r50] [--sequences ...]`: the onnxruntime backend against the torch
backend on whole real sequences, same weights, attention on and off: per sequence the largest per-frame box
difference (px), score difference and fraction of mask pixels that differ, with the onnxruntime step started from
the torch tracker's state on every frame; and the closed loops (each backend on its own), which float32 round-off
makes drift apart slowly (see attsiammask_core.eval.parity.py). r50 without --weights-r50 runs seeded
random weights (no r50 weights are shipped): the comparison is of the two backends, not of tracking quality."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

BOX_TOLERANCE_PX = 0.5
SCORE_TOLERANCE = 1e-4

EXAMPLE = """example:
  attsiammask parity --data data/sequences --sequences Crossing --variants lite
"""


def _parity(args: argparse.Namespace) -> int:
    import torch

    from attsiammask_core.eval.parity import backend_pair, compare_on_frames
    from attsiammask_core.eval.sequences import discover

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        sequences = discover(args.data, names=args.sequences or None)
    except (ValueError, OSError) as err:
        print(f"attsiammask parity: error: {err}", file=sys.stderr)
        return 2
    if not sequences:
        print(f"attsiammask parity: error: no sequences in {args.data}", file=sys.stderr)
        return 2
    print(f"attsiammask parity: onnxruntime vs torch, {len(sequences)} sequence(s) of {args.data}, "
          f"tolerances {BOX_TOLERANCE_PX} px and {SCORE_TOLERANCE:g}")
    print(f"{'':<46}{'per frame, same state':^38}  {'closed loops':^24}")
    print(f"{'variant':<8}{'attention':>10}  {'sequence':<28}{'frames':>7}{'max box px':>12}{'max score':>11}"
          f"{'max mask px %':>15}  {'max box px':>12}{'parted at':>11}")
    worst_box = worst_score = 0.0
    parted = runs = 0
    for variant in args.variants:
        weights = args.weights_r50 if variant == "r50" else None
        for attention in (True, False):
            torch.manual_seed(0)  # the same random r50 weights in every run without --weights-r50
            pair = backend_pair(variant, attention, weights=str(weights) if weights else None,
                                random_init=variant == "r50" and weights is None)
            for sequence in sequences:
                count = len(sequence) if args.max_frames is None else min(len(sequence), args.max_frames)
                frames = (sequence.frame(i) for i in range(count))
                result = compare_on_frames(sequence.name, pair, frames, tuple(sequence.boxes[0]), BOX_TOLERANCE_PX)
                worst_box, worst_score = max(worst_box, result.max_box_px), max(worst_score, result.max_score)
                parted += result.closed_loop_parted_at is not None
                runs += 1
                print(f"{variant:<8}{'on' if attention else 'off':>10}  {result.sequence:<28}{result.frames:>7}"
                      f"{result.max_box_px:>12.4f}{result.max_score:>11.2e}{100 * result.mask_pixels_differing:>15.3f}"
                      f"  {result.closed_loop_max_box_px:>12.4f}{result.closed_loop_parted_at or '-':>11}")
    ok = worst_box <= BOX_TOLERANCE_PX and worst_score <= SCORE_TOLERANCE
    print(f"per frame, largest over all: box {worst_box:.4f} px, score {worst_score:.2e}: "
          f"{'within' if ok else 'OUTSIDE'} the tolerances; closed loops parted (> {BOX_TOLERANCE_PX} px) in "
          f"{parted} of {runs} runs")
    return 0 if ok else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `parity` subcommand."""
    parser = subparsers.add_parser("parity", help="onnxruntime backend vs torch backend on real sequences",
                                   description=__doc__, epilog=EXAMPLE,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder of sequences (as for eval)")
    parser.add_argument("--sequences", nargs="*", help="sequence names (default: all)")
    parser.add_argument("--variants", nargs="+", default=["lite", "r50"], help="variants (default lite r50)")
    parser.add_argument("--weights-r50", type=Path, help="r50 weights (default: seeded random weights)")
    parser.add_argument("--max-frames", type=int, help="frames per sequence (default: all)")
    parser.add_argument("--threads", type=int, default=0, help="torch and onnxruntime threads (default: torch's)")
    parser.set_defaults(func=_parity)
