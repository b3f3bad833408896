"""`tracker_node`: the Att-SiamMask tracker as a ROS 2 node (interface: docs/ros-interface.md).

Threading: image callbacks only keep the newest frame (counting the ones replaced before processing) and
push it into the stamp buffer; one inference thread waits on a condition, takes the newest frame, runs
``Tracker.track`` and publishes. Callbacks (images, services, ``target``, diagnostics) run on a
SingleThreadedExecutor, so services are answered while inference runs in its thread.

Targets and frames in inference: a short lock guards the current (tracker, target, generation) and the
publications, never a model call. set_target initialises a fresh copy of the tracker (same model) outside the
lock, then swaps it in and bumps the generation; clear_target only clears and bumps it. The inference thread
tracks on the tracker it took when the frame started and publishes only if the generation is still the same,
so both services answer while a frame is in inference, and after either answers no result of the previous
target is published (the frame in flight is discarded and counted).

Why not rclpy's MultiThreadedExecutor: measured on 2 cores (Kilted rclpy 9.1.2, Fast DDS shared memory), a
640x480 image echoed by an idle node took p50 0.6 ms / p95 1.4 ms with the single-threaded executor and
p50 153 ms / p95 2.2 s with a 4-thread MultiThreadedExecutor (2 threads: p50 2.8 ms / p95 28 ms).
"""
from __future__ import annotations

import copy
import dataclasses
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import rclpy
from attsiammask_interfaces.srv import SetTarget
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, Vector3Stamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.event_handler import (
    PublisherEventCallbacks,
    QoSOfferedIncompatibleQoSInfo,
    QoSRequestedIncompatibleQoSInfo,
    SubscriptionEventCallbacks,
    qos_policy_name_from_kind,
)
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Float32
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2D, Detection3D

from attsiammask_core import Tracker, TrackResult
from attsiammask_core.config import TrackerConfig
from attsiammask_core.eval.metrics import percentile
from attsiammask_ros import messages
from attsiammask_ros import parameters as params
from attsiammask_ros import spatial as spatial_messages
from attsiammask_ros.frame_buffer import FrameBuffer
from attsiammask_ros.image_conversion import bgr_to_image, compressed_to_bgr, image_to_bgr, mask_to_image
from attsiammask_ros.parameters import NODE_NAME, TrackerNodeParameters
from attsiammask_ros.spatial import SpatialOutputs

__all__ = ["TrackerNode", "StartupError", "build_tracker", "tracker_config", "main"]

TrackerFactory = Callable[[TrackerNodeParameters], Tracker]
IDLE, TRACKING, LOST = "idle", "tracking", "lost"
_THROTTLE_S = 5.0
_LATENCY_WINDOW = 200
_SERVICE_QUEUE_DEPTH = 1000


class StartupError(RuntimeError):
    """The node cannot start (bad parameters, no weights): main logs it and exits non-zero."""


def inference_threads() -> int:
    """CPU threads for inference: all cores but one, which stays free for DDS and the executor's callbacks.

    With every core in torch's thread pool, each operator waits for a core that a callback holds, and
    a 30 ms step became seconds on a 2-core machine (measured with make demo).
    """
    return max(1, (os.cpu_count() or 2) - 1)


def build_tracker(settings: TrackerNodeParameters) -> Tracker:
    """The production tracker: ``Tracker.create`` from the model parameters (tests pass their own factory)."""
    backend = settings.model_backend
    if backend == "auto" and settings.model_providers.replace(" ", "").lower() != "cpu":
        backend = "onnxruntime"  # providers beyond the CPU's are onnxruntime's
    if backend == "onnxruntime":
        if settings.model_device.strip().lower() not in ("auto", "cpu"):
            raise ValueError(f"model.device {settings.model_device!r} applies to the torch backend; with "
                             "model.backend onnxruntime choose the hardware with model.providers (e.g. cuda,cpu)")
        providers = [name.strip() for name in settings.model_providers.split(",")]
        return Tracker.create(variant=settings.model_variant, weights=settings.model_weights or None,
                              attention=settings.attention_enabled, backend="onnxruntime", providers=providers,
                              threads=settings.model_threads or inference_threads())
    return Tracker.create(variant=settings.model_variant, weights=settings.model_weights or None,
                          device=settings.model_device, attention=settings.attention_enabled,
                          threads=settings.model_threads or inference_threads(), backend=backend)


