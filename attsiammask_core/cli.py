"""The `attsiammask` command: one subcommand per job, each registered by a small function (installed packages add
theirs through the ``attsiammask.commands`` entry points)."""
from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable, Sequence

from attsiammask_core import __version__
from attsiammask_core.commands import bench, convert, eval, export, parity, track, train, tune
from attsiammask_core.commands.extensions import command_registrars


def _info(args: argparse.Namespace) -> int:
    """Print versions and the devices torch can use."""
    import cv2
    import numpy
    import skimage
    import torch

    print(f"attsiammask {__version__}")
    print(f"python {platform.python_version()}  numpy {numpy.__version__}  opencv {cv2.__version__}  "
          f"scikit-image {skimage.__version__}  torch {torch.__version__}")
    print(f"cuda available: {torch.cuda.is_available()}  threads: {torch.get_num_threads()}")
    return 0


def _add_info(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("info", help="print versions and available devices",
                   description="Print the versions of attsiammask and its main dependencies, and whether CUDA is "
                   "available.", epilog="example:\n  attsiammask info",
                   formatter_class=argparse.RawDescriptionHelpFormatter).set_defaults(func=_info)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_info, track.register, convert.register, export.register, parity.register, bench.register, eval.register,
    train.register, tune.register]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attsiammask", description=__doc__)
    parser.add_argument("--version", action="version", version=f"attsiammask {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS + command_registrars():  # then those of installed packages (entry points)
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    passthrough = getattr(args, "passthrough", None)  # a subcommand that hands its arguments on (e.g. demo)
    if extra and passthrough is None:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if passthrough is not None:
        setattr(args, passthrough, [*getattr(args, passthrough, []), *extra])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
