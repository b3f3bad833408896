"""`attsiammask tune`: search tracking hyperparameters on a tuning split (never the test split) and optionally
store the winner in a copy of the weights file, where `Tracker.create`, the node and `eval` pick it up.

  attsiammask tune --data data/sequences --split validation --grid penalty_k=0.1,0.15 --grid lr=0.3,0.4 \\
      --out outputs/tune [--weights W.pt] [--vot-top 3] [--write W_tuned.pt]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

EXAMPLE = """example:
  attsiammask tune --data data/sequences --split validation --grid lr=0.3,0.45 --grid penalty_k=0.05,0.1 \\
      --out outputs/tune
"""


def run(args: argparse.Namespace) -> int:
    from attsiammask_core.config import tracker_config_to_json
    from attsiammask_core.eval.sequences import discover, load_split
    from attsiammask_core.eval.tune import TEST_SPLITS, grid, parse_axis, tune, vot_failures
    from attsiammask_core.tracker import Tracker
    from attsiammask_core.weights import embedded_weights_path, read_weights, save_weights

    if args.split in TEST_SPLITS:
        print(f"attsiammask tune: refusing to tune on the {args.split!r} split (it is reported, never tuned on)",
              file=sys.stderr)
        return 2
    try:
        axes = dict(parse_axis(text) for text in args.grid)
        names = load_split(args.split, split_file=args.split_file)
        sequences = discover(args.data, names)
        base = Tracker.create(variant=args.variant, weights=args.weights, attention=not args.no_attention,
                              threads=args.threads, backend=args.backend)
        candidates = grid(axes)
        for candidate in candidates:  # fail on a bad field or value before hours of runs
            dataclasses.replace(base.config, **candidate)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"attsiammask tune: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    print(f"tuning {args.variant} on {len(sequences)} sequences of split {args.split!r}: {len(candidates)} candidates"
          f" (attention {'off' if args.no_attention else 'on'})", flush=True)
    ranking = tune(base, sequences, candidates, out / "ope.jsonl",
                   progress=(lambda line: print(line, flush=True)) if args.verbose else None)
    rows = []
    for i, score in enumerate(ranking):
        row = {"overrides": score.overrides, "auc": score.auc}
        if i < args.vot_top:
            row["vot_failures"] = vot_failures(base, sequences, score.overrides)
        rows.append(row)
        print(f"{score.auc:.4f}  {json.dumps(score.overrides)}" +
              (f"  VOT failures {row['vot_failures']}" if "vot_failures" in row else ""))
    (out / "ranking.json").write_text(json.dumps(rows, indent=1))
    best = rows[0]
    if args.vot_top > 1:  # among candidates within --tie of the best AUC, the fewest failures
        close = [r for r in rows[:args.vot_top] if r["auc"] >= rows[0]["auc"] - args.tie]
        best = min(close, key=lambda r: (r["vot_failures"], -r["auc"]))
    print(f"chosen: {json.dumps(best)}")
    if args.write:
        source = args.weights or embedded_weights_path(args.variant)
        tensors, metadata = read_weights(source)
        config = dataclasses.replace(base.config, **best["overrides"])
        from attsiammask_core.models import build_model

        model = build_model(args.variant)  # a torch module to write, whichever backend tuned
        model.load_state_dict(tensors)
        meta = {k: v for k, v in metadata.items() if k not in ("format", "format_version")}
        meta["tracker_config"] = tracker_config_to_json(config)
        meta["tracker_config_tuned_on"] = f"split {args.split} ({len(sequences)} sequences); OPE AUC {best['auc']:.4f}"
        save_weights(model, args.write, meta)
        print(f"wrote {args.write} with the chosen tracker configuration in its metadata")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="search tracking hyperparameters on a tuning split (never test)",
                       description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder of sequence folders")
    p.add_argument("--split", default="validation", help="split to tune on (default %(default)s; 'test' is refused)")
    p.add_argument("--split-file", type=Path, default=None, help="split JSON (default: the packaged split)")
    p.add_argument("--variant", default="lite")
    p.add_argument("--weights", type=Path, default=None, help="weights file (default: the embedded weights)")
    p.add_argument("--no-attention", action="store_true", help="tune plain SiamMask (attention off)")
    p.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2",
                   help="a TrackerConfig field and its values; repeat for more axes (every combination is run)")
    p.add_argument("--vot-top", type=int, default=0, help="count VOT failures of the N best (default 0)")
    p.add_argument("--tie", type=float, default=0.005, help="AUC difference counted as a tie (default %(default)s)")
    p.add_argument("--write", type=Path, default=None, help="write the weights with the chosen config here")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default %(default)s)")
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime"),
                   help="inference backend (default auto, as Tracker.create: onnxruntime on a CPU when installed)")
    p.add_argument("--out", type=Path, required=True, help="folder for ope.jsonl (resumable) and ranking.json")
    p.add_argument("--verbose", action="store_true", help="print every (candidate, sequence) result")
    p.set_defaults(func=run)