def tracker_config(base: TrackerConfig, settings: TrackerNodeParameters) -> TrackerConfig:
    """``base`` with the run-time tracking parameters applied (ValueError when TrackerConfig rejects them).

    Only fields that no cached anchor/window depends on change, so it is safe mid-track. Recovery from
    loss needs at least the loss threshold: recover_threshold = max(base's, tracking.lost_threshold).
    """
    return dataclasses.replace(base, penalty_k=float(settings.tracking_penalty_k),
                               window_influence=float(settings.tracking_window_influence),
                               lr=float(settings.tracking_lr), context_amount=float(settings.tracking_context_amount),
                               mask_threshold=float(settings.tracking_mask_threshold),
                               lost_threshold=float(settings.tracking_lost_threshold),
                               lost_frames=int(settings.tracking_lost_frames),
                               recover_threshold=max(base.recover_threshold, float(settings.tracking_lost_threshold)))


@dataclasses.dataclass
class Target:
    """The current target: its id, the image it was set on, and its last box (for image size changes)."""

    track_id: str
    stamp_ns: int
    image_hw: tuple[int, int]
    box: tuple[float, float, float, float]


@dataclasses.dataclass
class Stats:
    received: int = 0
    processed: int = 0
    dropped: int = 0
    bad_images: int = 0
    errors: int = 0
    reinitialised: int = 0
    qos_incompatible: int = 0
    discarded: int = 0           # frames tracked for a target that set/clear_target replaced meanwhile
    last_bad_image: str = ""     # why the last dropped image could not be decoded
    latencies_ms: deque = dataclasses.field(default_factory=lambda: deque(maxlen=_LATENCY_WINDOW))
    track_ms: deque = dataclasses.field(default_factory=lambda: deque(maxlen=_LATENCY_WINDOW))


class WarningThrottle:
    """Which warnings to log: each kind of text (its numbers ignored) at most once per ``period`` s, and at most
    ``burst`` lines per period in all. A broken stream repeats its problem every frame, with sizes or stamps
    that vary; a different problem still shows at once."""

    def __init__(self, period: float = _THROTTLE_S, burst: int = 10) -> None:
        self.period, self.burst = period, burst
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, text: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        key = re.sub(r"\d+", "#", text)
        with self._lock:
            self._last = {k: t for k, t in self._last.items() if now - t < self.period}
            if key in self._last or len(self._last) >= self.burst:
                return False
            self._last[key] = now
            return True


