"""The demo's client node: calls ``set_target`` and records every detection, mask, confidence and diagnostics.

Receipt times are wall-clock nanoseconds (the clock the player stamps with), so ``receipt - stamp`` is the
end-to-end latency from publication to receipt on this host. ``detection`` and ``mask`` carry the image's header
and are matched to frames by stamp; ``confidence`` (std_msgs/Float32) has no header, so it is kept with its
receipt time and matched to the frame whose mask or detection arrived closest in time (the node publishes the
three together for each processed frame).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from attsiammask_interfaces.srv import SetTarget
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Float32
from vision_msgs.msg import Detection2D

from attsiammask_ros.messages import stamp_to_ns, xywh_from_bbox
from attsiammask_ros.set_target_client import request_from_xywh

__all__ = ["TrackerClient", "Received", "SetTargetFailed"]

_MATCH_WINDOW_NS = 20_000_000  # a confidence belongs to a frame when received within 20 ms of its mask/detection


class SetTargetFailed(RuntimeError):
    """set_target answered success=false, or did not answer."""


@dataclass
class Received:
    """What arrived for one frame (by stamp)."""

    box: tuple[float, float, float, float] | None = None   # detection bbox as xywh (None: no detection)
    score: float | None = None                              # the detection's score
    track_id: str = ""
    detection_ns: int | None = None                         # receipt times, wall clock
    mask: np.ndarray | None = None                          # H x W bool (when masks are kept)
    mask_ns: int | None = None

    @property
    def receipt_ns(self) -> int | None:
        """The first receipt of a result for this frame (detection or mask)."""
        times = [t for t in (self.detection_ns, self.mask_ns) if t is not None]
        return min(times) if times else None


class TrackerClient(Node):
    """Talks to a tracker node in the same namespace: set_target, and recorders of its outputs."""

    def __init__(self, node_name: str = "attsiammask_demo_client", keep_masks: bool = True, **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        self.keep_masks = keep_masks
        self._lock = threading.Lock()
        self.results: dict[int, Received] = {}
        self.confidences: list[tuple[int, float]] = []   # (receipt ns, value)
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_ns = 0
        self.set_target_client = self.create_client(SetTarget, "set_target")
        self.detection_sub = self.create_subscription(Detection2D, "detection", self.detection_callback, 50)
        self.mask_sub = self.create_subscription(Image, "mask", self.mask_callback, 50)
        self.confidence_sub = self.create_subscription(Float32, "confidence", self.confidence_callback, 50)
        self.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics_callback, 10)

    # ---- recorders -------------------------------------------------------------------------------------------
    def detection_callback(self, msg: Detection2D) -> None:
        now = time.time_ns()
        score = float(msg.results[0].hypothesis.score) if msg.results else None
        with self._lock:
            entry = self.results.setdefault(stamp_to_ns(msg.header.stamp), Received())
            entry.box, entry.score, entry.track_id, entry.detection_ns = xywh_from_bbox(msg.bbox), score, msg.id, now

    def mask_callback(self, msg: Image) -> None:
        now = time.time_ns()
        mask = None
        if self.keep_masks:
            rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
            mask = rows[:, :msg.width] > 0
        with self._lock:
            entry = self.results.setdefault(stamp_to_ns(msg.header.stamp), Received())
            entry.mask, entry.mask_ns = mask, now

    def confidence_callback(self, msg: Float32) -> None:
        now = time.time_ns()
        with self._lock:
            self.confidences.append((now, float(msg.data)))

    def diagnostics_callback(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("attsiammask_tracker") or any(kv.key == "processed frames"
                                                                     for kv in status.values):
                with self._lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}
                    self.diagnostics_ns = time.time_ns()

    # ---- queries ---------------------------------------------------------------------------------------------
    def result(self, stamp_ns: int) -> Received | None:
        with self._lock:
            return self.results.get(stamp_ns)

    def has_result(self, stamp_ns: int) -> bool:
        with self._lock:
            entry = self.results.get(stamp_ns)
            return entry is not None and entry.receipt_ns is not None

    def result_count(self) -> int:
        with self._lock:
            return len(self.results)

    def confidence_near(self, receipt_ns: int | None) -> float | None:
        """The confidence received closest to ``receipt_ns`` (within 20 ms), else None."""
        if receipt_ns is None:
            return None
        with self._lock:
            best = min(self.confidences, key=lambda item: abs(item[0] - receipt_ns), default=None)
        if best is None or abs(best[0] - receipt_ns) > _MATCH_WINDOW_NS:
            return None
        return best[1]

    def outputs_connected(self) -> bool:
        """The node's detection, mask and confidence publishers are matched with our subscriptions."""
        return all(sub.get_publisher_count() > 0 for sub in (self.detection_sub, self.mask_sub, self.confidence_sub))

    # ---- set_target --------------------------------------------------------------------------------------------
    def set_target(self, box_xywh: tuple[float, float, float, float], stamp_ns: int = 0,
                   timeout: float = 10.0) -> tuple[bool, str, str]:
        """Call set_target (spun by an executor in another thread); (success, message, track_id).

        Raises SetTargetFailed when the service is not available or does not answer within ``timeout``.
        """
        if not self.set_target_client.wait_for_service(timeout_sec=timeout):
            raise SetTargetFailed(f"service {self.set_target_client.srv_name} not available after {timeout:g} s")
        from builtin_interfaces.msg import Time

        stamp = Time()
        stamp.sec, stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
        future = self.set_target_client.call_async(request_from_xywh(*box_xywh, stamp))
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            self.set_target_client.remove_pending_request(future)
            raise SetTargetFailed(f"set_target did not answer within {timeout:g} s")
        response = future.result()
        return bool(response.success), str(response.message), str(response.track_id)
