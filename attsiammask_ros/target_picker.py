"""`target_picker`: pick the tracker's targets by dragging boxes on the live picture in a browser.

Serves one page (plain HTML/JS, attsiammask_ros/web/picker.html) with aiohttp at http://<http.address>:<http.port>/
(loopback by default). A WebSocket (/ws) sends the newest frame (the tracker's debug_image while it comes, else
the raw image) as JPEG at most stream.max_fps times a second, each with its stamp, the first target's state and
confidence, and every target (id, colour, state, box, mask outline, confidence). POST /set_target
{x, y, w, h, stamp, target_id} calls set_target with the stamp of the frame the operator dragged on (an empty
target_id replaces every target; a new one adds a target, an existing one re-initialises it); POST /clear_target
{target_id} calls clear_target_id for one target, or clear_target for all when it is empty; both answer with the
service's response. Each id keeps one colour while it is tracked.
"""
from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rclpy
from aiohttp import WSMsgType, web
from attsiammask_interfaces.srv import ClearTarget, SetTarget
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Float32
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2D, Detection2DArray

from attsiammask_core.image_messages import image_to_bgr
from attsiammask_core.session import DetectionFields
from attsiammask_core.session.targets import check_target_id
from attsiammask_core.stamps import NS_PER_S, format_stamp, parse_stamp, stamp_to_ns
from attsiammask_core.track_state import TrackState
from attsiammask_ros.node_help import DOCS, print_help_if_requested
from attsiammask_ros.set_target_client import request_from_xywh

NODE_NAME = "target_picker"
PAGE = Path(__file__).resolve().parent / "web" / "picker.html"
_DEBUG_FRESH_S = 1.0  # the debug overlay is used while it arrived this recently


# One colour per target id (distinct for up to 8 targets at once; more reuse them in turn).
PALETTE = ("#00e676", "#40c4ff", "#ff9100", "#ea80fc", "#ffea00", "#ff5252", "#64ffda", "#b388ff")
_RECENT_ARRAYS = 30  # detections arrays kept to read the masks label image (k = the k-th detection) by stamp


@dataclass
class Frame:
    stamp_ns: int
    jpeg: bytes
    width: int
    height: int
    source: str


class ColourBook:
    """A colour per target id: a new id gets the first palette colour no current id has; forgotten ids free it."""

    def __init__(self, palette: tuple[str, ...] = PALETTE) -> None:
        self._palette, self._colours = palette, {}

    def colour(self, track_id: str) -> str:
        if track_id not in self._colours:
            used = set(self._colours.values())
            free = [c for c in self._palette if c not in used]
            self._colours[track_id] = free[0] if free else self._palette[len(self._colours) % len(self._palette)]
        return self._colours[track_id]

    def keep_only(self, track_ids: set[str]) -> None:
        self._colours = {k: v for k, v in self._colours.items() if k in track_ids}


@dataclass
class PickedTarget:
    """What the picker knows of one target: its state (from /diagnostics), its last detection (the core's
    DetectionFields: box and presence score) and mask outline, each with the stamp of its frame."""

    track_id: str
    state: TrackState = TrackState.TRACKING
    detection: DetectionFields | None = None
    detection_stamp: int | None = None
    outline: list[list[int]] = field(default_factory=list)
    outline_stamp: int | None = None

    def as_json(self, colour: str) -> dict[str, Any]:
        d = self.detection
        box = None if d is None else [d.center_x - d.size_x / 2, d.center_y - d.size_y / 2, d.size_x, d.size_y]
        return {"id": self.track_id, "colour": colour, "state": str(self.state), "box": box,
                "box_stamp": None if self.detection_stamp is None else format_stamp(self.detection_stamp),
                "confidence": None if d is None else round(d.score, 4), "outline": self.outline,
                "outline_stamp": None if self.outline_stamp is None else format_stamp(self.outline_stamp)}


def detection_fields_of(msg: Detection2D) -> DetectionFields:
    """A vision_msgs/Detection2D's values as the core session's DetectionFields."""
    hypothesis = msg.results[0].hypothesis if msg.results else None
    return DetectionFields(msg.id, msg.bbox.center.position.x, msg.bbox.center.position.y, msg.bbox.size_x,
                           msg.bbox.size_y, hypothesis.class_id if hypothesis else "",
                           float(hypothesis.score) if hypothesis else 0.0)


def states_from_diagnostics(values: dict[str, str]) -> dict[str, TrackState]:
    """The tracker's "states" diagnostic ("id:state id:state ...") as id -> TrackState (unknown words dropped)."""
    states = {}
    for item in values.get("states", "").split():
        track_id, _, word = item.rpartition(":")
        if track_id and word in {s.value for s in TrackState}:
            states[track_id] = TrackState(word)
    return states


