"""`attsiammask track`: follow one object through a video, a folder of frames or a rosbag2 from an initial box.

Writes OUT/results.jsonl (one JSON object per frame: frame, box [x, y, w, h], polygon [[x, y] x 4], score,
state; frame 0 is the given box with state "init") and optionally an annotated video (mp4v).

With --bag IN --topic T (raw or compressed images; sqlite3 or MCAP): the box applies to the frame stamped --stamp
(default: the first), and OUT/bag is a new bag of the same storage with the input images plus the node's topics
(detection, mask, confidence, under --namespace) for every image, stamped like the node's (the image's header and
log time); records also carry the image's stamp, and images before the start are "idle".
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from attsiammask_core import stamps
from attsiammask_core.commands.arguments import positive_int
from attsiammask_core.config import preset_names
from attsiammask_core.track_state import TrackState
from attsiammask_core.tracker import Tracker, TrackResult

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

EXAMPLE = """example:
  attsiammask track --frames data/sequences/Crossing/img --box 205,151,17,50 --out outputs/track_crossing \\
      --annotated-video outputs/track_crossing/annotated.mp4
"""


def parse_box(text: str) -> tuple[float, float, float, float]:
    """"x,y,w,h" -> four floats (argparse type)."""
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"box must be x,y,w,h (four numbers), got {text!r}")
    return values  # type: ignore[return-value]


def frame_files(folder: Path) -> list[Path]:
    """Image files of a folder in name order; ValueError when there are none."""
    if not folder.is_dir():
        raise FileNotFoundError(f"frames folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def read_folder(files: list[Path]) -> Iterator[np.ndarray]:
    """BGR frames of image files; ValueError on an unreadable file."""
    for path in files:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError(f"cannot read image {path}")
        yield frame


def open_video(path: Path) -> cv2.VideoCapture:
    """An opened cv2.VideoCapture; FileNotFoundError/ValueError when it cannot be read."""
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open video {path}")
    return capture


def read_video(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """Frames of an opened capture until it ends (released afterwards)."""
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def _create_tracker(args: argparse.Namespace) -> Tracker:
    """The tracker of the command line; attention as the weights choose unless --attention / --no-attention."""
    attention = True if args.attention else False if args.no_attention else None
    return Tracker.create(variant=args.variant, weights=args.weights, device=args.device, attention=attention,
                          config=args.preset, random_init=args.random_init, backend=args.backend)


def result_record(index: int, result: TrackResult) -> dict[str, object]:
    """The JSON-ready record of one tracked frame."""
    return {"frame": index, "box": [round(v, 3) for v in result.box],
            "polygon": np.round(result.polygon, 3).tolist(), "score": round(float(result.score), 5),
            "state": result.state}


def init_record(box: tuple[float, float, float, float]) -> dict[str, object]:
    """The record of the initial frame: the given box as it is."""
    x, y, w, h = box
    return {"frame": 0, "box": [x, y, w, h], "polygon": [[x, y], [x + w, y], [x + w, y + h], [x, y + h]],
            "score": 1.0, "state": "init"}


def annotate(frame: np.ndarray, record: dict[str, object], mask: np.ndarray | None) -> np.ndarray:
    """A copy of the frame with the mask tinted, the polygon (green; red when lost), box and score drawn."""
    out = frame.copy()
    if mask is not None and mask.any():
        out[mask] = (0.6 * out[mask] + 0.4 * np.array([0, 200, 0])).astype(np.uint8)
    lost = record["state"] == TrackState.LOST
    colour = (0, 0, 255) if lost else (0, 255, 0)
    polygon = np.rint(np.asarray(record["polygon"], dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(out, [polygon], True, colour, 2)
    x, y, w, h = (int(round(v)) for v in record["box"])  # type: ignore[union-attr]
    cv2.rectangle(out, (x, y), (x + w, y + h), (255, 128, 0), 1)
    label = f"{record['frame']} {record['state']} {float(record['score']):.2f}"  # type: ignore[arg-type]
    cv2.putText(out, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
    return out


def _source(args: argparse.Namespace) -> tuple[Iterator[np.ndarray], int | None, float]:
    """Frame iterator, frame count if known, and frame rate for the annotated video."""
    if args.video is not None:
        capture = open_video(args.video)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        return read_video(capture), count, fps
    files = frame_files(args.frames)
    return read_folder(files), len(files), 30.0


def parse_stamp(text: str) -> int:
    """"SEC.NSEC" -> nanoseconds (argparse type)."""
    try:
        return stamps.parse_stamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bag_targets(args: argparse.Namespace) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(id, box) per --box: ids from --id in the same order, else one id (one box) or target1, target2, ..."""
    from attsiammask_core.session import check_target_id
    from attsiammask_core.session.targets import new_track_id

    ids = args.id or []
    if ids and len(ids) != len(args.box):
        raise ValueError(f"give one --id per --box ({len(args.box)} box(es), {len(ids)} id(s))")
    ids = [check_target_id(i) for i in ids] or ([new_track_id()] if len(args.box) == 1
                                                 else [f"target{k}" for k in range(1, len(args.box) + 1)])
    if not all(ids) or len(set(ids)) != len(ids):
        raise ValueError(f"target ids must be distinct and not empty, got {', '.join(map(repr, ids))}")
    return list(zip(ids, args.box, strict=True))


