"""`attsiammask stress --scenario churn`: the tracker node under the churn a robot produces, for ``--minutes``.

Processes: ``tracker_node`` (lite, embedded weights, camera_info and depth on) and a camera
(python -m attsiammask_ros.stress_camera: 640x480 bgr8 + registered 32FC1 depth + camera_info at 30 Hz, best
effort), all with config/fastdds_large_images.xml, localhost discovery. Churn, on a fixed schedule:
- a target set (set_target on a recent frame, by its stamp, with the camera's true box) and cleared, every
  TARGET_EVERY_S s in turn; the target leaves the view for 3 s every 12 s and comes back;
- the camera process restarted every ``restart_every_s`` (SIGINT, then a new process);
- a subscriber of debug_image, mask and target/detections3d that comes for 5 s every 15 s;
- camera_info (and the image) alternating 640x480 and 480x360 every 20 s;
- stamps jumping back to the camera's first stamp every 25 s (a bag played with --loop);
(the last two sooner when the camera restarts more often than every 60 s: see :func:`camera_arguments`).
Meanwhile this process calls clear_target_id with an unknown id once a second (the node must answer each within
SERVICE_TIMEOUT_S) and times every result (detections) from the camera's publish to its receipt here.

One row per ``--interval`` s; the verdict (:func:`judge_churn`): memory flat (the node's RSS, median of the first
measured interval after the warm-up vs the last, within 5%), latency bounded (p99 of every measured interval at
most LATENCY_P99_LIMIT_MS), no error (the node's errors and bad images 0, a clean exit), the node answering
throughout (every call answered in time).
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from attsiammask_core.eval.metrics import percentile
from attsiammask_ros.stress import MEMORY_TOLERANCE, memory_flat, plan_periods, read_rss_kb

__all__ = ["ChurnRow", "ChurnVerdict", "judge_churn", "churn_verdict_line", "run_churn", "LATENCY_P99_LIMIT_MS",
           "SERVICE_TIMEOUT_S", "TARGET_EVERY_S"]

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "config" / "fastdds_large_images.xml"
TARGET_EVERY_S = 10.0
SUBSCRIBER_EVERY_S, SUBSCRIBER_FOR_S = 15.0, 5.0
PING_EVERY_S = 1.0
SERVICE_TIMEOUT_S = 5.0
LATENCY_P99_LIMIT_MS = 1000.0
SIZE = (640, 480)


def camera_arguments(restart_every_s: float) -> list[str]:
    """The camera's churn: sizes alternate every 20 s and stamps go back every 25 s, sooner when the camera lives
    shorter (each process counts from its own start), the target away 3 s of every 12."""
    size_every, loop = min(20.0, restart_every_s / 3), min(25.0, restart_every_s / 2)
    return ["--rate", "30", "--width", "640", "--height", "480", "--sizes", "640x480,480x360", "--size-every",
            f"{size_every:g}", "--leave-every", "12", "--away", "3", "--loop-seconds", f"{loop:g}", "--seconds", "0",
            "--truth", "--wait-subscribers", "0"]


# ---- pure parts ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChurnRow:
    """One interval: the node's counters over it, result latencies, calls, the node's memory."""

    label: str
    start_s: float
    end_s: float
    received: int
    processed: int
    lost_upstream: int
    latency_p50_ms: float
    latency_p99_ms: float
    results: int
    calls: int
    unanswered: int
    call_max_ms: float
    targets_set: int
    targets_cleared: int
    restarts: int
    rss_mb: float

    @property
    def measured(self) -> bool:
        return self.label != "warm-up"


@dataclass
class ChurnVerdict:
    memory_ok: bool
    memory_first_mb: float
    memory_last_mb: float
    latency_ok: bool
    latency_worst_p99_ms: float
    errors: int
    unanswered: int
    calls: int
    node_exit_code: int | None
    processed: int
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.memory_ok and self.latency_ok and self.errors == 0 and self.unanswered == 0
                and self.calls > 0 and self.processed > 0 and self.node_exit_code == 0)


def judge_churn(rows: Sequence[ChurnRow], node_errors: int | None, node_exit_code: int | None,
                latency_limit_ms: float = LATENCY_P99_LIMIT_MS) -> ChurnVerdict:
    """The verdict over the measured rows (warm-up left out; if there is only a warm-up, over it)."""
    measured = [r for r in rows if r.measured] or list(rows)
    worst = max((r.latency_p99_ms for r in measured), default=math.nan)
    return ChurnVerdict(
        memory_ok=memory_flat(measured[0].rss_mb, measured[-1].rss_mb), memory_first_mb=measured[0].rss_mb,
        memory_last_mb=measured[-1].rss_mb, latency_ok=worst <= latency_limit_ms, latency_worst_p99_ms=worst,
        errors=1 if node_errors is None else node_errors, unanswered=sum(r.unanswered for r in rows),
        calls=sum(r.calls for r in rows), node_exit_code=node_exit_code, processed=sum(r.processed for r in rows),
        notes=["one interval only: first and last are the same"] if len(measured) == 1 else [])


def churn_verdict_line(v: ChurnVerdict, latency_limit_ms: float = LATENCY_P99_LIMIT_MS) -> str:
    def mark(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    change = 100.0 * (v.memory_last_mb / v.memory_first_mb - 1.0) if v.memory_first_mb > 0 else math.nan
    parts = [f"memory flat {mark(v.memory_ok)} (node RSS first interval after warm-up {v.memory_first_mb:.1f} MB, "
             f"last {v.memory_last_mb:.1f} MB, {change:+.1f}%; rule: within {100 * MEMORY_TOLERANCE:g}%)",
             f"latency bounded {mark(v.latency_ok)} (worst interval p99 {v.latency_worst_p99_ms:.0f} ms, camera "
             f"publish -> result received; rule: <= {latency_limit_ms:g} ms)",
             f"errors {v.errors} {mark(v.errors == 0 and v.node_exit_code == 0)} (node errors + bad images; node "
             f"exit code {v.node_exit_code})",
             f"answering {mark(v.unanswered == 0 and v.calls > 0)} ({v.calls} calls, {v.unanswered} not answered "
             f"within {SERVICE_TIMEOUT_S:g} s)", f"processed {v.processed} frames", *v.notes]
    return f"verdict: {mark(v.ok)}: " + "; ".join(parts)


CHURN_HEADER = (f"{'interval':<9}{'from-to s':>10}{'node rx':>8}{'proc':>6}{'fps':>6}{'lost up':>8}{'p50 ms':>7}"
                f"{'p99 ms':>7}{'calls':>6}{'unans':>6}{'call max':>9}{'set':>4}{'clear':>6}{'restart':>8}"
                f"{'RSS MB':>8}")


def format_churn_row(r: ChurnRow) -> str:
    span = max(r.end_s - r.start_s, 1e-9)
    return (f"{r.label:<9}{f'{r.start_s:.0f}-{r.end_s:.0f}':>10}{r.received:>8}{r.processed:>6}"
            f"{r.processed / span:>6.1f}{r.lost_upstream:>8}{r.latency_p50_ms:>7.0f}{r.latency_p99_ms:>7.0f}"
            f"{r.calls:>6}{r.unanswered:>6}{r.call_max_ms:>9.0f}{r.targets_set:>4}{r.targets_cleared:>6}"
            f"{r.restarts:>8}{r.rss_mb:>8.1f}")


# ---- the run -------------------------------------------------------------------------------------------------------
@dataclass
class _Events:
    """What happened, with times in s since the start (appended by the ROS thread and the main loop)."""

    latencies: list[tuple[float, float]] = field(default_factory=list)        # (t, ms)
    calls: list[tuple[float, float | None]] = field(default_factory=list)     # (t, ms or None: unanswered)
    sets: list[float] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)
    diagnostics: list[tuple[float, dict[str, str]]] = field(default_factory=list)


class ChurnClient:
    """This process's ROS side: truth and results subscriptions, service clients, the coming-and-going
    subscriber; spun by its own executor thread."""

    def __init__(self, t0: float, namespace: str = "") -> None:
        import rclpy
        from attsiammask_interfaces.srv import ClearTarget, SetTarget
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from std_srvs.srv import Trigger
        from vision_msgs.msg import Detection2D, Detection2DArray

        self.t0 = t0
        self.events = _Events()
        self.node = rclpy.create_node("attsiammask_churn", namespace=namespace or None)
        self.node_name = f"{namespace}/attsiammask_tracker"
        self.truth: deque = deque(maxlen=60)
        self.published_ns: OrderedDict[int, int] = OrderedDict()
        self._lock = threading.Lock()
        n = self.node
        n.create_subscription(Detection2D, "stress/truth", self._truth, 50)
        n.create_subscription(Detection2DArray, "detections", self._result, 50)
        n.create_subscription(DiagnosticArray, "/diagnostics", self._diagnostics, 10)
        self.set_target = n.create_client(SetTarget, "set_target")
        self.clear_target = n.create_client(Trigger, "clear_target")
        self.clear_target_id = n.create_client(ClearTarget, "clear_target_id")
        self._visitor = None
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(n)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _truth(self, msg) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            self.truth.append(msg)
            self.published_ns[stamp] = int(msg.id)
            self.published_ns.move_to_end(stamp)
            while len(self.published_ns) > 3000:
                self.published_ns.popitem(last=False)

    def _result(self, msg) -> None:
        receipt = time.time_ns()
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            published = self.published_ns.get(stamp)
        if published is not None:
            self.events.latencies.append((self.now(), (receipt - published) / 1e6))

    def _diagnostics(self, msg) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if values.get("node") == self.node_name:
                self.events.diagnostics.append((self.now(), values))

    def call(self, client, request, timeout: float = SERVICE_TIMEOUT_S):
        """Call and wait; the answer, or None after ``timeout`` (recorded either way)."""
        start = time.monotonic()
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        answered = done.wait(timeout)
        self.events.calls.append((self.now(), (time.monotonic() - start) * 1000.0 if answered else None))
        if not answered:
            client.remove_pending_request(future)
            return None
        return future.result()

    def ping(self) -> None:
        from attsiammask_interfaces.srv import ClearTarget

        self.call(self.clear_target_id, ClearTarget.Request(target_id="churn-ping-unknown"))

    def set_on_recent_frame(self) -> bool:
        """set_target on a frame about 0.2 s old with its true box (skipped while the target is away)."""
        from attsiammask_interfaces.srv import SetTarget

        with self._lock:
            candidates = list(self.truth)[-8:-4]
        for msg in reversed(candidates):
            if msg.bbox.size_x <= 0:
                continue
            request = SetTarget.Request()
            request.bbox = msg.bbox
            request.stamp = msg.header.stamp
            answer = self.call(self.set_target, request)
            if answer is not None and answer.success:
                self.events.sets.append(self.now())
                return True
        return False

    def clear(self) -> None:
        from std_srvs.srv import Trigger

        if self.call(self.clear_target, Trigger.Request()) is not None:
            self.events.clears.append(self.now())

    def alive(self) -> bool:
        """The executor thread still spins."""
        return self._thread.is_alive()

    def visitor(self, present: bool) -> None:
        """The subscriber that comes and goes: a node of its own with debug_image, mask and target/detections3d
        subscriptions, made and destroyed here and never spun (DDS still delivers to it; destroying entities that
        the spinning executor waits on, from another thread, would break it)."""
        import rclpy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection3DArray

        if present and self._visitor is None:
            node = rclpy.create_node("attsiammask_churn_visitor", namespace=self.node.get_namespace())
            for kind, topic in ((Image, "debug_image"), (Image, "mask"), (Detection3DArray, "target/detections3d")):
                node.create_subscription(kind, topic, lambda m: None, 2)
            self._visitor = node
        elif not present and self._visitor is not None:
            self._visitor.destroy_node()
            self._visitor = None

    def close(self) -> None:
        self.visitor(False)
        self.executor.shutdown()
        self.node.destroy_node()


def _counter(values: dict[str, str], key: str) -> int:
    try:
        return int(float(values[key]))
    except (KeyError, ValueError):
        return 0


def _row(label: str, start: float, end: float, ev: _Events) -> ChurnRow:
    def inside(t: float) -> bool:
        return start <= t < end

    lat = [ms for t, ms in ev.latencies if inside(t)]
    calls = [ms for t, ms in ev.calls if inside(t)]
    answered = [ms for ms in calls if ms is not None]
    diag = [values for t, values in ev.diagnostics if inside(t)]
    first, last = (diag[0], diag[-1]) if diag else ({}, {})
    rss = [kb for t, kb in ev.rss if inside(t)]
    return ChurnRow(label, start, end, _counter(last, "received frames") - _counter(first, "received frames"),
                    _counter(last, "processed frames") - _counter(first, "processed frames"),
                    _counter(last, "frames lost upstream") - _counter(first, "frames lost upstream"),
                    percentile(lat, 50), percentile(lat, 99), len(lat), len(calls), len(calls) - len(answered),
                    max(answered, default=math.nan), sum(map(inside, ev.sets)), sum(map(inside, ev.clears)),
                    sum(map(inside, ev.restarts)), statistics.median(rss) / 1024.0 if rss else math.nan)


def run_churn(args: argparse.Namespace) -> int:
    """The churn scenario with the `stress` command's arguments; 0 when the verdict passes."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    from attsiammask_ros.demo.node_process import NodeProcess, localhost_environment, tracker_node_command

    duration = float(args.seconds) if args.seconds is not None else 60.0 * float(args.minutes)
    warmup, interval = float(args.warmup), float(args.interval)
    try:
        periods = plan_periods(duration, interval, warmup)
    except ValueError as exc:
        print(f"stress: {exc}")
        return 2
    total = periods[-1].end_s
    restart_every = float(getattr(args, "restart_every", 0) or min(60.0, max(15.0, total / 2)))
    env = localhost_environment(args.domain_id)
    if not (env.get("FASTDDS_DEFAULT_PROFILES_FILE") or env.get("FASTRTPS_DEFAULT_PROFILES_FILE")):
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(PROFILE)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    parameters = {"model.variant": "lite", "model.device": args.device, "input.camera_info": "true",
                  "input.depth": "true", "output.publish_debug_image": "true"}
    if getattr(args, "threads", 0):
        parameters["model.threads"] = str(int(args.threads))
    namespace = "/" + str(getattr(args, "namespace", "") or "").strip("/") if getattr(args, "namespace", "") else ""
    node_command = tracker_node_command(parameters) + (["-r", f"__ns:={namespace}"] if namespace else [])
    camera_command = [sys.executable, "-m", "attsiammask_ros.stress_camera", *camera_arguments(restart_every),
                      "--namespace", namespace]
    print(f"attsiammask stress --scenario churn: {duration:g} s in rows of {interval:g} s after a {warmup:g} s "
          f"warm-up; 640x480 bgr8 + 32FC1 depth + camera_info at 30 Hz; target set/cleared every "
          f"{TARGET_EVERY_S:g} s, leaves the view 3 s of every 12, camera restarted every {restart_every:g} s, a "
          f"subscriber comes {SUBSCRIBER_FOR_S:g} s of every {SUBSCRIBER_EVERY_S:g}; camera: "
          f"{' '.join(camera_arguments(restart_every))}; node {' '.join(parameters_text(parameters))} namespace "
          f"{namespace or '/'}; ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, localhost, profile "
          f"{env['FASTDDS_DEFAULT_PROFILES_FILE']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="attsiammask_churn_") as tmp:
        folder = Path(tmp)
        node = NodeProcess(node_command, folder / "tracker_node.log", env)
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # a signal ends the run here, cleanly
        previous_term = signal.signal(signal.SIGTERM, _interrupt)
        client = None
        cameras: list[subprocess.Popen] = []   # every camera process started (one alive at a time)
        rows: list[ChurnRow] = []
        failure = ""
        try:
            node.start()
            if not node.wait_until(lambda: "ready:" in node.tail(50), args.startup_timeout):
                failure = f"the node did not start:\n{node.tail()}"
            else:
                client = ChurnClient(time.monotonic(), namespace)
                if not node.wait_until(client.set_target.service_is_ready, 30.0):
                    failure = "set_target never became available"
            if not failure:
                client.t0 = time.monotonic()
                cameras.append(subprocess.Popen(camera_command, env=env, stdout=subprocess.DEVNULL,
                                                stdin=subprocess.DEVNULL))
                print(f"node ready (pid {node.pid})\n{CHURN_HEADER}", flush=True)
                rows = _drive(client, node, camera_command, env, periods, restart_every, cameras)
        except NodeDied as exc:
            failure = str(exc)
        except KeyboardInterrupt:
            failure = "interrupted"
        finally:
            for camera in cameras:
                if camera.poll() is None:
                    camera.terminate()
                    camera.wait(10)
            last = client.events.diagnostics[-1][1] if client and client.events.diagnostics else None
            exit_code = node.stop()
            if client is not None:
                client.close()
            rclpy.try_shutdown()
            signal.signal(signal.SIGTERM, previous_term)
        if failure or not rows:
            print(f"stress: FAILED: {failure or 'no rows'}")
            print(f"verdict: FAIL: the run did not complete (node exit code {exit_code})", flush=True)
            return 1
        node_errors = None if last is None else _counter(last, "errors") + _counter(last, "bad images")
        verdict = judge_churn(rows, node_errors, exit_code)
        if last is not None:
            print(f"node at the end: received {last.get('received frames')}, processed "
                  f"{last.get('processed frames')}, dropped {last.get('dropped frames')}, frames lost upstream "
                  f"{last.get('frames lost upstream')}, stamp jumps back {last.get('upstream stamp jumps back')}, "
                  f"re-acquisitions {last.get('re-acquisitions')}, points published {last.get('points published')}")
        if not verdict.ok:
            print(f"node log tail:\n{node.tail(20)}")
        print(churn_verdict_line(verdict), flush=True)
    return 0 if verdict.ok else 1


def parameters_text(parameters: dict[str, str]) -> list[str]:
    return [f"{name}:={value}" for name, value in parameters.items()]


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


class NodeDied(RuntimeError):
    """The node process exited during the run."""


def _drive(client: ChurnClient, node, camera_command: list[str], env: dict, periods, restart_every: float,
           cameras: list[subprocess.Popen]) -> list[ChurnRow]:
    """The schedule, one step every 50 ms, until the last period ends; the rows, printed as they end. A restarted
    camera is appended to ``cameras``."""
    total = periods[-1].end_s
    rows: list[ChurnRow] = []
    next_ping = next_target = next_rss = 0.0
    next_restart, target_on, printed = restart_every, False, 0
    while (now := client.now()) < total:
        if not node.alive():
            raise NodeDied(f"the node died:\n{node.tail()}")
        if now >= next_rss:
            kb = read_rss_kb(node.pid)
            if kb is not None:
                client.events.rss.append((now, kb))
            next_rss += 1.0
        if now >= next_ping:
            client.ping()
            next_ping += PING_EVERY_S
        if now >= next_target:
            if target_on:
                client.clear()
                target_on = False
                next_target += TARGET_EVERY_S
            elif client.set_on_recent_frame():
                target_on = True
                next_target += TARGET_EVERY_S
            else:
                next_target += 0.5  # no frame with the target in view yet: try again shortly
        if now >= next_restart:
            camera = cameras[-1]
            camera.send_signal(signal.SIGINT)
            try:
                camera.wait(10)
            except subprocess.TimeoutExpired:
                camera.kill()
            cameras.append(subprocess.Popen(camera_command, env=env, stdout=subprocess.DEVNULL,
                                            stdin=subprocess.DEVNULL))
            client.events.restarts.append(now)
            next_restart += restart_every
        if not client.alive():
            raise NodeDied("this process's ROS executor stopped")
        client.visitor((now % SUBSCRIBER_EVERY_S) >= SUBSCRIBER_EVERY_S - SUBSCRIBER_FOR_S)
        while printed < len(periods) and now >= periods[printed].end_s + 2.0:
            rows.append(_emit(periods[printed], client.events))
            printed += 1
        time.sleep(0.05)
    time.sleep(2.0)
    for period in periods[printed:]:
        rows.append(_emit(period, client.events))
    return rows


def _emit(period, events: _Events) -> ChurnRow:
    row = _row(period.label, period.start_s, period.end_s, events)
    print(format_churn_row(row), flush=True)
    return row