def mask_outline(mask: np.ndarray) -> list[list[int]]:
    """The largest outer contour of a boolean mask as [[x, y], ...] (empty when the mask is)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return max(contours, key=cv2.contourArea).reshape(-1, 2).tolist() if contours else []


class TargetPicker(Node):
    """Keeps the newest frame, detection, mask outline, state and confidence; calls the tracker's services."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.address = self.declare_parameter("http.address", "127.0.0.1").value
        self.port = int(self.declare_parameter("http.port", 8080).value)
        self.max_fps = float(self.declare_parameter("stream.max_fps", 10.0).value)
        self.quality = int(self.declare_parameter("stream.jpeg_quality", 80).value)
        tracker = self.declare_parameter("tracker_node", "attsiammask_tracker").value
        if not (0 <= self.port <= 65535 and 0.1 <= self.max_fps <= 60 and 10 <= self.quality <= 100):
            raise ValueError(f"http.port in [0, 65535] (0: any free port), stream.max_fps in [0.1, 60] and "
                             f"stream.jpeg_quality in [10, 100]; got {self.port}, {self.max_fps}, {self.quality}")
        self._lock = threading.Lock()
        self._raw: tuple[int, Any] | None = None
        self._debug: tuple[int, Any, float] | None = None
        self._frame: Frame | None = None
        self._encoded_at = 0.0
        self.frame_count = 0
        self.targets: dict[str, PickedTarget] = {}  # in the tracker's order (its first target first)
        self.colours = ColourBook()
        self._arrays: deque[tuple[int, list[str]]] = deque(maxlen=_RECENT_ARRAYS)
        self._state, self._confidence = "unknown", 0.0
        self._tracker_name = str(tracker)
        self.create_subscription(Image, "image", self._on_image, qos_profile_sensor_data)
        self.create_subscription(Image, "debug_image", self._on_debug, 10)
        self.create_subscription(Detection2DArray, "detections", self._on_detections, 10)
        self.create_subscription(Image, "mask", self._on_mask, 10)
        self.create_subscription(Image, "masks", self._on_masks, 10)
        self.create_subscription(Float32, "confidence", self._on_confidence, 10)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.set_target = self.create_client(SetTarget, "set_target")
        self.clear_target = self.create_client(Trigger, "clear_target")
        self.clear_target_id = self.create_client(ClearTarget, "clear_target_id")

    # ---- inputs ----------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        with self._lock:
            self._raw = (stamp_to_ns(msg.header.stamp), msg)

    def _on_debug(self, msg: Image) -> None:
        with self._lock:
            self._debug = (stamp_to_ns(msg.header.stamp), msg, time.monotonic())

    def _target(self, track_id: str) -> PickedTarget:
        """The target with ``track_id``, added when new (call with the lock held). Targets come from set_target
        answers and the tracker's /diagnostics ("track ids"), which also drop the cleared ones."""
        if track_id not in self.targets:
            self.targets[track_id] = PickedTarget(track_id)
        return self.targets[track_id]

    def _on_detections(self, msg: Detection2DArray) -> None:
        stamp = stamp_to_ns(msg.header.stamp)
        found = {d.id: detection_fields_of(d) for d in msg.detections}
        with self._lock:
            self._arrays.append((stamp, list(found)))
            for track_id, target in self.targets.items():  # known ids only: a late array cannot revive a cleared one
                target.detection, target.detection_stamp = found.get(track_id), stamp

    def _on_mask(self, msg: Image) -> None:
        """The first target's mask: its outline (with several targets, masks gives every outline)."""
        try:
            mask = image_to_bgr(msg)[..., 0] > 127
        except ValueError:
            return
        with self._lock:
            first = next(iter(self.targets.values()), None)
            if first is not None and len(self.targets) == 1:
                first.outline, first.outline_stamp = mask_outline(mask), stamp_to_ns(msg.header.stamp)

    def _on_masks(self, msg: Image) -> None:
        """The label image (k = the k-th detection of the detections array with the same stamp): every outline."""
        try:
            labels = image_to_bgr(msg)[..., 0]
        except ValueError:
            return
        stamp = stamp_to_ns(msg.header.stamp)
        with self._lock:
            ids = next((ids for array_stamp, ids in self._arrays if array_stamp == stamp), None)
        if ids is None:
            return
        outlines = {track_id: mask_outline(labels == k) for k, track_id in enumerate(ids, start=1)}
        with self._lock:
            for track_id, outline in outlines.items():
                if track_id in self.targets:
                    self.targets[track_id].outline, self.targets[track_id].outline_stamp = outline, stamp

    def _on_confidence(self, msg: Float32) -> None:
        self._confidence = float(msg.data)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(self._tracker_name) or f"/{self._tracker_name}" in status.name:
                values = {kv.key: kv.value for kv in status.values}
                self._state = values.get("state", self._state)
                if "track ids" in values:
                    self._set_targets(values.get("track ids", "").split(), states_from_diagnostics(values))

    def _set_targets(self, track_ids: list[str], states: dict[str, TrackState]) -> None:
        """The tracker's targets now (in its order): new ones added, cleared ones (and their colours) dropped."""
        with self._lock:
            known = {track_id: self._target(track_id) for track_id in track_ids}
            for track_id, target in known.items():
                target.state = states.get(track_id, target.state)
            self.targets = known
            self.colours.keep_only(set(known))

    def picked(self, track_id: str, replaced_all: bool) -> None:
        """set_target answered with ``track_id``: it is tracked now (alone, when the request replaced every target)."""
        with self._lock:
            if replaced_all:
                self.targets = {}
            self._target(track_id).state = TrackState.TRACKING
            self.colours.keep_only(set(self.targets))

    def forget_targets(self, track_id: str = "") -> None:
        """Drop one target (or all, with an empty id) at once after the tracker cleared it."""
        with self._lock:
            self.targets = {} if not track_id else {k: v for k, v in self.targets.items() if k != track_id}
            self.colours.keep_only(set(self.targets))

    # ---- what the page gets ----------------------------------------------------------------------------------
    def latest(self) -> tuple[Frame | None, dict[str, Any]]:
        """The newest frame (encoded at most max_fps times a second) and the overlay data for it."""
        with self._lock:
            debug, raw = self._debug, self._raw
            use_debug = debug is not None and time.monotonic() - debug[2] < _DEBUG_FRESH_S
            stamp, msg = (debug[0], debug[1]) if use_debug else (raw if raw is not None else (None, None))
            targets = [target.as_json(self.colours.colour(target.track_id)) for target in self.targets.values()]
        now = time.monotonic()
        if msg is not None and (self._frame is None or self._frame.stamp_ns != stamp) and \
                now - self._encoded_at >= 1.0 / self.max_fps:
            try:
                bgr = image_to_bgr(msg)
                ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
                if ok:
                    self._frame = Frame(stamp, data.tobytes(), bgr.shape[1], bgr.shape[0],
                                        "debug_image" if use_debug else "image")
                    self._encoded_at = now
                    self.frame_count += 1
            except ValueError as exc:
                self.get_logger().warning(f"cannot show an image: {exc}", throttle_duration_sec=5.0)
        frame = self._frame
        # Stamps travel as "SEC.NSEC" strings: nanoseconds since 1970 do not fit a JavaScript number exactly.
        info = {"state": self._state, "confidence": round(self._confidence, 4), "targets": targets}
        if frame is not None:
            info.update(stamp=format_stamp(frame.stamp_ns), width=frame.width, height=frame.height, source=frame.source)
        return frame, info

    async def call(self, client: Any, request: Any, timeout: float = 10.0) -> Any:
        if not client.service_is_ready():
            raise TimeoutError(f"{client.srv_name} is not available: is the tracker running?")
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{client.srv_name} did not answer within {timeout:g} s")
            await asyncio.sleep(0.01)
        return future.result()


