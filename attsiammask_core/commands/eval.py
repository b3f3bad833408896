"""`attsiammask eval`: trackers side by side on sequence folders: one-pass (OPE), supervised (VOT) and long-term
protocols.

Writes OUT/runs/<tracker>/<sequence>/<protocol>-<hash>.json (one per run, reused on the next call with the same
tracker, options and sequence: interrupted evaluations resume), OUT/results.json (per sequence and overall),
OUT/table.md and the plots OUT/success.png, OUT/precision.png (OPE) and OUT/ar.png (VOT).

Tracker specs: csrt | kcf | nanotrack | vit | nanotrackv3 | lightfc |
  ours[:VARIANT][:att|:noatt][:PRESET][:score][:int8]
  nanotrack and vit (OpenCV), nanotrackv3 and lightfc (onnxruntime, each with its published tracking step) need
  --peers DIR, the folder tools/peers/build_peers.py writes (nanotrackv2/, vittrack/, nanotrackv3/, lightfc/).
  ours: VARIANT from attsiammask_core.models (default: the package default), att or noatt (default: the
  weights' choice),
  PRESET a tracker preset (default: the default preset); score: presence from the raw score only (no verifier, no
  re-detection while lost); int8: the variant's shipped int8 graphs (onnxruntime; lfc); e.g. ours, ours:r50:noatt,
  ours:r50:att:vot, ours:lite:score, ours:lfc:int8.
  Variants without embedded weights need --weights PATH.

Protocols: OPE initialises on the first frame with ground truth and never re-initialises (success AUC over 21
IoU thresholds, precision at 20 px; frames without ground truth excluded). VOT: a failure is a frame whose
overlap with the ground truth is 0; the tracker is re-initialised 5 frames later (--skip) on that frame's
ground truth (or the next frame that has one); the first 10 frames after each (re)initialisation (--burn-in)
are excluded from accuracy. EAO averages the expected-overlap curve over --eao-interval; a sequence shorter
than the interval counts through its failed segments (zero after the failure) and the lengths it reaches.
J: mask IoU per frame on sequences with masks (the tracker's mask; J_box: its filled box). Speed: latency of
every update() in this run, median, p95 and fps. OpenCV trackers that report no target keep their last box.

Long-term (--protocol longterm; not part of "both"): one pass, no re-initialisation, on the sequences with a frame
without ground truth after the first (others are skipped), e.g. the sets of tools/data/make_longterm.py
(data/longterm/<split>/), whose longterm.json lists when the target leaves the view and comes back. Per frame the
tracker's confidence (ours: its presence confidence; a peer: 1 when it gives a box, 0 when it reports no target)
and IoU (0 where the target is absent). VOT-LT: precision Pr(t) = mean IoU over the frames reported present
(confidence >= t), recall Re(t) = mean IoU over the frames where the target is present (0 where reported absent),
per sequence, averaged over sequences; F = max over t of 2 Pr Re / (Pr + Re), with Pr, Re and t there.
Re-acquisition: per event (the listed ones, and every run of 5+ frames without ground truth), whether a published
detection reaches IoU >= 0.5 within 30 frames of the target being fully back (the first frame back is frame 0;
delay in frames), over all events and over those tracked (same test) in one of the 5 frames before it left; median
delay. The share of absent frames with a published detection. Published: the tracker's own decision (not holding
its box), or confidence >= --presence-threshold.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from attsiammask_core.commands.arguments import positive_int

EXAMPLE = """example:
  python tools/data/make_longterm.py --data data/sequences --out data/longterm --split validation
  attsiammask eval --data data/longterm/validation --trackers ours csrt --protocol longterm --out outputs/eval-lt