class TrackerNodeBase:
    """The tracker node's behaviour, shared by the plain node (TrackerNode) and the managed one
    (attsiammask_ros.lifecycle_node): declare parameters, load the model, open and close the ROS interfaces."""

    _active = True  # the managed node processes and publishes only while active
    _open = False

    def _declare_settings(self) -> TrackerNodeParameters:
        try:
            settings = params.declare(self)
        except params.ParameterError as exc:
            self.destroy_node()
            raise StartupError(f"invalid parameters: {exc}") from None
        self.add_pre_set_parameters_callback(self._log_rejected_parameters)
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        return settings

    def _load_model(self, build_tracker: TrackerFactory) -> None:
        """Build the tracker (the model is loaded here); StartupError says why it cannot be."""
        s = self.settings
        try:
            self._tracker = build_tracker(s)
            self._base_config = self._tracker.config
            self._tracker.config = tracker_config(self._base_config, s)
        except Exception as exc:  # no embedded weights, unreadable file, bad device, ...
            raise StartupError(f"cannot build the tracker (model.variant={s.model_variant!r}, model.weights="
                               f"{s.model_weights!r}, model.device={s.model_device!r}, "
                               f"model.backend={s.model_backend!r}): {exc}") from None
        if s.model_half:
            self.get_logger().warning("model.half=true: the core tracker runs fp32 only in this version; "
                                      "running fp32")

    def _open_interfaces(self) -> None:
        """State, subscriptions, services, publishers, the diagnostics timer and the inference thread."""
        s = self.settings
        self._lock = threading.Lock()          # the tracker, the target and the publications
        self._cond = threading.Condition()     # the pending (newest) frame
        self._pending: tuple[Any, float] | None = None
        self._stopping = False
        self._target: Target | None = None
        self._state = IDLE
        self._generation = 0                   # bumped by every set_target and clear_target
        self.stats = Stats()
        self._warnings = WarningThrottle()
        self._frames: FrameBuffer[Any] = FrameBuffer(s.target_frame_buffer)
        self._diag_last = (time.monotonic(), 0)
        self._entities: list[tuple[str, Any]] = []  # what _close_interfaces destroys

        def keep(kind: str, entity: Any) -> Any:
            self._entities.append((kind, entity))
            return entity

        image_group = MutuallyExclusiveCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        diagnostics_group = MutuallyExclusiveCallbackGroup()
        image_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=s.input_queue_depth,
                               reliability=(ReliabilityPolicy.RELIABLE if s.input_reliability == "reliable"
                                            else ReliabilityPolicy.BEST_EFFORT),
                               durability=DurabilityPolicy.VOLATILE)
        events = SubscriptionEventCallbacks(incompatible_qos=self._image_incompatible_qos)
        if s.input_transport == "compressed":
            self._image_sub = self.create_subscription(CompressedImage, "image/compressed", self.image_callback,
                                                       image_qos, callback_group=image_group, event_callbacks=events)
        else:
            self._image_sub = self.create_subscription(Image, "image", self.image_callback, image_qos,
                                                       callback_group=image_group, event_callbacks=events)
        keep("subscription", self._image_sub)
        keep("subscription", self.create_subscription(Detection2D, "target", self.target_callback, 10,
                                                      callback_group=self._service_group))
        # Deeper than rclpy's default (keep last 10): a burst of calls while the executor is busy must queue,
        # not lose the oldest requests unanswered.
        service_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=_SERVICE_QUEUE_DEPTH,
                                 reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
        keep("service", self.create_service(SetTarget, "set_target", self.set_target_callback,
                                            qos_profile=service_qos, callback_group=self._service_group))
        keep("service", self.create_service(Trigger, "clear_target", self.clear_target_callback,
                                            qos_profile=service_qos, callback_group=self._service_group))

        def out(kind: type, topic: str) -> Any:
            return keep("publisher", self.create_publisher(kind, topic, 10, event_callbacks=PublisherEventCallbacks(
                incompatible_qos=lambda event: self._output_incompatible_qos(topic, event))))

        self._spatial: SpatialOutputs | None = None
        if s.input_camera_info:  # same QoS as the image: camera drivers publish them side by side
            self._spatial = SpatialOutputs(use_depth=s.input_depth)
            keep("subscription", self.create_subscription(CameraInfo, "camera_info", self._spatial.camera_infos.push,
                                                          image_qos, callback_group=image_group))
            self._ray_pub = out(Vector3Stamped, "target/ray")
            if s.input_depth:
                keep("subscription", self.create_subscription(Image, "depth", self._spatial.depths.push, image_qos,
                                                              callback_group=image_group))
                self._point_pub = out(PointStamped, "target/point")
                self._detection3d_pub = out(Detection3D, "target/detection3d")
        self._detection_pub = out(Detection2D, "detection")
        self._mask_pub = out(Image, "mask")
        self._confidence_pub = out(Float32, "confidence")
        self._debug_pub = out(Image, "debug_image")
        self._diagnostics_pub = out(DiagnosticArray, "/diagnostics")
        keep("timer", self.create_timer(1.0, self.diagnostics_callback, callback_group=diagnostics_group))

        self._thread = threading.Thread(target=self._inference_loop, name="attsiammask_inference", daemon=True)
        self._thread.start()
        self._open = True

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
        with self._lock:
            self._tracker, self._target, self._state = None, None, IDLE
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
    def state(self) -> str:
        """idle, tracking or lost."""
        return self._state

    @property
    def target(self) -> Target | None:
        return self._target

    # ---- image input ---------------------------------------------------------------------------------------
    def image_callback(self, msg: Any) -> None:
        """Keep only the newest frame for the inference thread (count the one it replaces) and buffer it."""
        if not self._active:  # the managed node, inactive: images are not taken
            return
        self._frames.push(messages.stamp_to_ns(msg.header.stamp), msg)
        with self._cond:
            self.stats.received += 1
            if self._pending is not None:
                self.stats.dropped += 1
            self._pending = (msg, time.monotonic())
            self._cond.notify()

    def _decode(self, msg: Any) -> np.ndarray:
        return compressed_to_bgr(msg) if isinstance(msg, CompressedImage) else image_to_bgr(msg)

    def _image_incompatible_qos(self, event: QoSRequestedIncompatibleQoSInfo) -> None:
        self.stats.qos_incompatible += 1
        policy = qos_policy_name_from_kind(event.last_policy_kind)
        self.get_logger().warning(
            f"incompatible QoS on {self._image_sub.topic_name}: a publisher does not offer what this subscription "
            f"requests (policy {policy}, {event.total_count} incompatible so far); for a best-effort publisher set "
            f"input.reliability:=best_effort")

    def _output_incompatible_qos(self, topic: str, event: QoSOfferedIncompatibleQoSInfo) -> None:
        self.stats.qos_incompatible += 1
        self.get_logger().warning(f"incompatible QoS on {topic}: a subscriber requests what this publisher does "
                                  f"not offer (policy {qos_policy_name_from_kind(event.last_policy_kind)})")

    # ---- inference thread ------------------------------------------------------------------------------------
    def _inference_loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                msg, received_at = self._pending
                self._pending = None
            try:
                self._process(msg, received_at)
            except Exception as exc:  # keep running whatever happens to one frame
                self.stats.errors += 1
                self._warn(f"processing a frame failed: {type(exc).__name__}: {exc}", error=True)

    def _warn(self, text: str, error: bool = False) -> None:
        """Log a warning (or an error), throttled by WarningThrottle."""
        if self._warnings.allow(text):
            logger = self.get_logger()
            (logger.error if error else logger.warning)(text)

    def _process(self, msg: Any, received_at: float) -> None:
        try:
            frame = self._decode(msg)
        except ValueError as exc:  # logged before counted: whoever sees the count finds the line
            self._warn(f"dropped an image: {exc}")
            self.stats.last_bad_image = str(exc)
            self.stats.bad_images += 1
            return
        with self._lock:
            generation, tracker, target = self._generation, self._tracker, self._target
        result: TrackResult | None = None
        track_ms = 0.0
        if target is not None:
            if frame.shape[:2] != target.image_hw and not self._reinitialise(tracker, frame, target, generation):
                return
            start = time.perf_counter()
            result = tracker.track(frame)
            track_ms = (time.perf_counter() - start) * 1000.0
        with self._lock:
            if generation != self._generation:  # set/clear_target answered meanwhile: not this target's frame
                self.stats.discarded += 1
                return
            if target is not None and result is not None:
                self.stats.track_ms.append(track_ms)
                target.box = result.box
                self._state = result.state
            else:
                self._state = IDLE
            self._publish(frame, msg.header, target, result, self.settings)
        self.stats.processed += 1
        self.stats.latencies_ms.append((time.monotonic() - received_at) * 1000.0)

    def _reinitialise(self, tracker: Tracker, frame: np.ndarray, target: Target, generation: int) -> bool:
        """The image size changed mid-track: start again on this frame with the last box scaled to it.

        When the tracker rejects the scaled box the target is dropped (idle) with a warning asking for a new
        one; returns whether tracking goes on.
        """
        new_hw = frame.shape[:2]
        change = (f"image size changed from {target.image_hw[1]}x{target.image_hw[0]} to {new_hw[1]}x{new_hw[0]}: "
                  f"track {target.track_id}")
        try:
            box = messages.clip_target_xywh(messages.scale_xywh(target.box, target.image_hw, new_hw), new_hw)
            tracker.init(frame, box)
        except ValueError as exc:
            with self._lock:
                if generation == self._generation:
                    self._target, self._state = None, IDLE
                    self._generation += 1
            self._warn(f"{change} cannot go on, its box scaled to the new size is refused ({exc}): call set_target "
                       "again")
            return False
        self.get_logger().warning(f"{change} re-initialised on the box scaled to "
                                  f"({', '.join(f'{v:.1f}' for v in box)})")
        target.image_hw, target.box = new_hw, box
        self.stats.reinitialised += 1
        return True

    def _publish(self, frame: np.ndarray, header: Any, target: Target | None, result: TrackResult | None,
                 settings: TrackerNodeParameters) -> None:
        if not self._active:  # deactivated while this frame was in inference
            return
        self._confidence_pub.publish(messages.confidence_message(result.score if result else None))
        if target is not None and result is not None:
            if result.state == TRACKING:
                self._detection_pub.publish(messages.detection_from_result(result, header, target.track_id,
                                                                           settings.target_class_id))
            if settings.output_publish_mask:
                self._mask_pub.publish(mask_to_image(result.mask, header))
        if self._spatial is not None and target is not None and result is not None and result.state == TRACKING:
            self._publish_spatial(frame, header, target, result, settings)
        if settings.output_publish_debug_image and self._debug_pub.get_subscription_count() > 0:
            overlay = messages.debug_overlay(frame, result, self._state, target.track_id if target else "")
            self._debug_pub.publish(bgr_to_image(overlay, header))

    def _publish_spatial(self, frame: np.ndarray, header: Any, target: Target, result: TrackResult,
                         settings: TrackerNodeParameters) -> None:
        """target/ray, and with depth target/point and target/detection3d; a missing input is counted, not fatal."""
        spatial = self._spatial
        tolerance_ns = int(settings.input_sync_tolerance_ms * 1e6)
        out = spatial.compute(result, messages.stamp_to_ns(header.stamp), frame.shape[:2], tolerance_ns)
        if out.ray is not None:
            self._ray_pub.publish(spatial_messages.ray_message(out.ray, header))
        if out.point is not None:
            self._point_pub.publish(spatial_messages.point_message(out.point, header))
            self._detection3d_pub.publish(spatial_messages.detection3d_message(
                out.point, out.size, header, target.track_id, settings.target_class_id, result.score))
        if out.problem:
            self._warn(f"no 3D output for this frame: {out.problem}")

    # ---- targets ---------------------------------------------------------------------------------------------
    def set_target_callback(self, request: Any, response: Any) -> Any:
        """Initialise on the buffered image with the request's stamp (0 = latest); answer after init."""
        response.success, response.message, response.track_id = self._set_target(
            request.bbox, messages.stamp_to_ns(request.stamp))
        return response

    def target_callback(self, msg: Any) -> None:
        """A detector's hand-off: the same as set_target with the message's header stamp."""
        ok, message, track_id = self._set_target(msg.bbox, messages.stamp_to_ns(msg.header.stamp))
        if ok:
            self.get_logger().info(f"target from {self.resolve_topic_name('target')}: {message}")
        else:
            self._warn(f"ignored a target message on {self.resolve_topic_name('target')}: {message}")

    def _set_target(self, bbox: Any, stamp_ns: int) -> tuple[bool, str, str]:
        if not self._active:
            return False, "the node is not active (lifecycle): activate it, then call set_target", ""
        latest = self._frames.latest()
        if latest is None:
            return False, (f"no image received yet on {self._image_sub.topic_name}: publish images (check the topic "
                           "name and input.reliability) before setting a target"), ""
        if stamp_ns == 0:
            entry = latest
        else:
            tolerance_ms = self.settings.target_stamp_tolerance_ms
            tolerance_ns = int(round(tolerance_ms * 1e6))
            entry = self._frames.find(stamp_ns, tolerance_ns)
            if entry is None:
                stamps = self._frames.stamps()
                if stamp_ns > max(stamps) + tolerance_ns:
                    where = "it is newer than every buffered image (from the future, or another clock?)"
                elif stamp_ns < min(stamps) - tolerance_ns:
                    where = (f"it is older than every buffered image (evicted from the buffer of "
                             f"{self._frames.capacity} images, target.frame_buffer, or never received)")
                else:
                    where = "it lies between buffered images"
                return False, (f"no buffered image has stamp {messages.format_stamp(stamp_ns)} (tolerance "
                               f"{tolerance_ms:g} ms): {where}; the buffer holds {len(stamps)} image(s) stamped "
                               f"{messages.format_stamp(min(stamps))} to {messages.format_stamp(max(stamps))}: use "
                               "the stamp of a recent image, or 0 for the latest"), ""
        image_stamp, msg = entry
        try:
            frame = self._decode(msg)
        except ValueError as exc:
            return False, f"the image stamped {messages.format_stamp(image_stamp)} cannot be decoded: {exc}", ""
        try:
            box = messages.target_xywh_from_bbox(bbox, frame.shape[:2])
        except ValueError as exc:
            return False, str(exc), ""
        track_id = uuid.uuid4().hex[:8]
        # A copy shares the model and settings; init gives it its own per-target state, so the current tracker
        # may go on with a frame in the inference thread meanwhile (whose result is then discarded).
        tracker = copy.copy(self._tracker)
        try:
            tracker.init(frame, box)
        except ValueError as exc:  # the current target (if any) stays as it was
            return False, f"the tracker rejected the target: {exc}", ""
        with self._lock:
            tracker.config = tracker_config(self._base_config, self.settings)  # parameters changed meanwhile
            self._tracker = tracker
            self._target = Target(track_id=track_id, stamp_ns=image_stamp, image_hw=frame.shape[:2], box=box)
            self._state = TRACKING
            self._generation += 1
        message = (f"tracking {track_id}: initialised on the image stamped {messages.format_stamp(image_stamp)} "
                   f"({frame.shape[1]}x{frame.shape[0]}) with box x={box[0]:.1f} y={box[1]:.1f} w={box[2]:.1f} "
                   f"h={box[3]:.1f}")
        self.get_logger().info(message)
        return True, message, track_id

    def clear_target_callback(self, request: Any, response: Any) -> Any:
        """Stop tracking and go idle (confidence 0 from the next frame)."""
        with self._lock:
            previous = self._target
            self._target, self._state = None, IDLE
            self._generation += 1
        response.success = True
        response.message = f"cleared target {previous.track_id}" if previous else "no target was set"
        self.get_logger().info(response.message)
        return response

    # ---- parameters ------------------------------------------------------------------------------------------
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
        with self._lock:
            self.settings = settings
            self._tracker.config = tracker_config(self._base_config, settings)
        if self._frames.capacity != settings.target_frame_buffer:
            self._frames.resize(settings.target_frame_buffer)
        changed = ", ".join(f"{p.name}={p.value!r}" for p in parameters)
        self.get_logger().info(f"parameters applied: {changed}")

    # ---- diagnostics -----------------------------------------------------------------------------------------
    def diagnostics_callback(self) -> None:
        if not self._active:
            return
        now = time.monotonic()
        last_time, last_processed = self._diag_last
        processed = self.stats.processed
        self._diag_last = (now, processed)
        fps = (processed - last_processed) / max(now - last_time, 1e-6)
        latencies = list(self.stats.latencies_ms)
        track = list(self.stats.track_ms)
        target = self._target

        values = {
            "processed fps": fps, "latency p50 ms": percentile(latencies, 50),
            "latency p95 ms": percentile(latencies, 95),
            "track p50 ms": percentile(track, 50), "received frames": self.stats.received,
            "processed frames": processed, "dropped frames": self.stats.dropped,
            "bad images": self.stats.bad_images, "last bad image": self.stats.last_bad_image,
            "errors": self.stats.errors, "discarded frames": self.stats.discarded,
            "track id": target.track_id if target else "", "model variant": self.settings.model_variant,
            "attention": self._attention_text(), "device": self.device, "node": self.get_fully_qualified_name(),
        }
        if self._spatial is not None:
            values.update(self._spatial.stats.values(self.settings.input_depth))
        self._diagnostics_pub.publish(messages.diagnostics_message(
            self.get_clock().now().to_msg(), f"{self.get_name()}: tracking", self._state, values))

    # ---- shutdown --------------------------------------------------------------------------------------------
    def stop(self, timeout: float = 10.0) -> None:
        """Stop the inference thread (after the frame in progress) and wait for it."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = getattr(self, "_thread", None)
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    def destroy_node(self) -> None:
        if hasattr(self, "_cond"):
            self.stop()
        super().destroy_node()


class TrackerNode(TrackerNodeBase, Node):
    """Subscribes to images, serves set_target/clear_target, publishes detection, mask, confidence, diagnostics."""

    def __init__(self, *, build_tracker: TrackerFactory = build_tracker, node_name: str = NODE_NAME,
                 **node_kwargs: Any) -> None:
        super().__init__(node_name, **node_kwargs)
        self.settings = self._declare_settings()
        try:
            self._load_model(build_tracker)
        except StartupError:
            self.destroy_node()
            raise
        self._open_interfaces()
        self._log_ready()


def _ignore_further_signals() -> None:
    """Shutdown has begun: a repeated SIGINT/SIGTERM (launch forwards Ctrl-C again) must not interrupt it."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(signum, signal.SIG_IGN)
        except ValueError:  # not the main thread (main() called from a test's thread): nothing to guard
            return


def _run(args: list[str] | None, build_tracker: TrackerFactory, node_class: type) -> int:
    rclpy.init(args=args)
    node: TrackerNodeBase | None = None
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


def main(args: list[str] | None = None, build_tracker: TrackerFactory = build_tracker,
         node_class: type | None = None) -> int:
    """Run the node (``node_class``, default TrackerNode) until SIGINT/SIGTERM or an external shutdown; 0 then,
    1 when it cannot start.

    Shutdown ignores further signals; one that lands before that (a second Ctrl-C right after the first)
    ends the process quietly with 0 too: the process exits, which releases what the cleanup had left.
    """
    try:
        return _run(args, build_tracker, node_class or TrackerNode)
    except KeyboardInterrupt:
        _ignore_further_signals()
        return 0


if __name__ == "__main__":
    sys.exit(main())
