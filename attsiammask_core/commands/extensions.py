"""Commands that other installed packages add to `attsiammask`, found through importlib.metadata entry points.

Group ``attsiammask.commands``: each entry is a function ``register(subparsers)`` adding one subcommand (as the
core's own ``register`` functions do). Group ``attsiammask.runners``: each entry is a function ``run(args) -> int``
that a core command hands its parsed arguments to (``bench --node``). The core names no such package: whatever is
installed registers itself, and a command whose package is missing says so.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib.metadata import entry_points

__all__ = ["COMMANDS", "RUNNERS", "command_registrars", "run_extension"]

COMMANDS = "attsiammask.commands"
RUNNERS = "attsiammask.runners"


def command_registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    """The installed packages' ``register(subparsers)`` functions, by entry-point name; one that cannot be
    imported is left out with a line on stderr (the core's own commands still work)."""
    registrars = []
    for entry in sorted(entry_points(group=COMMANDS), key=lambda e: e.name):
        try:
            registrars.append(entry.load())
        except Exception as exc:  # a broken or half-installed extension must not break `attsiammask`
            print(f"attsiammask: command {entry.name!r} ({entry.value}) is unavailable: {exc}", file=sys.stderr)
    return registrars


def run_extension(name: str, command: str, args: argparse.Namespace) -> int:
    """Run the installed runner ``name`` on ``args``; 2 with a clear message when none is installed or it cannot
    be imported (ROS 2 missing)."""
    found = [entry for entry in entry_points(group=RUNNERS) if entry.name == name]
    if not found:
        print(f"attsiammask {command} needs the ROS 2 package of this repository installed (it registers the "
              f"{RUNNERS} entry point {name!r}): run `make setup` and `source env.sh`", file=sys.stderr)
        return 2
    try:
        run = found[0].load()
    except ImportError as exc:
        print(f"attsiammask {command} needs ROS 2 (rclpy) and the interface packages: run `make setup` and "
              f"`source env.sh` ({exc})", file=sys.stderr)
        return 2
    return run(args)