def set_target_request(body: dict[str, Any]) -> SetTarget.Request:
    """The page's {x, y, w, h, stamp: "SEC.NSEC", target_id} (top-left box in image pixels; target_id optional,
    empty = the single target) -> SetTarget request; ValueError if malformed."""
    try:
        x, y, w, h = (float(body[k]) for k in ("x", "y", "w", "h"))
        if not isinstance(body["stamp"], str):  # a JSON number cannot hold nanoseconds since 1970 exactly
            raise TypeError
        sec, nanosec = divmod(parse_stamp(body["stamp"]), NS_PER_S)
    except (KeyError, TypeError, ValueError):
        raise ValueError('expected JSON {x, y, w, h, stamp: "SEC.NSEC", target_id (optional)}') from None
    request = request_from_xywh(x, y, w, h, Time(sec=sec, nanosec=nanosec))
    request.target_id = target_id_of(body)
    return request


def target_id_of(body: dict[str, Any]) -> str:
    """The optional "target_id" of a page request, checked as the session checks it (ValueError says why)."""
    value = body.get("target_id", "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"target_id must be a string, got {type(value).__name__}")
    return check_target_id(value)


def make_app(picker: TargetPicker) -> web.Application:
    async def index(_: web.Request) -> web.Response:
        return web.Response(text=PAGE.read_text(), content_type="text/html")

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=10.0)
        await ws.prepare(request)
        sent: int | None = None
        while not ws.closed:
            frame, info = picker.latest()
            if frame is not None and frame.stamp_ns != sent:
                await ws.send_str(json.dumps(info))
                await ws.send_bytes(frame.jpeg)
                sent = frame.stamp_ns
            elif frame is not None:
                await ws.send_str(json.dumps({**info, "update": True}))  # overlay only: same picture
            try:
                message = await ws.receive(timeout=1.0 / picker.max_fps)
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
            except asyncio.TimeoutError:
                pass
        return ws

    async def set_target(request: web.Request) -> web.Response:
        try:
            req = set_target_request(await request.json())
            answer = await picker.call(picker.set_target, req)
        except (ValueError, TimeoutError, json.JSONDecodeError) as exc:
            return web.json_response({"success": False, "message": str(exc)}, status=400)
        if answer.success:
            picker.picked(answer.track_id, replaced_all=not req.target_id)
        return web.json_response({"success": answer.success, "message": answer.message, "track_id": answer.track_id,
                                  "stamp": format_stamp(stamp_to_ns(req.stamp))})

    async def clear_target(request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
            if not isinstance(body, dict):
                raise ValueError("expected JSON {target_id (optional, empty = every target)}")
            target_id = target_id_of(body)
            if target_id:
                answer = await picker.call(picker.clear_target_id, ClearTarget.Request(target_id=target_id))
            else:
                answer = await picker.call(picker.clear_target, Trigger.Request())
        except (ValueError, TimeoutError, json.JSONDecodeError) as exc:
            return web.json_response({"success": False, "message": str(exc)}, status=400)
        if answer.success:
            picker.forget_targets(target_id)
        return web.json_response({"success": answer.success, "message": answer.message, "target_id": target_id})

    app = web.Application(client_max_size=64 * 1024)
    app.add_routes([web.get("/", index), web.get("/ws", stream), web.post("/set_target", set_target),
                    web.post("/clear_target", clear_target)])
    return app


class PickerServer:
    """The aiohttp server of a TargetPicker on its own thread and event loop; `url` once started."""

    def __init__(self, picker: TargetPicker) -> None:
        self.picker, self.url = picker, ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="target_picker_http", daemon=True)

    def start(self, timeout: float = 10.0) -> str:
        self._thread.start()
        if not self._ready.wait(timeout) or not self.url:
            raise RuntimeError(f"the web server did not start on {self.picker.address}:{self.picker.port}")
        return self.url

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(make_app(self.picker), access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.picker.address, self.picker.port)
        try:
            self._loop.run_until_complete(site.start())
            port = self._runner.addresses[0][1]
            self.url = f"http://{self.picker.address}:{port}/"
        finally:
            self._ready.set()
        if self.url:
            self._loop.run_forever()

    def stop(self) -> None:
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


