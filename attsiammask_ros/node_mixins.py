"""Two parts of the tracker node's class (attsiammask_ros.tracker_node.TrackerNodeBase), apart to keep each file
short: the parameter callbacks, and the node's state (what tests and diagnostics read) with closing."""
from __future__ import annotations

import threading
from typing import Any

from rcl_interfaces.msg import SetParametersResult
from rclpy.event_handler import (
    QoSOfferedIncompatibleQoSInfo,
    QoSRequestedIncompatibleQoSInfo,
    qos_policy_name_from_kind,
)
from rclpy.parameter import Parameter

from attsiammask_core import Tracker
from attsiammask_core.session import SessionTarget
from attsiammask_core.track_state import TrackState
from attsiammask_ros import parameters as params
from attsiammask_ros.parameters import TrackerNodeParameters
from attsiammask_ros.tracker_setup import tracker_config

__all__ = ["NodeParameterCallbacks", "NodeState"]


class NodeParameterCallbacks:
    """Run-time parameter changes: log what will be refused, check the values, apply them to the session."""

    def _log_rejected_parameters(self, parameters: list[Parameter]) -> list[Parameter]:
        """Log a clear line for each change that will be refused, before rclpy's own checks (whose reasons for a
        wrong type, a read-only or an undeclared name are terse and not logged). The list is not changed."""
        for parameter in parameters:
            spec = params.SPEC_BY_NAME.get(parameter.name)
            if spec is not None and spec.read_only:
                error = (f"{parameter.name} is read-only after start-up (set it with --ros-args -p "
                         f"{parameter.name}:=... or in the parameters file); it stays "
                         f"{self.settings.value(spec.name)!r}")
            else:
                error = params.validate(parameter.name, parameter.value)
            if error is not None:
                self.get_logger().warning(f"rejected parameter change: {error}")
        return parameters

    def _check_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        values = self.settings.as_dict()
        for parameter in parameters:
            error = params.validate(parameter.name, parameter.value)  # logged by _log_rejected_parameters
            if error is not None:
                return SetParametersResult(successful=False, reason=error)
            values[parameter.name] = parameter.value
        try:
            tracker_config(self._base_config, TrackerNodeParameters.from_values(values))
        except ValueError as exc:
            self.get_logger().warning(f"rejected parameter change: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: list[Parameter]) -> None:
        settings = params.read(self)
        self.settings = settings
        self.session.configure(tracker_config(self._base_config, settings), settings.tracking_max_targets)
        if self.session.frames.capacity != settings.target_frame_buffer:
            self.session.frames.resize(settings.target_frame_buffer)
        self.get_logger().info(f"parameters applied: {', '.join(f'{p.name}={p.value!r}' for p in parameters)}")



class NodeState:
    """The node's model, session and first target as properties, its ready line, QoS warnings, and closing."""

    _tracker: Tracker | None = None
    session: Any = None

    def _close_interfaces(self) -> None:
        """Stop the inference thread, destroy what _open_interfaces made and drop the model."""
        if not self._open:
            return
        self.stop()
        destroy = {"subscription": self.destroy_subscription, "publisher": self.destroy_publisher,
                   "service": self.destroy_service, "timer": self.destroy_timer}
        for kind, entity in reversed(self._entities):
            destroy[kind](entity)
        self._entities.clear()
        self.session.clear()
        self._tracker = self.session = None
        self._open = False

    def _log_ready(self) -> None:
        s = self.settings
        self.get_logger().info(
            f"ready: model {s.model_variant} on {self.device}, attention {self._attention_text()}, "
            f"listening on {self._image_sub.topic_name} ({s.input_transport}, {s.input_reliability}, depth "
            f"{s.input_queue_depth}); call {self.resolve_service_name('set_target')} to start tracking")

    # ---- state seen by tests and diagnostics -------------------------------------------------------------
    @property
    def device(self) -> str:
        providers = getattr(getattr(self._tracker, "model", None), "providers", None)
        if isinstance(providers, list):  # the onnxruntime backend: the providers its sessions run on
            return f"onnxruntime {','.join(providers)}"
        return str(getattr(self._tracker, "device", "cpu"))

    def _attention_text(self) -> str:
        config = getattr(self._tracker, "attention_config", None)
        return "on" if config is not None and config.enabled else "off"

    @property
    def tracker(self) -> Tracker:
        return self._tracker

    @property
    def stats(self) -> Any:
        return self.session.stats

    @property
    def _frames(self) -> Any:
        return self.session.frames

    @property
    def state(self) -> TrackState:
        """The first target's state: idle, tracking or lost."""
        return self.session.state if self.session is not None else TrackState.IDLE

    @property
    def target(self) -> SessionTarget | None:
        """The first target (the single-target outputs follow it)."""
        return self.session.first if self.session is not None else None

    def _image_incompatible_qos(self, event: QoSRequestedIncompatibleQoSInfo) -> None:
        self.stats.qos_incompatible += 1
        self.get_logger().warning(
            f"incompatible QoS on {self._image_sub.topic_name}: a publisher does not offer what this subscription "
            f"requests (policy {qos_policy_name_from_kind(event.last_policy_kind)}, {event.total_count} "
            "incompatible so far); for a best-effort publisher set input.reliability:=best_effort")

    def _output_incompatible_qos(self, topic: str, event: QoSOfferedIncompatibleQoSInfo) -> None:
        self.stats.qos_incompatible += 1
        self.get_logger().warning(f"incompatible QoS on {topic}: a subscriber requests what this publisher does "
                                  f"not offer (policy {qos_policy_name_from_kind(event.last_policy_kind)})")

    # ---- shutdown --------------------------------------------------------------------------------------------
    def stop(self, timeout: float = 10.0) -> None:
        """Stop the inference thread (after the frame in progress) and wait for it."""
        handoff = getattr(self, "_handoff", None)
        if handoff is not None:
            handoff.stop()
        thread = getattr(self, "_thread", None)
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    def destroy_node(self) -> None:
        self.stop()
        super().destroy_node()
