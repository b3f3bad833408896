"""`attsiammask bench --node`: the tracker node's end-to-end latency next to the raw ``track()`` latency.

Same model, same 640x480 frames (the demo clip), same run, same torch thread count: the installed
``tracker_node`` as a child process (localhost DDS, shared-memory Fast DDS profile as in the demo), fed
(1) one frame at a time, each frame first tracked by ``track()`` in this process, then published and its
detection awaited: latency publish -> detection receipt, whose p50 minus the local track() p50 is the node's
overhead (goal: at most 10% + 3 ms); (2) a stream faster
than the tracker (60 Hz by default) for a few seconds: processed fps and dropped frames (the node keeps only the
newest image). ``tracking.lost_threshold:=0`` so every frame yields a detection even with random weights.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from attsiammask_core.eval.metrics import percentile

__all__ = ["run", "overhead_budget_ms"]

WARMUP = 3


def overhead_budget_ms(track_p50_ms: float) -> float:
    """The goal for node p50 - track p50: 10% of track() plus 3 ms."""
    return 0.10 * track_p50_ms + 3.0


def _weights(args: argparse.Namespace, folder: Path) -> tuple[str, str]:
    """(path, description): --weights, else the embedded lite file, else random lite weights (timing only)."""
    from attsiammask_core.weights import embedded_weights_path

    if args.weights:
        return str(Path(args.weights).resolve()), args.weights
    embedded = embedded_weights_path("lite")
    if embedded is not None and Path(embedded).is_file():
        return str(embedded), "embedded"
    import torch

    from attsiammask_core.models import build_model
    from attsiammask_core.weights import save_weights

    torch.manual_seed(0)
    path = folder / "lite_random.pt"
    save_weights(build_model("lite"), path, {"variant": "lite"})
    return str(path), "random (timing only; the embedded file is not there yet)"


def _frames(count: int, size_wh: tuple[int, int]) -> tuple[list[np.ndarray], tuple[float, float, float, float]]:
    import cv2

    from attsiammask_ros.demo.clip import FRAME_SIZE, make_clip

    clip = make_clip(frames=max(count, 2))
    box = tuple(float(v) for v in clip.boxes[0])
    if tuple(size_wh) == FRAME_SIZE:
        return clip.frames, box
    sx, sy = size_wh[0] / FRAME_SIZE[0], size_wh[1] / FRAME_SIZE[1]
    frames = [cv2.resize(f, tuple(size_wh), interpolation=cv2.INTER_AREA) for f in clip.frames]
    return frames, (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def _local_tracker(weights: str, device: str, first_frame: np.ndarray, box):
    from attsiammask_core.tracker import Tracker

    tracker = Tracker.create(variant="lite", weights=weights, device=device)
    tracker.config = dataclasses.replace(tracker.config, lost_threshold=0.0)
    tracker.init(first_frame, box)
    return tracker


def _lock_step_ms(session, tracker, frames: list[np.ndarray], timeout: float) -> tuple[list[float], list[float]]:
    """For each frame 1..n-1: ``track()`` here, then publish it to the node and wait for its detection.

    Taking turns on every frame makes machine load hit both measures alike; the node is idle while the local
    tracker runs and vice versa. Returns (local track() ms, node publish -> detection ms), warm-up dropped.
    """
    local, latencies = [], []
    for index in range(1, len(frames)):
        t0 = time.perf_counter()
        tracker.track(frames[index])
        local.append((time.perf_counter() - t0) * 1000.0)
        stamp = session.player.publish_frame(index)
        deadline = time.monotonic() + timeout
        while not session.client.has_result(stamp) and time.monotonic() < deadline:
            session.check_node()
            time.sleep(0.0005)
        result = session.client.result(stamp)
        if result is not None and result.receipt_ns is not None:
            latencies.append((result.receipt_ns - stamp) / 1e6)
    return local[WARMUP:], latencies[WARMUP:]


def _stream(session, count: int, rate: float, seconds: float) -> dict[str, float]:
    """Publish frames cyclically at ``rate`` for ``seconds``; published, processed, dropped, fps, latencies."""
    period = 1.0 / rate
    stamps = []
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < seconds:
        delay = t0 + k * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        session.check_node()
        stamps.append(session.player.publish_frame(1 + k % (count - 1)))
        k += 1
    session.wait_results(stamps, quiet_s=0.5, timeout=5.0)
    received = [session.client.result(s) for s in stamps]
    done = [(s, r.receipt_ns) for s, r in zip(stamps, received, strict=True) if r is not None and r.receipt_ns]
    latencies = [(t - s) / 1e6 for s, t in done]
    span = (done[-1][1] - done[0][1]) / 1e9 if len(done) > 1 else float("nan")
    return {"published": len(stamps), "processed": len(done), "dropped": len(stamps) - len(done),
            "fps": (len(done) - 1) / span if len(done) > 1 and span > 0 else float("nan"),
            "publish_fps": len(stamps) / seconds, "latencies": latencies}


def run(args: argparse.Namespace) -> int:
    """Run the benchmark with the `bench` command's arguments (--frames, --weights, --width, --height, --rate,
    --seconds, --device, --domain-id); 0 when it ran, 1 when the node failed."""
    import torch

    from attsiammask_ros.demo.node_process import (
        localhost_environment,
        tracker_node_command,
        use_shared_memory_profile,
    )
    from attsiammask_ros.demo.session import Session, SessionError
    from attsiammask_ros.tracker_setup import inference_threads

    torch.set_num_threads(inference_threads())   # track() here runs with the node's thread count
    count = max(int(args.frames), WARMUP + 2) + 1
    size = (int(args.width), int(args.height))
    with tempfile.TemporaryDirectory(prefix="attsiammask_bench_node_") as tmp:
        folder = Path(tmp)
        use_shared_memory_profile(folder)
        env = localhost_environment(args.domain_id)
        weights, weights_text = _weights(args, folder)
        frames, box = _frames(count, size)
        count = len(frames)
        from attsiammask_ros.demo.clip import Clip

        clip = Clip("bench", frames, np.vstack([box, np.full((count - 1, 4), np.nan)]), fps=args.rate)
        parameters = {"model.variant": "lite", "model.weights": weights, "model.device": args.device,
                      "tracking.lost_threshold": "0.0"}
        print(f"attsiammask bench --node: lite, weights {weights_text}, device {args.device}, {size[0]}x{size[1]}, "
              f"{count - 1} frames one at a time ({WARMUP} warm-up), then a {args.rate:g} Hz stream for "
              f"{args.seconds:g} s; torch threads {torch.get_num_threads()} (the node's: cores - 1, here and there); "
              f"ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, localhost, Fast DDS shared memory",
              flush=True)
        session = Session(clip, tracker_node_command(parameters), folder / "tracker_node.log", env, keep_masks=False)
        try:
            with session:
                session.wait_ready(args.startup_timeout)
                tracker = _local_tracker(weights, args.device, frames[0], box)
                session.init_target(0, box)
                raw, lock_step = _lock_step_ms(session, tracker, frames, timeout=5.0)
                diagnostics = session.wait_diagnostics(time.time_ns())   # covers the one-at-a-time frames only
                session.init_target(0, box)
                stream = _stream(session, count, args.rate, args.seconds)
        except SessionError as exc:
            print(f"bench --node: FAILED: {exc}")
            return 1
    if not lock_step:
        print("bench --node: FAILED: no detection came back from the node")
        return 1
    raw_p50, node_p50 = percentile(raw, 50), percentile(lock_step, 50)
    print(f"{'measure':<44}{'p50 ms':>9}{'p95 ms':>9}{'fps':>8}")
    print(f"{'track() in this process':<44}{raw_p50:>9.1f}{percentile(raw, 95):>9.1f}{1000.0 / np.mean(raw):>8.1f}")
    node_track = diagnostics.get("track p50 ms", "nan")
    print(f"{'track() inside the node, one at a time':<44}{float(node_track):>9.1f}{'':>9}{'':>8}")
    node_internal = diagnostics.get("latency p50 ms", "nan")
    print(f"{'node: image callback -> published, same':<44}{float(node_internal):>9.1f}{'':>9}{'':>8}")
    print(f"{'node: publish -> detection, one at a time':<44}{node_p50:>9.1f}{percentile(lock_step, 95):>9.1f}{'':>8}")
    print(f"{f'node: publish -> detection, {args.rate:g} Hz stream':<44}{percentile(stream['latencies'], 50):>9.1f}"
          f"{percentile(stream['latencies'], 95):>9.1f}{stream['fps']:>8.1f}")
    print(f"stream: published {stream['published']} ({stream['publish_fps']:.1f} fps), processed {stream['processed']}"
          f", dropped {stream['dropped']} (the node keeps only the newest image)")
    overhead, budget = node_p50 - raw_p50, overhead_budget_ms(raw_p50)
    verdict = "within" if overhead <= budget else "NOT within"
    print(f"node overhead (one at a time p50 - track() p50): {overhead:+.1f} ms; goal 10% + 3 ms = {budget:.1f} ms: "
          f"{verdict}")
    return 0
