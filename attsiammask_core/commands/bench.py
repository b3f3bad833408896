"""`attsiammask bench`: per-frame latency of Tracker.track on 640x480 frames, attention on and off, per stage."""
from __future__ import annotations

import argparse

from attsiammask_core.commands.arguments import run_ros_command

# The reference implementation's whole tracking step on this machine type (../shared/docs/environment.md).
REFERENCE_STEP_MS = 262.0


def _tracker(variant: str, weights, attention: bool):
    from attsiammask_core.tracker import Tracker

    # Loss logic off: with random weights scores are low, and every frame must run the full step.
    return Tracker.create(variant=variant, weights=weights, attention=attention, overrides={"lost_threshold": 0.0},
                          random_init=weights is None)


def run(args: argparse.Namespace) -> int:
    if args.node:
        return run_ros_command("attsiammask_ros.bench_node", "bench --node", args)
    import torch

    from attsiammask_core.bench import STAGES, bench_trackers, compare_with_reference, synthetic_sequence
    from attsiammask_core.models import MODELS

    if args.threads:
        torch.set_num_threads(args.threads)
    variants = args.variants or sorted(MODELS)
    frames, box = synthetic_sequence(args.frames + 1, (args.width, args.height))
    print(f"attsiammask bench: {args.frames} frames {args.width}x{args.height}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device cpu, weights: {args.weights or 'random (timing only)'}")
    header = f"{'configuration':<22}{'median ms':>10}{'p95 ms':>9}{'fps':>7}  " + "".join(
        f"{s + ' ms':>13}" for s in STAGES)
    print(header)
    results = {}
    for variant in variants:
        trackers = {f"{variant} attention {'on' if att else 'off'}": _tracker(variant, args.weights, att)
                    for att in (True, False)}
        on, off = bench_trackers(trackers, frames, box, args.warmup)
        results[(variant, True)], results[(variant, False)] = on, off
        for result in (on, off):
            print(f"{result.label:<22}{result.step.median_ms:>10.1f}{result.step.p95_ms:>9.1f}"
                  f"{1000.0 / result.step.median_ms:>7.1f}  "
                  + "".join(f"{result.stages[s].median_ms:>13.2f}" for s in STAGES))
        print(f"{variant}: attention adds {100.0 * (on.step.median_ms / off.step.median_ms - 1):+.1f}% per frame "
              f"(init {on.init_ms:.0f} ms with attention, {off.init_ms:.0f} ms without)")
    if "r50" in variants:
        r50 = results[("r50", True)]
        print(f"r50 vs the reference step ({REFERENCE_STEP_MS:.0f} ms, environment.md): "
              f"{REFERENCE_STEP_MS / r50.step.median_ms:.2f}x faster")
        cmp = compare_with_reference(_tracker("r50", args.weights, False), frames, box)
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in cmp.max_abs_diff.items())
        print(f"r50 network step, same crops: ours {cmp.ours.median_ms:.1f} ms vs reference formulation "
              f"(per-frame kernel convs + full 3969-ch mask head) {cmp.reference.median_ms:.1f} ms; "
              f"max |difference|: {diffs}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `bench` subcommand."""
    parser = subparsers.add_parser("bench", help="per-frame latency of track(), attention on/off, per stage",
                                   description=__doc__)
    parser.add_argument("--variants", nargs="*", help="model variants (default: every variant present)")
    parser.add_argument("--weights", help="weights file (default: random weights, timing only)")
    parser.add_argument("--frames", type=int, default=40, help="timed frames per configuration (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps (default 3)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's choice; --node uses the node's: cores - 1)")
    node = parser.add_argument_group("--node: the ROS node end to end (needs make setup and env.sh)")
    node.add_argument("--node", action="store_true",
                      help="end-to-end latency of tracker_node (publish -> detection) next to track() on the same "
                           "frames, and processed fps under a faster stream (lite model)")
    node.add_argument("--rate", type=float, default=60.0, help="--node: stream rate in Hz (default 60)")
    node.add_argument("--seconds", type=float, default=5.0, help="--node: stream duration (default 5 s)")
    node.add_argument("--device", default="cpu", help="--node: model device (default cpu)")
    node.add_argument("--domain-id", type=int, default=None,
                      help="--node: ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID, else 74); discovery stays on localhost")
    node.add_argument("--startup-timeout", type=float, default=120.0, help="--node: seconds for the node to start")
    parser.set_defaults(func=run)
