"""`make demo`: the whole ROS pipeline on a clip, over localhost DDS, with a report against the ground truth.

The installed ``tracker_node`` runs as a child process (as ``ros2 run`` would start it); a player node publishes
the clip as ``sensor_msgs/Image`` at its frame rate; a client calls ``set_target`` with the first frame's box
and stamp, then records every detection, mask and confidence. Writes OUT/results.jsonl (one line per frame),
OUT/summary.json, OUT/demo.mp4 (ground truth green, prediction orange/red, mask tinted) and OUT/tracker_node.log,
and prints the summary. Exit code 0 on success; 1 when the node died, set_target failed or nothing was detected;
2 on bad arguments.

    python -m attsiammask_ros.demo.run                          # the embedded clip, embedded lite model
    python -m attsiammask_ros.demo.run --video F.mp4 --box x,y,w,h --weights W.pt
    python -m attsiammask_ros.demo.run --seq data/sequences/Crossing
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from attsiammask_core.eval.metrics import percentile
from attsiammask_ros.demo.clip import Clip, clip_from_sequence, clip_from_video, make_clip

__all__ = ["main", "build_parser", "frame_records", "summarise", "format_summary", "write_video"]

DEFAULT_OUT = Path("outputs/demo")
IOU_QUANTILES = (10, 25, 50, 75, 90)


def _box(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values) or values[2] <= 0 or values[3] <= 0:
        raise argparse.ArgumentTypeError(f"box must be x,y,w,h (four numbers, w and h > 0), got {text!r}")
    return values  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m attsiammask_ros.demo.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", type=Path, help="video file to track in (needs --box)")
    source.add_argument("--seq", type=Path, help="sequence folder (img/, groundtruth.txt), e.g. data/sequences/Biker")
    parser.add_argument("--box", type=_box, help="x,y,w,h of the target on the video's first frame")
    parser.add_argument("--weights", default="", help="model weights (default: the variant's embedded weights)")
    parser.add_argument("--variant", default="lite", choices=("lite", "lfc", "r50"),
                        help="model (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    parser.add_argument("--fps", type=float, default=None, help="playback rate (default: the clip's)")
    parser.add_argument("--max-frames", type=int, default=None, help="play only the first N frames")
    parser.add_argument("--node-param", action="append", default=[], metavar="NAME:=VALUE",
                        help="further tracker_node parameter (repeatable), e.g. tracking.lost_threshold:=0.2")
    parser.add_argument("--reliable", action="store_true",
                        help="publish images reliably and start the node with input.reliability:=reliable "
                             "(default: best effort, the sensor-data profile cameras use)")
    parser.add_argument("--dds-defaults", action="store_true",
                        help="keep Fast DDS's default transports (they lose most best-effort 640x480 images here); "
                             "default: shared memory only, 16 MB segments (see node_process.SHM_PROFILE_XML)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--no-video", action="store_true", help="do not write the annotated video")
    parser.add_argument("--domain-id", type=int, default=None,
                        help="ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID, else 74); discovery stays on localhost")
    parser.add_argument("--startup-timeout", type=float, default=120.0,
                        help="seconds to wait for the node to serve set_target (default: %(default)s)")
    return parser


def load_clip(args: argparse.Namespace) -> Clip:
    if args.video is not None:
        if args.box is None:
            raise ValueError("--video needs --box x,y,w,h (the target on the first frame)")
        return clip_from_video(args.video, args.box, fps=args.fps, max_frames=args.max_frames)
    if args.seq is not None:
        clip = clip_from_sequence(args.seq, max_frames=args.max_frames)
        if args.box is not None:
            clip.boxes[0] = args.box
    else:
        clip = make_clip()
        if args.max_frames:
            clip = clip.head(args.max_frames)
    return clip


# ---- results -------------------------------------------------------------------------------------------------
def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    from attsiammask_core.eval.metrics import iou_xywh

    return float(iou_xywh(np.asarray([a], dtype=np.float64), np.asarray([b], dtype=np.float64))[0])


def _round(values: Sequence[float] | None, digits: int = 2) -> list[float] | None:
    return None if values is None else [round(float(v), digits) for v in values]


def frame_records(clip: Clip, published: Sequence[tuple[int, int]], client: Any, init_stamp_ns: int
                  ) -> list[dict[str, Any]]:
    """One record per published frame: frame, stamp, gt, pred, iou, confidence, state, latency_ms.

    state: ``init`` (frame 0: the box given to set_target), ``tracking`` (a detection arrived), ``lost`` (a mask
    but no detection: the node is searching; IoU 0), ``dropped`` (the node never processed it).
    """
    records = []
    for index, stamp in published:
        gt = clip.boxes[index]
        gt_box = gt.tolist() if np.all(np.isfinite(gt)) else None
        received = client.result(stamp)
        pred = confidence = latency = None
        if stamp == init_stamp_ns:
            state, pred, confidence = "init", list(clip.boxes[index]), 1.0
        elif received is None or received.receipt_ns is None:
            state = "dropped"
        else:
            state = "tracking" if received.box is not None else "lost"
            pred = list(received.box) if received.box is not None else None
            confidence = received.score if received.score is not None else client.confidence_near(received.mask_ns)
            latency = (received.receipt_ns - stamp) / 1e6
        iou = None
        if gt_box is not None and state in ("tracking", "lost"):
            iou = _iou(pred, gt_box) if pred is not None else 0.0
        records.append({"frame": index, "stamp": f"{stamp // 1_000_000_000}.{stamp % 1_000_000_000:09d}",
                        "stamp_ns": stamp, "gt": _round(gt_box), "pred": _round(pred), "iou": iou if iou is None
                        else round(iou, 4), "confidence": None if confidence is None else round(float(confidence), 4),
                        "state": state, "latency_ms": None if latency is None else round(latency, 2)})
    return records


def summarise(records: Sequence[dict[str, Any]], clip: Clip, client: Any, diagnostics: dict[str, str],
              play_seconds: float) -> dict[str, Any]:
    """The numbers the demo prints (and writes to summary.json)."""
    after_init = [r for r in records if r["state"] != "init"]
    processed = [r for r in after_init if r["state"] in ("tracking", "lost")]
    ious = [r["iou"] for r in processed if r["iou"] is not None]
    latencies = [r["latency_ms"] for r in processed]
    receipts = sorted(client.result(r["stamp_ns"]).receipt_ns for r in processed)
    span = (receipts[-1] - receipts[0]) / 1e9 if len(receipts) > 1 else float("nan")
    held, last = [], None      # IoU of the last published box on every frame (what a consumer holds)
    for r in records:
        if r["pred"] is not None:
            last = r["pred"]
        if r["state"] != "init" and r["gt"] is not None:
            held.append(_iou(last, r["gt"]) if last is not None else 0.0)
    return {
        "clip": clip.name, "frames": len(clip), "size": [int(clip.frames[0].shape[1]), int(clip.frames[0].shape[0])],
        "clip_fps": clip.fps, "published": len(records), "processed": len(processed),
        "tracking": sum(r["state"] == "tracking" for r in processed),
        "lost": sum(r["state"] == "lost" for r in processed),
        "dropped": sum(r["state"] == "dropped" for r in after_init),
        "mean_iou": float(np.mean(ious)) if ious else None, "iou_frames": len(ious),
        "iou_quantiles": {f"p{q}": percentile(ious, q) for q in IOU_QUANTILES} if ious else None,
        "mean_iou_holding_last_box": float(np.mean(held)) if held else None,
        "processed_fps": (len(receipts) - 1) / span if len(receipts) > 1 and span > 0 else None,
        "publish_fps": (len(records) - 2) / play_seconds if play_seconds > 0 and len(records) > 2 else None,
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "max": max(latencies)}
        if latencies else None,
        "node": {k: diagnostics[k] for k in ("received frames", "processed frames", "dropped frames", "track p50 ms",
                                             "model variant", "device", "attention") if k in diagnostics},
    }


def format_summary(s: dict[str, Any], model: str) -> str:
    lines = [f"attsiammask demo: clip {s['clip']} ({s['frames']} frames {s['size'][0]}x{s['size'][1]} at "
             f"{s['clip_fps']:g} fps), {model}"]
    node = s["node"]
    node_text = (f" (node: received {node['received frames']}, processed {node['processed frames']}, replaced "
                 f"before processing {node['dropped frames']})" if "received frames" in node else "")
    lines.append(f"frames: published {s['published']}, processed {s['processed']} (tracking {s['tracking']}, lost "
                 f"{s['lost']}), dropped {s['dropped']}{node_text}")
    if s["mean_iou"] is not None:
        q = s["iou_quantiles"]
        lines.append(f"IoU vs ground truth over {s['iou_frames']} processed frames: mean {s['mean_iou']:.3f}; "
                     + " ".join(f"{k} {v:.3f}" for k, v in q.items())
                     + f"; over every published frame, holding the last detection where a frame was not "
                       f"processed: {s['mean_iou_holding_last_box']:.3f}")
    else:
        lines.append("IoU: no ground truth after the first frame (video input)")
    fps = s["processed_fps"]
    line = f"processed fps: {fps:.1f}" if fps else "processed fps: n/a"
    if s["publish_fps"]:
        line += f" (published at {s['publish_fps']:.1f} fps)"
    lines.append(line)
    lat = s["latency_ms"]
    track = f"; track() in the node p50 {node['track p50 ms']} ms" if "track p50 ms" in node else ""
    lines.append(f"end-to-end latency publish -> detection: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms"
                 f"{track}" if lat else "end-to-end latency: no result received")
    return "\n".join(lines)


def write_video(path: Path, clip: Clip, records: Sequence[dict[str, Any]], client: Any) -> bool:
    """The annotated video (mp4v): gt box green, prediction orange (red when lost), mask tinted, a status line."""
    height, width = clip.frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), clip.fps, (width, height))
    if not writer.isOpened():
        return False
    last = None
    try:
        for r in records:
            frame = clip.frames[r["frame"]].copy()
            received = client.result(r["stamp_ns"])
            if received is not None and received.mask is not None and received.mask.shape == frame.shape[:2]:
                mask = received.mask
                frame[mask] = (0.55 * frame[mask] + 0.45 * np.array([255, 120, 0])).astype(np.uint8)
            if r["gt"] is not None:
                x, y, w, h = (int(round(v)) for v in r["gt"])
                cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 220, 0), 2)
            if r["pred"] is not None:
                last = r["pred"]
            if last is not None:
                colour = {"tracking": (0, 140, 255), "init": (0, 140, 255), "lost": (0, 0, 255)}.get(r["state"],
                                                                                                     (160, 160, 160))
                x, y, w, h = (int(round(v)) for v in last)
                cv2.rectangle(frame, (x, y), (x + w, y + h), colour, 2)
            text = f"#{r['frame']} {r['state']}"
            if r["iou"] is not None:
                text += f" IoU {r['iou']:.2f}"
            if r["confidence"] is not None:
                text += f" conf {r['confidence']:.2f}"
            if r["latency_ms"] is not None:
                text += f" {r['latency_ms']:.0f} ms"
            # a dark band behind white text (OpenCV 5 draws thicker text wider, so a thick black copy as an outline
            # would stick out past the white one)
            (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1)
            cv2.rectangle(frame, (4, 22 - height - 4), (12 + width, 22 + baseline + 2), (0, 0, 0), cv2.FILLED)
            cv2.putText(frame, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
            writer.write(frame)
    finally:
        writer.release()
    return True


# ---- main ----------------------------------------------------------------------------------------------------
def _node_parameters(args: argparse.Namespace) -> dict[str, str]:
    parameters = {"model.variant": args.variant, "model.device": args.device}
    if args.reliable:
        parameters["input.reliability"] = "reliable"
    if args.weights:
        parameters["model.weights"] = str(Path(args.weights).resolve())
    return parameters


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from attsiammask_ros.demo.node_process import localhost_environment, tracker_node_command, use_shared_memory_profile
    from attsiammask_ros.demo.session import Session, SessionError

    out = args.out
    try:
        profile = None if args.dds_defaults else use_shared_memory_profile(out)
        env = localhost_environment(args.domain_id)
        if args.weights and not Path(args.weights).is_file():
            raise FileNotFoundError(f"weights file not found: {args.weights}")
        command = tracker_node_command(_node_parameters(args), args.node_param)
        clip = load_clip(args)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    model = f"model {args.variant} ({'weights ' + args.weights if args.weights else 'embedded weights'}), " \
            f"device {args.device}"
    print(f"demo: {clip.name}: {len(clip)} frames at {clip.fps:g} fps; starting tracker_node ({model}; "
          f"ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, discovery LOCALHOST"
          f"{', Fast DDS shared memory only' if profile else ''}; log {out / 'tracker_node.log'})", flush=True)
    session = Session(clip, command, out / "tracker_node.log", env, reliable=args.reliable)
    error = None
    try:
        with session:
            ready_s = session.wait_ready(args.startup_timeout)
            init_stamp, track_id, message = session.init_target(0)
            print(f"demo: node ready after {ready_s:.1f} s; set_target: {message}", flush=True)
            start = time.monotonic()
            session.player.play(start=1, fps=args.fps or clip.fps, keep_going=session.node.alive)
            play_seconds = time.monotonic() - start
            session.check_node()
            stamps = [stamp for _, stamp in session.player.published]
            session.wait_results(stamps)
            diagnostics = session.wait_diagnostics(time.time_ns())
            session.check_node()
    except SessionError as exc:
        error = str(exc)
    except KeyboardInterrupt:
        print("demo: interrupted; everything stopped", file=sys.stderr)
        return 130
    if error is None and session.node_exit_code not in (0, None):
        error = f"the tracker node did not shut down cleanly (exit code {session.node_exit_code}); see its log"
    if error is not None:
        print(f"demo: FAILED: {error}", file=sys.stderr)
        return 1
    records = frame_records(clip, session.player.published, session.client, init_stamp)
    summary = summarise(records, clip, session.client, diagnostics, play_seconds)
    summary.update(track_id=track_id, model=model)
    with open(out / "results.jsonl", "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    with open(out / "summary.json", "w") as f:
        json.dump(summary, f, indent=2)
    written = [out / "results.jsonl", out / "summary.json", out / "tracker_node.log"]
    if not args.no_video:
        if write_video(out / "demo.mp4", clip, records, session.client):
            written.insert(0, out / "demo.mp4")
        else:
            print("demo: OpenCV cannot write mp4 here: no annotated video", file=sys.stderr)
    print(format_summary(summary, model))
    print("outputs: " + ", ".join(str(p) for p in written))
    if summary["tracking"] == 0:
        print("demo: FAILED: no detection was received (the node processed "
              f"{summary['processed']} frames, all lost)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