def run_bag(args: argparse.Namespace) -> int:
    """Track through the images of one topic of a bag; write results.jsonl and a new bag with the node's topics."""
    from tqdm import tqdm

    from attsiammask_core.bag import BagError, ImageBag, OutputBag
    from attsiammask_core.session import TrackingSession

    if not args.topic:
        print("attsiammask track: error: --bag needs --topic (the image topic)", file=sys.stderr)
        return 2
    bag = out = None
    started = done = 0
    try:
        targets = _bag_targets(args)
        bag = ImageBag(args.bag, args.topic)
        session: TrackingSession = TrackingSession(_create_tracker(args), max_targets=len(targets))
        args.out.mkdir(parents=True, exist_ok=True)
        mcap = any(args.bag.glob("*.mcap")) if args.bag.is_dir() else args.bag.suffix == ".mcap"
        out = OutputBag(args.out / "bag", args.topic, bag.msgtype, args.namespace, bag.store, mcap, len(targets) > 1)
        several = len(targets) > 1
        with (args.out / "results.jsonl").open("w", encoding="utf-8") as stream:
            for image in tqdm(bag.images(), total=bag.count, unit="frame", desc="track"):
                if args.max_frames is not None and started >= args.max_frames:
                    break
                stamp = stamps.stamp_to_ns(image.header.stamp)
                result = None
                if not started and args.stamp is not None and stamp != args.stamp:
                    records: list[dict[str, object]] = [{"frame": image.index, "state": TrackState.IDLE}]
                elif not started:
                    for track_id, box in targets:
                        session.set_target(image.frame, box, stamp, track_id)
                    records = [{**init_record(box), "frame": image.index, "id": i} for i, box in targets]
                    started = 1
                else:
                    result = session.step(image.frame, stamp)
                    records = [{**result_record(image.index, t.result), "id": t.track_id} for t in result.targets]
                    started += 1
                out.write(image, result)
                for record in records if several else records[:1]:
                    stream.write(json.dumps({**record, "stamp": stamps.format_stamp(stamp)}) + "\n")
                done += 1
        if not started:
            where = f" is stamped {stamps.format_stamp(args.stamp)}" if args.stamp is not None else ""
            raise BagError(f"no image on {args.topic}{where}" if where else f"{args.bag}: no image on {args.topic}")
    except (ValueError, OSError) as err:  # BagError, SessionError and WeightsError are ValueErrors
        print(f"attsiammask track: error: {err}", file=sys.stderr)
        return 2
    finally:
        if out is not None:
            out.close()
        if bag is not None:
            bag.close()
    print(f"results: {args.out / 'results.jsonl'}  bag: {args.out / 'bag'} ({done} images, {started} tracked)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Track, write results.jsonl and the optional annotated video; 2 on a user error."""
    from tqdm import tqdm

    if args.bag is not None:
        return run_bag(args)
    if len(args.box) > 1 or args.id:
        print("attsiammask track: error: several --box (and --id) need --bag; a video or frames take one --box",
              file=sys.stderr)
        return 2
    args.box = args.box[0]

    writer = None
    try:
        frames, count, fps = _source(args)
        if args.max_frames is not None:
            count = min(count, args.max_frames) if count else args.max_frames
        tracker = _create_tracker(args)
        args.out.mkdir(parents=True, exist_ok=True)
        results = args.out / "results.jsonl"
        written = 0
        with results.open("w", encoding="utf-8") as stream:
            for index, frame in enumerate(tqdm(frames, total=count, unit="frame", desc="track")):
                if args.max_frames is not None and index >= args.max_frames:
                    break
                if index == 0:
                    tracker.init(frame, args.box)
                    record, mask = init_record(args.box), None
                else:
                    result = tracker.track(frame)
                    record, mask = result_record(index, result), result.mask
                stream.write(json.dumps(record) + "\n")
                written += 1
                if args.annotated_video is not None:
                    if writer is None:
                        writer = _open_writer(args.annotated_video, fps, frame.shape[:2])
                    writer.write(annotate(frame, record, mask))
        if written == 0:
            raise ValueError("the source has no frames")
    except (ValueError, OSError) as err:  # WeightsError is a ValueError
        print(f"attsiammask track: error: {err}", file=sys.stderr)
        return 2
    finally:
        if writer is not None:
            writer.release()
    print(f"results: {results}" + (f"  video: {args.annotated_video}" if args.annotated_video else ""))
    return 0


def _open_writer(path: Path, fps: float, frame_hw: tuple[int, int]) -> cv2.VideoWriter:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (frame_hw[1], frame_hw[0]))
    if not writer.isOpened():
        raise OSError(f"cannot write video {path}")
    return writer


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `track` subcommand."""
    parser = subparsers.add_parser("track", help="track one object through a video or a folder of frames",
                                   description=__doc__, epilog=EXAMPLE,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", type=Path, help="input video file")
    source.add_argument("--frames", type=Path, help="folder of frames (image files, name order)")
    source.add_argument("--bag", type=Path, help="rosbag2 folder (sqlite3 or MCAP) with an image topic")
    parser.add_argument("--topic", help="--bag: image topic (sensor_msgs/Image or CompressedImage)")
    parser.add_argument("--stamp", type=parse_stamp, help="--bag: start on the image stamped SEC.NSEC (default: "
                        "the first image)")
    parser.add_argument("--namespace", default="", help="--bag: namespace of the written detection, mask and "
                        "confidence topics (default: none, as the node's defaults)")
    parser.add_argument("--box", required=True, type=parse_box, action="append",
                        help="initial box x,y,w,h (0-based, top-left); with --bag repeatable, one per target")
    parser.add_argument("--id", action="append", help="--bag: the id of each --box's target, in order (default: a "
                        "new id for one box, target1, target2, ... for several)")
    parser.add_argument("--variant", default="lite", help="model variant (default lite, the embedded model)")
    parser.add_argument("--weights", type=Path, help="official SiamMask .pth or our .pt")
    parser.add_argument("--random-init", action="store_true", help="random weights (smoke tests only)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime"),
                        help="inference backend (default auto: onnxruntime on a CPU when installed)")
    attention = parser.add_mutually_exclusive_group()
    attention.add_argument("--attention", action="store_true", help="the attention step on")
    attention.add_argument("--no-attention", action="store_true", help="plain SiamMask (no attention step)")
    parser.add_argument("--preset", default=None, choices=preset_names(),
                        help="tracker hyperparameters (default: those stored with the weights, else the variant's)")
    parser.add_argument("--max-frames", type=positive_int, help="stop after this many frames")
    parser.add_argument("--out", required=True, type=Path, help="output folder (results.jsonl)")
    parser.add_argument("--annotated-video", type=Path, help="also write an annotated video here (mp4v)")
    parser.set_defaults(func=run)
