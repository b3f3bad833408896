"""The ROS harness commands this package adds to the `attsiammask` CLI through entry points (setup.py, groups
``attsiammask.commands`` and ``attsiammask.runners``): `attsiammask stress`, `attsiammask demo` and the runner of
`attsiammask bench --node`. Parsing needs no rclpy: the implementations are imported when a command runs."""
from __future__ import annotations

import argparse

__all__ = ["register_stress", "register_demo", "run_bench_node"]

STRESS_DOC = """`attsiammask stress`: load and soak test of the ROS tracker node (1920x1080 images at 60 Hz for
5 minutes by default), one table row per interval (fps, drops, latency, the node's memory) and a verdict at the end.
`--scenario churn`: 640x480 with depth at 30 Hz under the churn a robot produces (targets set and cleared, camera
restarts, a subscriber coming and going, resolution changes, stamps jumping back); verdict: memory flat, p99 latency
bounded, no error, every call answered."""


def _run_stress(args: argparse.Namespace) -> int:
    from attsiammask_ros.stress import run

    return run(args)


def run_bench_node(args: argparse.Namespace) -> int:
    """`attsiammask bench --node`: the node's end-to-end latency next to track() (attsiammask_ros.bench_node)."""
    from attsiammask_ros.bench_node import run

    return run(args)


def _run_demo(args: argparse.Namespace) -> int:
    from attsiammask_ros.demo.run import main

    return main(args.demo_args)


def register_demo(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand: the node, a clip player and a client over localhost DDS (`make demo`)."""
    parser = subparsers.add_parser(
        "demo", help="the whole ROS pipeline on a clip (tracker_node, player, client): IoU, fps, latency",
        description="Runs python -m attsiammask_ros.demo.run with the arguments that follow (its --help lists them).",
        epilog="example:\n  attsiammask demo --variant lfc --max-frames 60", add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo_args", nargs=argparse.REMAINDER, help="arguments of the demo (--help for its own)")
    parser.set_defaults(func=_run_demo, passthrough="demo_args")  # options argparse's REMAINDER misses (--help)


def register_stress(subparsers: argparse._SubParsersAction) -> None:
    """Add the `stress` subcommand."""
    parser = subparsers.add_parser(
        "stress", help="load/soak test of tracker_node: 1080p images at 60 Hz, per-interval fps, drops, latency, "
                       "memory, and a verdict", description=STRESS_DOC,
        epilog="examples:\n  attsiammask stress --seconds 60 --rate 30 --width 640 --height 480 --interval 10\n"
               "  attsiammask stress --scenario churn --minutes 60 --threads 1",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=("load", "churn"), default="load",
                        help="load: the stream below at full rate (default); churn: 640x480 with depth at 30 Hz "
                             "with targets set and cleared, camera restarts, a subscriber coming and going, "
                             "resolution changes and stamps jumping back (attsiammask_ros/stress_churn.py; "
                             "--rate/--width/--height/--clip-frames/--segment-mb/--strict apply to load only)")
    parser.add_argument("--restart-every", type=float, default=0.0,
                        help="churn: seconds between camera restarts (default: half the run, 15 to 60)")
    parser.add_argument("--threads", type=int, default=0, help="churn: the node's model.threads (0: its default)")
    parser.add_argument("--namespace", default="", help="churn: namespace of the node, camera and client")
    parser.add_argument("--rate", type=float, default=60.0, help="images per second (default 60)")
    parser.add_argument("--width", type=int, default=1920, help="image width (default 1920)")
    parser.add_argument("--height", type=int, default=1080, help="image height (default 1080)")
    duration = parser.add_mutually_exclusive_group()
    duration.add_argument("--minutes", type=float, default=5.0,
                          help="measured duration after the warm-up, minutes (default 5)")
    duration.add_argument("--seconds", type=float, default=None, help="measured duration in seconds (short runs)")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds per table row (default 60)")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds streamed before the first row, reported apart and left out of the verdict "
                             "(default 10)")
    parser.add_argument("--clip-frames", type=int, default=120,
                        help="frames of the demo clip, played forwards and back; each holds a ready message of "
                             "width x height x 3 bytes in memory (default 120)")
    parser.add_argument("--segment-mb", type=float, default=0.0,
                        help="Fast DDS shared-memory segment size in MB (default: room for 8 images, at least 16)")
    parser.add_argument("--device", default="cpu", help="the node's model.device (default cpu)")
    parser.add_argument("--domain-id", type=int, default=None,
                        help="ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID, else 74); discovery stays on localhost")
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="seconds for the node to start")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 also when latency is not bounded or memory not flat (by default only node "
                             "death, node errors or nothing processed fail the run)")
    parser.set_defaults(func=_run_stress)
