"""`tracker_lifecycle_node`: the tracker as a managed (lifecycle) node, for stacks that bring their nodes up
through a lifecycle manager (nav2_lifecycle_manager, launch_ros LifecycleNode). Same parameters, topics and
services as tracker_node; the transitions:

- configure: loads the model and opens the subscriptions, services and publishers (nothing is processed yet);
- activate: images are taken, set_target answers, outputs and /diagnostics are published;
- deactivate: images are ignored, nothing is published, set_target answers success=false; the target is kept;
- cleanup: stops inference, closes every interface and frees the model (configure loads it again);
- shutdown: as cleanup, from any state.
"""
from __future__ import annotations

import sys
from typing import Any

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from attsiammask_ros.node_process import run_node
from attsiammask_ros.parameters import NODE_NAME
from attsiammask_ros.tracker_node import StartupError, TrackerFactory, TrackerNodeBase, build_tracker


class LifecycleTrackerNode(TrackerNodeBase, LifecycleNode):
    """The tracker node under lifecycle management (parameters are declared at construction)."""

    def __init__(self, *, build_tracker: TrackerFactory = build_tracker, node_name: str = NODE_NAME,
                 **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        self._build_tracker = build_tracker
        self._active = False
        self.settings = self._declare_settings()
        self.get_logger().info("unconfigured: configure loads the model, activate starts tracking")

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._load_model(self._build_tracker)
        except StartupError as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._open_interfaces()
        self._log_ready()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._handoff.discard()  # a frame taken before deactivation is not processed
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._close_interfaces()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._close_interfaces()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._close_interfaces()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._active = False
        self._close_interfaces()
        super().destroy_node()


def main(args: list[str] | None = None, build_tracker: TrackerFactory = build_tracker) -> int:
    """Run the managed node until SIGINT/SIGTERM (the same clean shutdown as tracker_node)."""
    return run_node(args, build_tracker, LifecycleTrackerNode, "tracker_lifecycle_node",
                    "tracker_lifecycle_node: the Att-SiamMask tracker as a managed (lifecycle) ROS 2 node; configure "
                    "loads the model, activate starts tracking.")


if __name__ == "__main__":
    sys.exit(main())
