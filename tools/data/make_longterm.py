#!/usr/bin/env python3
"""Write long-term sequences (target out of view and back) from data/sequences with a virtual camera.

For every sequence of the validation and/or test split (or, asked, the train split; attsiammask_core/data/split.json)
that qualifies, a crop window follows the target, pans away until it is out of view, stays away 15-90 frames and
pans back; the rule, its parameters and the checks are in attsiammask_core/eval/longterm_data.py. Output, one
folder per split:

    <out>/<split>/<name>-lt/img/             the frames cropped by the window (JPEG, quality --jpeg-quality)
    <out>/<split>/<name>-lt/groundtruth.txt  x,y,w,h in window coordinates (0-based, clipped to the window);
                                            nan,nan,nan,nan where the target is absent (out of the window, or
                                            absent in the source's ground truth)
    <out>/<split>/<name>-lt/masks/           when the source has masks: the masks cropped (PNG, 0/255)
    <out>/<split>/<name>-lt/longterm.json    events (out, back, the frames between), annotated absences, params,
                                            the window of every frame
    <out>/<split>/manifest.json              {"sequences": {name: entry}} as data/sequences/manifest.json

Seeded: the same data, seed and parameters give identical files. Each sequence is written in
<out>/<split>/.partial/ and renamed into place; folders of an earlier run (holding a longterm.json) that this run
does not write are removed. Reserved videos (sources.json "reserved") are refused. At the end every written
sequence is read back with attsiammask_core.eval.sequences.discover and compared.

Usage: python tools/data/make_longterm.py --data data/sequences --out data/longterm [--split validation|test|both]
       [--seed N]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from attsiammask_core.eval.longterm_data import (  # noqa: E402
    LONGTERM_FILE,
    LongTermParams,
    longterm_json,
    plan_longterm,
    window_groundtruth,
)
from attsiammask_core.eval.sequences import Sequence, discover, load_split  # noqa: E402

SOURCES_FILE = REPO_ROOT / "attsiammask_core" / "data" / "sources.json"
SPLITS = ("train", "validation", "test")
BOTH = ("validation", "test")  # --split both: the evaluation sets; train (for calibrating on) only when asked
SUFFIX = "-lt"
GROUNDTRUTH_FORMAT = ('groundtruth.txt: one line per frame (line i <-> i-th file of sorted img/), "x,y,w,h" '
                      'comma-separated, x,y = top-left, window coordinates; "nan,nan,nan,nan" = target absent '
                      '(outside the window or absent in the source)')


def _builder() -> Any:
    """tools/data/build_sequences.py as a module (its reserved-name check and box formatting)."""
    spec = importlib.util.spec_from_file_location("build_sequences", Path(__file__).with_name("build_sequences.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Written:
    """One long-term sequence written: its name, frames, absent frames and events."""

    name: str
    source: str
    frames: int
    absent: int
    events: int
    occlusions: int


def _manifest_entry(name: str, source: Sequence, source_entry: Mapping[str, Any], split: str, size: tuple[int, int],
                    frames: int, has_masks: bool) -> dict[str, Any]:
    attributes = [str(a) for a in source_entry.get("attributes") or source.attributes]
    provenance = {k: source_entry[k] for k in ("source_repo", "commit", "path_in_repo", "dataset_family",
                                                 "data_license_note") if k in source_entry}
    return {"name": name, "frames": frames, "image_size": [list(size)], **provenance,
            "format": f"long-term crop of {source.name} (tools/data/make_longterm.py)",
            "index_base": "0-based pixel coords (window coordinates)",
            "attributes": attributes + ([] if "OV" in attributes else ["OV"]),
            "attributes_source": "the source's attributes, plus OV (out of view)",
            "has_masks": has_masks, "source_sequence": source.name, "source_split": split,
            "longterm": LONGTERM_FILE, "groundtruth_format": GROUNDTRUTH_FORMAT,
            "built_by": "tools/data/make_longterm.py from data/sequences"}


def _longterm_text(info: Mapping[str, Any]) -> str:
    """longterm.json indented, with the per-frame windows on one line."""
    text = json.dumps({**info, "windows": "@windows@"}, indent=1)
    return text.replace('"@windows@"', json.dumps(info["windows"], separators=(",", ":"))) + "\n"


def write_sequence(source: Sequence, source_entry: Mapping[str, Any], split: str, out_dir: Path,
                   params: LongTermParams, jpeg_quality: int, format_box: Any) -> tuple[Written | None, str,
                                                                                       dict[str, Any] | None]:
    """Plan and write one long-term sequence into out_dir/<name>-lt: (what was written, why not, manifest entry)."""
    first = source.frame(0)
    frame_wh = (first.shape[1], first.shape[0])
    plan, why = plan_longterm(source.boxes, frame_wh, params, source.name)
    if plan is None:
        return None, why, None
    name = source.name + SUFFIX
    partial = out_dir / ".partial" / name
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "img").mkdir(parents=True)
    has_masks = source.mask_paths is not None
    if has_masks:
        (partial / "masks").mkdir()
    (ww, wh) = plan.size
    for i in range(len(source)):
        frame = first if i == 0 else source.frame(i)
        if (frame.shape[1], frame.shape[0]) != frame_wh:
            raise ValueError(f"{source.name}: frame {i} is {frame.shape[1]}x{frame.shape[0]}, frame 0 "
                             f"{frame_wh[0]}x{frame_wh[1]}")
        x, y = (int(v) for v in plan.windows[i])
        crop = np.ascontiguousarray(frame[y:y + wh, x:x + ww])
        if not cv2.imwrite(str(partial / "img" / f"{i:05d}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
            raise OSError(f"cannot write {partial / 'img'}")
        if has_masks:
            mask = source.mask(i)[y:y + wh, x:x + ww]
            cv2.imwrite(str(partial / "masks" / f"{i:05d}.png"), np.where(mask, 255, 0).astype(np.uint8))
    groundtruth = window_groundtruth(source.boxes, plan.windows, plan.size, frame_wh)
    (partial / "groundtruth.txt").write_text("\n".join(format_box(b) for b in groundtruth) + "\n")
    info = longterm_json(name, source.name, split, frame_wh, plan, groundtruth, source.boxes, params)
    info["params"]["jpeg_quality"] = jpeg_quality
    (partial / LONGTERM_FILE).write_text(_longterm_text(info))
    target = out_dir / name
    if target.exists():
        shutil.rmtree(target)
    os.replace(partial, target)
    written = Written(name=name, source=source.name, frames=len(source), absent=info["absent_frames"],
                      events=len(info["events"]), occlusions=len(info["occlusions"]))
    return written, "", _manifest_entry(name, source, source_entry, split, plan.size, len(source), has_masks)


def _remove_stale(out_dir: Path, keep: set[str]) -> None:
    """Sequence folders of an earlier run (holding a longterm.json) that this run did not write."""
    for folder in sorted(p for p in out_dir.iterdir() if p.is_dir()):
        if folder.name not in keep and (folder / LONGTERM_FILE).is_file():
            shutil.rmtree(folder)
    shutil.rmtree(out_dir / ".partial", ignore_errors=True)


def _verify(out_dir: Path, written: list[Written]) -> list[str]:
    """Read every written sequence back with the project's readers; problems found."""
    problems = []
    sequences = {s.name: s for s in discover(out_dir)}
    for w in written:
        seq = sequences.get(w.name)
        if seq is None:
            problems.append(f"{w.name}: not found by discover({out_dir})")
            continue
        absent = int(np.count_nonzero(~np.isfinite(seq.boxes).all(axis=1)))
        if len(seq) != w.frames or absent != w.absent:
            problems.append(f"{w.name}: read back {len(seq)} frames, {absent} absent; wrote {w.frames}, {w.absent}")
    return problems