"""


def _names(values: list[str] | None) -> list[str] | None:
    """--sequences accepts space- and comma-separated names."""
    if values is None:
        return None
    return [name for value in values for name in value.split(",") if name.strip()]


def _sequence_names(args: argparse.Namespace) -> list[str] | None:
    from attsiammask_core.eval.sequences import load_split

    if args.sequences is not None:
        return _names(args.sequences)
    if args.split is not None or args.split_file is not None:
        return list(load_split(args.split or "validation", split_file=args.split_file))
    return None


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the report, print the table and the paths; 2 on a user error."""
    from attsiammask_core.eval.longterm_metrics import LongTermSettings
    from attsiammask_core.eval.report import write_report
    from attsiammask_core.eval.runner import EvalOptions, evaluate, has_absent_frames
    from attsiammask_core.eval.sequences import discover
    from attsiammask_core.eval.trackers import make_tracker

    started = time.perf_counter()
    low, high = args.eao_interval
    try:
        if not 1 <= low <= high:
            raise ValueError(f"--eao-interval needs 1 <= LOW <= HIGH, got {low} {high}")
        if not args.data.is_dir():
            raise FileNotFoundError(f"--data: not a folder: {args.data}")
        if args.peers is not None and not args.peers.is_dir():
            raise FileNotFoundError(f"--peers: not a folder: {args.peers}")
        protocols = ("ope", "vot") if args.protocol == "both" else (args.protocol,)
        options = EvalOptions(protocols=protocols, skip=args.skip, burn_in=args.burn_in, max_frames=args.max_frames,
                              seed=args.seed)
        settings = LongTermSettings(presence_threshold=args.presence_threshold)
        sequences = discover(args.data, names=_sequence_names(args))
        if not sequences:
            raise ValueError(f"no sequences found in {args.data}")
        if args.protocol == "longterm":
            skipped = [s.name for s in sequences if not has_absent_frames(s, args.max_frames)]
            sequences = [s for s in sequences if s.name not in skipped]
            if not sequences:
                raise ValueError(f"--protocol longterm: no sequence in {args.data} has a frame without ground truth "
                                 "after its first (make long-term sequences with tools/data/make_longterm.py)")
            if skipped:
                print(f"attsiammask eval: longterm: {len(skipped)} sequence(s) without absent frames skipped: "
                      f"{', '.join(skipped)}")
        factories = [make_tracker(spec, peers_dir=args.peers, weights=args.weights, device=args.device,
                                  backend=args.backend)
                     for spec in args.trackers]
    except (ValueError, OSError) as err:
        print(f"attsiammask eval: error: {err}", file=sys.stderr)
        return 2
    print(f"attsiammask eval: {len(factories)} tracker(s) x {len(sequences)} sequence(s) "
          f"({sum(len(s) for s in sequences)} frames), protocol {args.protocol}, seed {args.seed}")
    results = evaluate(factories, sequences, args.out, options, resume=not args.no_resume,
                       progress=not args.quiet)
    _, table, paths = write_report(results, args.out, (low, high), settings)
    print()
    print(table, end="")
    print()
    print(f"runs: {results.ran} run, {results.cached} reused from {args.out / 'runs'}")
    for path in paths.all():
        print(f"wrote {path}")
    print(f"elapsed {time.perf_counter() - started:.1f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` subcommand."""
    parser = subparsers.add_parser("eval", help="evaluate trackers (OPE, VOT and long-term protocols) on sequence "
                                   "folders", description=__doc__, epilog=EXAMPLE,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, help="folder of sequence folders")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--sequences", nargs="+", metavar="NAME",
                       help="sequence names (space- or comma-separated; default: every sequence in --data)")
    which.add_argument("--split", help="the sequences of this split (train, validation, test; see the split file)")
    parser.add_argument("--split-file", type=Path,
                        help="split JSON (default: the project's attsiammask_core/data/split.json)")
    parser.add_argument("--trackers", required=True, nargs="+", metavar="SPEC",
                        help="tracker specs: csrt kcf nanotrack vit nanotrackv3 lightfc "
                        "ours[:VARIANT][:att|:noatt][:PRESET][:score]")
    parser.add_argument("--protocol", choices=("ope", "vot", "both", "longterm"), default="both",
                        help="both = ope and vot (default); longterm: see above")
    parser.add_argument("--presence-threshold", type=float, metavar="T",
                        help="long-term: a detection is published when the confidence is >= T (default: when the "
                        "tracker does not report the target lost)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (runs/, results.json, table, plots)")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime"),
                        help="inference backend of ours (default auto: onnxruntime on a CPU when installed)")
    parser.add_argument("--peers", type=Path,
                        help="folder of the peers' ONNX files (nanotrack, vit, nanotrackv3, lightfc)")
    parser.add_argument("--weights", type=Path, help="weights for ours (official SiamMask .pth or .pt)")
    parser.add_argument("--device", default="cpu", help="device for ours: cpu, cuda, cuda:N or auto (default cpu)")
    parser.add_argument("--seed", type=int, default=0, help="seed for numpy, torch and OpenCV (default 0)")
    parser.add_argument("--eao-interval", type=int, nargs=2, default=(100, 356), metavar=("LOW", "HIGH"),
                        help="EAO sequence-length interval (default VOT2018's 100 356)")
    parser.add_argument("--max-frames", type=positive_int, help="use only the first N frames of each sequence")
    parser.add_argument("--skip", type=positive_int, default=5, help="VOT: re-init this many frames after a "
                        "failure (default 5)")
    parser.add_argument("--burn-in", type=int, default=10, help="VOT: frames after each init excluded from "
                        "accuracy (default 10)")
    parser.add_argument("--no-resume", action="store_true", help="run again even when saved runs exist")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
