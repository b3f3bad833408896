"""`target_picker`: pick the tracker's target by dragging a box on the live picture in a browser.

Serves one page (plain HTML/JS, attsiammask_ros/web/picker.html) with aiohttp at http://<http.address>:<http.port>/
(loopback by default). A WebSocket (/ws) sends the newest frame (the tracker's debug_image while it comes, else
the raw image) as JPEG at most stream.max_fps times a second, each with its stamp, the current box, mask outline,
state and confidence. POST /set_target {x, y, w, h, stamp_ns} calls set_target with the stamp of the frame the
operator dragged on; POST /clear_target calls clear_target; both answer with the service's response.
"""
from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rclpy
from aiohttp import WSMsgType, web
from attsiammask_interfaces.srv import SetTarget
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Float32
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2D

from attsiammask_core.image_messages import image_to_bgr
from attsiammask_core.stamps import NS_PER_S, format_stamp, parse_stamp, stamp_to_ns
from attsiammask_ros.node_help import DOCS, print_help_if_requested
from attsiammask_ros.set_target_client import request_from_xywh

NODE_NAME = "target_picker"
PAGE = Path(__file__).resolve().parent / "web" / "picker.html"
_DEBUG_FRESH_S = 1.0  # the debug overlay is used while it arrived this recently


@dataclass
class Frame:
    stamp_ns: int
    jpeg: bytes
    width: int
    height: int
    source: str


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
        self._box: tuple[int, list[float]] | None = None
        self._outline: tuple[int, list[list[int]]] | None = None
        self._state, self._confidence = "unknown", 0.0
        self._tracker_name = str(tracker)
        self.create_subscription(Image, "image", self._on_image, qos_profile_sensor_data)
        self.create_subscription(Image, "debug_image", self._on_debug, 10)
        self.create_subscription(Detection2D, "detection", self._on_detection, 10)
        self.create_subscription(Image, "mask", self._on_mask, 10)
        self.create_subscription(Float32, "confidence", self._on_confidence, 10)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.set_target = self.create_client(SetTarget, "set_target")
        self.clear_target = self.create_client(Trigger, "clear_target")

    # ---- inputs ----------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        with self._lock:
            self._raw = (stamp_to_ns(msg.header.stamp), msg)

    def _on_debug(self, msg: Image) -> None:
        with self._lock:
            self._debug = (stamp_to_ns(msg.header.stamp), msg, time.monotonic())

    def _on_detection(self, msg: Detection2D) -> None:
        b = msg.bbox
        box = [b.center.position.x - b.size_x / 2, b.center.position.y - b.size_y / 2, b.size_x, b.size_y]
        with self._lock:
            self._box = (stamp_to_ns(msg.header.stamp), box)

    def _on_mask(self, msg: Image) -> None:
        try:
            mask = image_to_bgr(msg)[..., 0] > 127
        except ValueError:
            return
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        outline = max(contours, key=cv2.contourArea).reshape(-1, 2).tolist() if contours else []
        with self._lock:
            self._outline = (stamp_to_ns(msg.header.stamp), outline)

    def _on_confidence(self, msg: Float32) -> None:
        self._confidence = float(msg.data)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(self._tracker_name) or f"/{self._tracker_name}" in status.name:
                values = {kv.key: kv.value for kv in status.values}
                self._state = values.get("state", self._state)

    # ---- what the page gets ----------------------------------------------------------------------------------
    def latest(self) -> tuple[Frame | None, dict[str, Any]]:
        """The newest frame (encoded at most max_fps times a second) and the overlay data for it."""
        with self._lock:
            debug, raw = self._debug, self._raw
            use_debug = debug is not None and time.monotonic() - debug[2] < _DEBUG_FRESH_S
            stamp, msg = (debug[0], debug[1]) if use_debug else (raw if raw is not None else (None, None))
            box, outline = self._box, self._outline
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
        info = {"state": self._state, "confidence": round(self._confidence, 4),
                "box": box[1] if box is not None else None,
                "box_stamp": format_stamp(box[0]) if box is not None else None,
                "outline": outline[1] if outline is not None else [],
                "outline_stamp": format_stamp(outline[0]) if outline is not None else None}
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
    """The page's {x, y, w, h, stamp: "SEC.NSEC"} (top-left box in image pixels) -> SetTarget request;
    ValueError if malformed."""
    try:
        x, y, w, h = (float(body[k]) for k in ("x", "y", "w", "h"))
        if not isinstance(body["stamp"], str):  # a JSON number cannot hold nanoseconds since 1970 exactly
            raise TypeError
        sec, nanosec = divmod(parse_stamp(body["stamp"]), NS_PER_S)
    except (KeyError, TypeError, ValueError):
        raise ValueError('expected JSON {x, y, w, h, stamp: "SEC.NSEC"}') from None
    return request_from_xywh(x, y, w, h, Time(sec=sec, nanosec=nanosec))


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
        return web.json_response({"success": answer.success, "message": answer.message, "track_id": answer.track_id,
                                  "stamp": format_stamp(stamp_to_ns(req.stamp))})

    async def clear_target(_: web.Request) -> web.Response:
        try:
            answer = await picker.call(picker.clear_target, Trigger.Request())
        except TimeoutError as exc:
            return web.json_response({"success": False, "message": str(exc)}, status=400)
        return web.json_response({"success": answer.success, "message": answer.message})

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

Pick the tracker's target in a browser: serves a page at http://<http.address>:<http.port>/ with the live picture
(the tracker's debug_image, else image with the box and mask outline), its state and confidence; drag a box to call
set_target with that frame's stamp, "Clear target" calls clear_target. Run it beside tracker_node, in the same
namespace. The page has no login: keep http.address on loopback or use an SSH tunnel.

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
