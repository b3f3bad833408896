"""The README's picture of tracking, from `make demo`'s output: three frames side by side, each with the node's box,
the outline of its mask and its confidence drawn on the clip's own frames.

    python tools/docs/make_picture.py                       # outputs/demo -> docs/images/tracking.jpg
    python tools/docs/make_picture.py --demo outputs/demo_seq --seq data/sequences/Biker --out /tmp/biker.jpg

Boxes, confidences and states come from OUT/results.jsonl. results.jsonl holds no masks, so the mask is read back
from OUT/demo.mp4, where the demo tinted the node's mask: a pixel belongs to it when its decoded colour is nearer the
tinted colour of the clean frame than the clean colour (clean frames: the embedded clip, rebuilt exactly, or --seq).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

# The tint attsiammask_ros/demo/run.py's write_video gives the mask: 0.55 frame + 0.45 this colour (BGR).
TINT_BGR = np.array([255.0, 120.0, 0.0])
TINT_WEIGHT = 0.45
BOX_BGR = (0, 140, 255)
OUTLINE_BGR = (255, 255, 0)
MAX_BYTES = 300_000


def read_records(path: Path) -> list[dict]:
    """One dict per line of results.jsonl."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_video(path: Path) -> list[np.ndarray]:
    """Every frame of the annotated demo video (BGR)."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def recover_mask(annotated: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """The pixels the demo tinted: nearer to the tinted clean colour than to the clean colour; thin drawings removed."""
    clean_f = clean.astype(np.float32)
    tinted = (1.0 - TINT_WEIGHT) * clean_f + TINT_WEIGHT * TINT_BGR
    seen = annotated.astype(np.float32)
    nearer_tint = np.abs(seen - tinted).sum(axis=2) + 12.0 < np.abs(seen - clean_f).sum(axis=2)
    kernel = np.ones((5, 5), np.uint8)
    mask = cv2.morphologyEx(nearer_tint.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel).astype(bool)


def draw(clean: np.ndarray, record: dict, mask: np.ndarray) -> np.ndarray:
    """The clean frame with the mask outline, the predicted box and a label with the confidence."""
    frame = clean.copy()
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contours = [c for c in contours if cv2.contourArea(c) >= 50.0]
    cv2.drawContours(frame, contours, -1, OUTLINE_BGR, 2, cv2.LINE_AA)
    if record.get("pred") is not None:
        x, y, w, h = (int(round(v)) for v in record["pred"])
        cv2.rectangle(frame, (x, y), (x + w, y + h), BOX_BGR, 2)
    label = f"frame {record['frame']}  {record['state']}  confidence {record['confidence']:.2f}"
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2)
    cv2.rectangle(frame, (0, 0), (tw + 16, th + base + 14), (0, 0, 0), cv2.FILLED)
    cv2.putText(frame, label, (8, th + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    return frame


def clean_frames(demo: Path, seq: Path | None, count: int) -> list[np.ndarray]:
    """The frames the demo published: the embedded clip (rebuilt) or the sequence folder's images."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from attsiammask_ros.demo.clip import clip_from_sequence, make_clip

    summary = json.loads((demo / "summary.json").read_text())
    if seq is None:
        if summary.get("clip") != "embedded":
            raise SystemExit(f"make_picture: {demo} is a demo on {summary.get('clip')!r}: pass its folder as --seq")
        clip = make_clip()
    else:
        clip = clip_from_sequence(seq)
    return list(clip.frames[:count])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=Path("outputs/demo"), help="make demo's output folder")
    parser.add_argument("--seq", type=Path, default=None, help="the sequence folder a SEQ= demo ran on")
    parser.add_argument("--frames", default="15,80,145", help="frame numbers, comma-separated (default %(default)s)")
    parser.add_argument("--tile-width", type=int, default=400, help="width of each frame in the picture (px)")
    parser.add_argument("--out", type=Path, default=Path("docs/images/tracking.jpg"), help="JPEG to write")
    args = parser.parse_args(argv)

    records = read_records(args.demo / "results.jsonl")
    annotated = read_video(args.demo / "demo.mp4")
    if len(annotated) != len(records):
        raise SystemExit(f"make_picture: {len(annotated)} video frames but {len(records)} records: rerun make demo")
    by_frame = {r["frame"]: (r, annotated[i]) for i, r in enumerate(records)}
    wanted = [int(v) for v in args.frames.split(",")]
    clean = clean_frames(args.demo, args.seq, max(wanted) + 1)
    tiles = []
    for number in wanted:
        if number not in by_frame:
            raise SystemExit(f"make_picture: frame {number} was not processed in this demo run")
        record, video_frame = by_frame[number]
        mask = recover_mask(video_frame, clean[number])
        tile = draw(clean[number], record, mask)
        height = int(round(tile.shape[0] * args.tile_width / tile.shape[1]))
        tiles.append(cv2.resize(tile, (args.tile_width, height), interpolation=cv2.INTER_AREA))
    picture = np.concatenate([np.pad(t, ((0, 0), (0, 4), (0, 0)), constant_values=255) for t in tiles], axis=1)
    picture = picture[:, :-4]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok or encoded.size > MAX_BYTES:
        raise SystemExit(f"make_picture: the JPEG is {encoded.size} bytes (limit {MAX_BYTES}): lower --tile-width")
    args.out.write_bytes(encoded.tobytes())
    print(f"make_picture: {args.out} ({picture.shape[1]}x{picture.shape[0]}, {encoded.size // 1000} KB), frames "
          f"{', '.join(map(str, wanted))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
