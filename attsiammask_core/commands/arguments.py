"""argparse value types and helpers shared by the subcommands."""
from __future__ import annotations

import argparse
import importlib
import sys


def positive_int(text: str) -> int:
    """An integer >= 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def run_ros_command(module: str, command: str, args: argparse.Namespace) -> int:
    """Run ``module.run(args)`` from attsiammask_ros, imported only now (the core never imports ROS); 2 with a
    clear message when ROS or the package is missing."""
    try:
        implementation = importlib.import_module(module)
    except ImportError as exc:
        print(f"attsiammask {command} needs ROS 2 (rclpy) and the attsiammask_ros package with its interfaces: "
              f"run `make setup` and `source env.sh` ({exc})", file=sys.stderr)
        return 2
    return implementation.run(args)
