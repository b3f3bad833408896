"""Running a tracker node process: rclpy set-up, one SingleThreadedExecutor, a clean exit on signals, and --help."""
from __future__ import annotations

import signal
import sys

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

from attsiammask_ros.parameters import NODE_NAME
from attsiammask_ros.tracker_setup import StartupError, TrackerFactory

__all__ = ["HELP", "run_node"]

HELP = """usage: {prog} [--ros-args -r image:=TOPIC -p NAME:=VALUE --params-file FILE ...]

{what}
Subscribes to image (or image/compressed), serves set_target (attsiammask_interfaces/SetTarget: a box, an image
stamp and an optional target_id), clear_target (std_srvs/Trigger, every target) and clear_target_id
(attsiammask_interfaces/ClearTarget), and publishes detection, detections, mask, masks, confidence,
debug_image and /diagnostics (with input.camera_info also target/ray, with input.depth target/point,
target/detection3d and target/detections3d).

Topics, services, parameters (defaults and ranges: config/tracker.yaml) and behaviour: docs/ros-interface.md.
"""


def _ignore_further_signals() -> None:
    """Shutdown has begun: a repeated SIGINT/SIGTERM (launch forwards Ctrl-C again) must not interrupt it."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(signum, signal.SIG_IGN)
        except ValueError:  # not the main thread (main() called from a test's thread): nothing to guard
            return


def _run(args: list[str] | None, build_tracker: TrackerFactory, node_class: type) -> int:
    rclpy.init(args=args)
    node = None
    executor: SingleThreadedExecutor | None = None
    try:
        # The executor first: a signal while the node starts (it logs when ready) must not find it half-built.
        executor = SingleThreadedExecutor()
        node = node_class(build_tracker=build_tracker)
        executor.add_node(node)
        executor.spin()
    except StartupError as exc:
        rclpy.logging.get_logger(NODE_NAME).error(f"cannot start: {exc}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise
        # a signal shut the context down while the node was starting: that is a clean exit too
    finally:
        _ignore_further_signals()
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        _ignore_further_signals()  # rclpy's shutdown puts the previous handlers back
    return 0


def run_node(args: list[str] | None, build_tracker: TrackerFactory, node_class: type, prog: str, what: str) -> int:
    """Run ``node_class`` until SIGINT/SIGTERM or an external shutdown; 0 then, 1 when it cannot start; --help
    (before --ros-args) prints what the executable is and where its interface is described.

    Shutdown ignores further signals; one that lands before that (a second Ctrl-C right after the first)
    ends the process quietly with 0 too: the process exits, which releases what the cleanup had left.
    """
    argv = sys.argv[1:] if args is None else list(args)
    own = argv[:argv.index("--ros-args")] if "--ros-args" in argv else argv
    if "-h" in own or "--help" in own:
        print(HELP.format(prog=prog, what=what))
        return 0
    try:
        return _run(args, build_tracker, node_class)
    except KeyboardInterrupt:
        _ignore_further_signals()
        return 0
