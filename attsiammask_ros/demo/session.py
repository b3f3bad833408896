"""One run of the ROS pipeline: the tracker node (child process), a clip player and a recording client.

The player and the client are nodes of this process, spun by a SingleThreadedExecutor in a background thread
on a private rclpy context (no signal handlers of rclpy: Ctrl-C raises KeyboardInterrupt in the caller, and
leaving the ``with`` block stops everything: executor, nodes, context, then the node process with SIGINT).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from attsiammask_ros.demo.clip import Clip
from attsiammask_ros.demo.node_process import NodeProcess

__all__ = ["Session", "SessionError"]


class SessionError(RuntimeError):
    """The pipeline could not run: the node did not start or died, set_target failed, nothing came back."""


class Session:
    """``with Session(clip, command, log) as s: s.wait_ready(); s.init_target(); s.player.play(...)``."""

    def __init__(self, clip: Clip, node_command: Sequence[str], log_path: str | Path,
                 env: Mapping[str, str] | None = None, keep_masks: bool = True, reliable: bool = False) -> None:
        self.clip = clip
        self.reliable = reliable
        self.node = NodeProcess(node_command, log_path, env)
        self.keep_masks = keep_masks
        self.node_exit_code: int | None = None
        self.node_died = False
        self.player = None
        self.client = None
        self._context = None
        self._executor = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Session:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from rclpy.signals import SignalHandlerOptions

        from attsiammask_ros.demo.client import TrackerClient
        from attsiammask_ros.demo.player import ClipPlayer

        self.node.start()
        try:
            self._context = rclpy.context.Context()
            rclpy.init(context=self._context, signal_handler_options=SignalHandlerOptions.NO)
            qos = (QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE)
                   if self.reliable else qos_profile_sensor_data)
            self.player = ClipPlayer(self.clip, qos=qos, context=self._context)
            self.client = TrackerClient(keep_masks=self.keep_masks, context=self._context)
            self._executor = SingleThreadedExecutor(context=self._context)
            self._executor.add_node(self.player)
            self._executor.add_node(self.client)
            self._thread = threading.Thread(target=self._spin, name="demo_executor", daemon=True)
            self._thread.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            self._executor.spin()
        except ExternalShutdownException:
            pass

    def __exit__(self, *exc) -> None:
        import rclpy

        if self.node.process is not None and not self.node.alive() and not self.node.stopped_by_us:
            self.node_died = True
        if self._executor is not None:
            self._executor.shutdown(timeout_sec=2.0)
        for node in (self.player, self.client):
            if node is not None:
                node.destroy_node()
        if self._context is not None:
            rclpy.try_shutdown(context=self._context)
        if self._thread is not None:
            self._thread.join(5.0)
        self.node_exit_code = self.node.stop()

    # ---- steps -------------------------------------------------------------------------------------------------
    def check_node(self) -> None:
        """SessionError with the end of the node's log when the node process has exited."""
        if not self.node.alive():
            self.node_died = True
            raise SessionError(f"the tracker node exited (code {self.node.returncode}); the end of its log "
                               f"({self.node.log_path}):\n{self.node.tail()}")

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Wait until the node serves set_target and its image subscription and outputs are matched; seconds."""
        start = time.monotonic()
        ready = self.node.wait_until(
            lambda: (self.client.set_target_client.service_is_ready()
                     and self.player.publisher.get_subscription_count() > 0 and self.client.outputs_connected()),
            timeout)
        if not ready:
            self.check_node()
            raise SessionError(f"the tracker node did not become ready within {timeout:g} s (set_target service, "
                               f"image subscription, outputs); see {self.node.log_path}:\n{self.node.tail()}")
        return time.monotonic() - start

    def init_target(self, index: int = 0, box: Sequence[float] | None = None, attempts: int = 20
                    ) -> tuple[int, str, str]:
        """Publish frame ``index`` and call set_target with its box and stamp; (stamp ns, track id, message).

        A best-effort image may be lost on the way, and the node may not have buffered it yet when the call
        arrives: on "no image"/"no buffered image" answers the same frame (same stamp) is sent again.
        """
        box = tuple(float(v) for v in (self.clip.boxes[index] if box is None else box))
        stamp = self.player.publish_frame(index)
        message = ""
        for _ in range(attempts):
            self.check_node()
            time.sleep(0.05)
            ok, message, track_id = self.client.set_target(box, stamp)
            if ok:
                return stamp, track_id, message
            if "no image received" not in message and "no buffered image" not in message:
                break
            self.player.publish_frame(index, stamp_ns=stamp)
        raise SessionError(f"set_target failed: {message}")

    def wait_results(self, stamps: Sequence[int], quiet_s: float = 1.0, timeout: float = 10.0) -> None:
        """Wait for the last stamp's result, or until nothing new arrived for ``quiet_s``, or ``timeout``."""
        deadline = time.monotonic() + timeout
        last_count, last_change = self.client.result_count(), time.monotonic()
        while time.monotonic() < deadline:
            if not stamps or self.client.has_result(stamps[-1]) or not self.node.alive():
                return
            count = self.client.result_count()
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > quiet_s:
                return
            time.sleep(0.02)

    def wait_diagnostics(self, after_ns: int, timeout: float = 2.5) -> dict[str, str]:
        """The node's diagnostics values from a message received after ``after_ns`` (or the latest, on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.client.diagnostics_ns <= after_ns and self.node.alive():
            time.sleep(0.05)
        return dict(self.client.diagnostics)