def make_split(data: Path, out: Path, split: str, params: LongTermParams, jpeg_quality: int,
               split_file: Path | None = None) -> list[Written]:
    """Every qualifying sequence of one split into out/<split>/ with its manifest; prints what was skipped."""
    build = _builder()
    reserved = json.loads(SOURCES_FILE.read_text())["reserved"]
    names = load_split(split, split_file=split_file)
    refused = [r for r in (build.reserved_reason(n, reserved) for n in names) if r]
    if refused:
        raise ValueError("reserved videos in the split: " + "; ".join(refused))
    available = [n for n in names if (data / n).is_dir()]
    for name in sorted(set(names) - set(available)):
        print(f"  {split}: {name} not in {data}, skipped", file=sys.stderr)
    manifest = json.loads((data / "manifest.json").read_text()).get("sequences", {}) \
        if (data / "manifest.json").is_file() else {}
    out_dir = out / split
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Written] = []
    entries: dict[str, Any] = {}
    for source in discover(data, available):
        done, why, entry = write_sequence(source, manifest.get(source.name, {}), split, out_dir, params,
                                          jpeg_quality, build.format_box)
        if done is None:
            print(f"  {split}: {source.name} skipped: {why}")
            continue
        written.append(done)
        entries[done.name] = entry
        print(f"  {split}: {done.name}: {done.frames} frames, {done.absent} absent, {done.events} events, "
              f"{done.occlusions} annotated absences")
    _remove_stale(out_dir, set(entries))
    tmp = out_dir / ".manifest.json.tmp"
    tmp.write_text(json.dumps({"sequences": dict(sorted(entries.items()))}, indent=1) + "\n")
    os.replace(tmp, out_dir / "manifest.json")
    problems = _verify(out_dir, written)
    if problems:
        raise ValueError("read-back problems: " + "; ".join(problems))
    return written