HELP = f"""usage: target_picker [--ros-args -p NAME:=VALUE ...]

Pick the tracker's targets in a browser: serves a page at http://<http.address>:<http.port>/ with the live picture
(the tracker's debug_image, else image) with every target's box and mask outline in its own colour, their states
and confidences; drag a box to call set_target with that frame's stamp (and the id typed in "target id": empty
replaces every target, a new id adds one, an existing id re-initialises it); each target's "clear" calls
clear_target_id, "Clear all" calls clear_target. Run it beside tracker_node, in the same namespace. The page has
no login: keep http.address on loopback or use an SSH tunnel.

parameters: http.address (default 127.0.0.1), http.port (8080; 0 = any free port), stream.max_fps (10.0, 0.1-60),
  stream.jpeg_quality (80, 10-100), tracker_node (attsiammask_tracker: the node whose /diagnostics it shows)

example:
  target_picker --ros-args -p http.port:=8080      # then open http://127.0.0.1:8080/

docs: {DOCS} (section target_picker)
"""


def main(args: list[str] | None = None) -> int:
    if print_help_if_requested(args, HELP):
        return 0
    rclpy.init(args=args)
    picker = server = None
    try:
        picker = TargetPicker()
        server = PickerServer(picker)
        url = server.start()
        picker.get_logger().info(f"open {url} to pick the target (bound to {picker.address}; set http.address to "
                                 f"expose it)")
        executor = MultiThreadedExecutor(num_threads=2)
        executor.add_node(picker)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, RuntimeError, OSError) as exc:
        rclpy.logging.get_logger(NODE_NAME).error(f"cannot start: {exc}")
        return 1
    finally:
        if server is not None:
            server.stop()
        if picker is not None:
            picker.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
