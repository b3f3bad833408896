"""`--help` for the ROS executables: a text printed before rclpy starts when -h/--help precedes --ros-args."""
from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["DOCS", "help_requested", "print_help_if_requested"]

DOCS = "docs/ros-interface.md in the attsiammask repository"


def help_requested(argv: Sequence[str]) -> bool:
    """True when -h or --help comes before any --ros-args (ROS arguments are never read as a help request)."""
    for arg in argv:
        if arg == "--ros-args":
            return False
        if arg in ("-h", "--help"):
            return True
    return False


def print_help_if_requested(argv: Sequence[str] | None, text: str) -> bool:
    """Print ``text`` and return True when ``argv`` (default: sys.argv[1:]) asks for help."""
    if help_requested(sys.argv[1:] if argv is None else argv):
        print(text.strip())
        return True
    return False