def _overrides(items: list[str]) -> dict[str, object]:
    """FIELD=VALUE pairs as LongTermParams values: "a,b" -> a tuple of numbers, else one int or float."""
    known = {f.name for f in fields(LongTermParams)} - {"seed"}
    values: dict[str, object] = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in known or not text:
            raise ValueError(f"{item!r}: use FIELD=VALUE with FIELD one of {', '.join(sorted(known))}")
        numbers = tuple(float(v) if "." in v else int(v) for v in text.split(","))
        values[name] = numbers if "," in text else numbers[0]
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "data" / "sequences",
                        help="source sequences (default data/sequences)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "longterm",
                        help="output folder; one sub-folder per split (default data/longterm)")
    parser.add_argument("--split", choices=(*SPLITS, "both"), default="both",
                        help="both = validation and test (default); train: sets to calibrate on")
    parser.add_argument("--split-file", type=Path, help="split JSON (default attsiammask_core/data/split.json)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the camera draws (default 0)")
    parser.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality of the frames (default 95)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change a camera parameter of LongTermParams (e.g. min_present=60, stay=10,40); for "
                             "calibration sets only: the evaluation sets use the defaults")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"make_longterm: error: --data: not a folder: {args.data}", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    try:
        params = replace(LongTermParams(), seed=args.seed, **_overrides(args.set))
    except (TypeError, ValueError) as err:
        print(f"make_longterm: error: --set: {err}", file=sys.stderr)
        return 2
    splits = BOTH if args.split == "both" else (args.split,)
    totals = {}
    try:
        for split in splits:
            written = make_split(args.data, args.out, split, params, args.jpeg_quality, args.split_file)
            totals[split] = written
    except (ValueError, OSError) as err:
        print(f"make_longterm: error: {err}", file=sys.stderr)
        return 2
    for split, written in totals.items():
        print(f"{split}: {len(written)} sequences, {sum(w.frames for w in written)} frames, "
              f"{sum(w.absent for w in written)} absent frames, {sum(w.events for w in written)} events "
              f"(+{sum(w.occlusions for w in written)} annotated absences) in {args.out / split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
