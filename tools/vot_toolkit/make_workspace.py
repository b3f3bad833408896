"""Make an offline VOT-toolkit workspace from sequence folders in the layout of ../shared/data/sequences.

Input (one folder per sequence): ``img/`` frames (sorted file order = frame order), ``groundtruth.txt`` with one
``x,y,w,h`` line per frame (``nan,nan,nan,nan`` = target absent), and optionally ``../manifest.json``
(``{"sequences": {name: {...}}}``) whose per-sequence ``index_base`` says "1-based" for OTB boxes (those get
x-1, y-1; override with --index-base).

Output, the layout vot-toolkit 0.9.x reads (vot/dataset/common.py, vot/workspace/__init__.py):
  <out>/config.yaml                 stack: stack.yaml, registry: [./trackers.ini], sequences: sequences
  <out>/stack.yaml                  a local stack with no ``dataset`` key, so nothing is ever downloaded
  <out>/trackers.ini                tools/vot_toolkit/trackers.ini with env_attsiammask_root filled in
  <out>/sequences/list.txt          one sequence name a line
  <out>/sequences/<name>/sequence   key=value metadata: channels.color=color/%08d.<ext>, fps, length, ...
  <out>/sequences/<name>/color/00000001.<ext>   symlinks to the frames (1-based, 8 digits), or copies (--copy)
  <out>/sequences/<name>/groundtruth.txt        ``x,y,w,h`` per frame, 0-based pixels; ``0`` (the toolkit's
                                                "unknown" special region) where the target is absent
Standard library only.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}

# The stack: the one-pass `unsupervised` experiment (VOT's no-reset protocol) with the toolkit's accuracy and
# success-plot analyses. vot-toolkit 0.9.0's `supervised` (reset-based, VOT2018) and `multistart` (anchor-based,
# VOT2020) experiments fail inside the toolkit for any single-target tracker (README.md, "Known problems").
STACK_YAML = """\
title: attsiammask local stack (one-pass, local sequences, no download)
experiments:
  unsupervised:
    type: unsupervised
    repetitions: 1
    analyses:
      - type: average_accuracy
        name: accuracy
        burnin: 1
      - type: average_success_plot
        name: success
"""

CONFIG_YAML = """\
registry:
- ./trackers.ini
sequences: sequences
stack: stack.yaml
"""


def index_base(sequence_dir: Path, override: str) -> int:
    """0 or 1: from --index-base, else the manifest's entry ("1-based" for OTB), else 0."""
    if override != "auto":
        return int(override)
    manifest = sequence_dir.parent / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        entry = data.get("sequences", data).get(sequence_dir.name, {})  # {"sequences": {name: {...}}}
        if str(entry.get("index_base", "")).startswith("1"):
            return 1
    return 0


def convert_boxes(lines: list[str], base: int) -> list[str]:
    """``x,y,w,h`` lines (commas, tabs or spaces) -> 0-based ``x,y,w,h`` text; absent/NaN -> ``0``."""
    out = []
    for number, line in enumerate(lines, 1):
        values = [float(v) for v in line.replace(",", " ").replace("\t", " ").split()]
        if len(values) != 4:
            raise ValueError(f"groundtruth line {number}: expected 4 numbers, got {line!r}")
        if any(math.isnan(v) for v in values) or values[2] <= 0 or values[3] <= 0:
            out.append("0")
            continue
        x, y, w, h = values
        out.append(f"{x - base:g},{y - base:g},{w:g},{h:g}")
    return out


def convert_sequence(src: Path, dst: Path, base_flag: str, copy: bool, max_frames: int | None) -> int:
    """Write one VOT sequence folder; returns its frame count."""
    frames = sorted(p for p in (src / "img").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    lines = [ln for ln in (src / "groundtruth.txt").read_text().splitlines() if ln.strip()]
    if not frames:
        raise SystemExit(f"{src}/img has no frames")
    if len(lines) != len(frames):
        raise SystemExit(f"{src}: {len(frames)} frames but {len(lines)} groundtruth lines")
    suffixes = {p.suffix.lower() for p in frames}
    if len(suffixes) != 1:
        raise SystemExit(f"{src}/img mixes image types {sorted(suffixes)}")
    suffix = suffixes.pop()
    if max_frames:
        frames, lines = frames[:max_frames], lines[:max_frames]
    base = index_base(src, base_flag)

    color = dst / "color"
    color.mkdir(parents=True)
    for number, frame in enumerate(frames, 1):
        target = color / f"{number:08d}{suffix}"
        if copy:
            shutil.copy2(frame, target)
        else:
            target.symlink_to(frame.resolve())
    (dst / "groundtruth.txt").write_text("\n".join(convert_boxes(lines, base)) + "\n")
    metadata = {"name": src.name, "fps": "30", "format": "default", "length": str(len(frames)),
                "channel.default": "color", "channels.color": f"color/%08d{suffix}"}
    (dst / "sequence").write_text("".join(f"{k}={v}\n" for k, v in sorted(metadata.items())))
    return len(frames)


def write_registry(template: Path, target: Path, root: Path) -> None:
    """The example trackers.ini with every ``env_attsiammask_root = ...`` line pointing at ``root``."""
    lines = []
    for line in template.read_text().splitlines():
        if line.replace(" ", "").startswith("env_attsiammask_root="):
            line = f"env_attsiammask_root = {root}"
        lines.append(line)
    target.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "sequences",
                        help="folder of sequence folders (default: ../shared/data/sequences next to the repository)")
    parser.add_argument("--sequences", nargs="+", required=True, help="sequence folder names, e.g. Crossing")
    parser.add_argument("--out", type=Path, required=True, help="workspace folder to create")
    parser.add_argument("--index-base", choices=("auto", "0", "1"), default="auto",
                        help="1 = boxes are 1-based (OTB); auto = from manifest.json (default)")
    parser.add_argument("--max-frames", type=int, default=None, help="keep only the first N frames")
    parser.add_argument("--copy", action="store_true", help="copy the frames instead of symlinking them")
    parser.add_argument("--force", action="store_true", help="delete --out first if it exists")
    parser.add_argument("--registry", type=Path, default=HERE / "trackers.ini", help="trackers.ini template")
    parser.add_argument("--root", type=Path, default=REPO, help="attsiammask checkout the registry points at")
    args = parser.parse_args(argv)

    if not args.data.is_dir():
        print(f"make_workspace: sequence folder {args.data} not found (it is ../shared/data/sequences on the "
              "project's machines; pass --data DIR elsewhere)", file=sys.stderr)
        return 2
    missing = [name for name in args.sequences if not (args.data / name / "groundtruth.txt").is_file()]
    if missing:
        print(f"make_workspace: no such sequence(s) in {args.data}: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.out.exists():
        if not args.force:
            print(f"make_workspace: {args.out} exists (use --force to replace it)", file=sys.stderr)
            return 2
        shutil.rmtree(args.out)

    sequences = args.out / "sequences"
    sequences.mkdir(parents=True)
    (args.out / "results").mkdir()
    for name in args.sequences:
        count = convert_sequence(args.data / name, sequences / name, args.index_base, args.copy, args.max_frames)
        print(f"  {name}: {count} frames")
    (sequences / "list.txt").write_text("".join(f"{name}\n" for name in args.sequences))
    (args.out / "stack.yaml").write_text(STACK_YAML)
    (args.out / "config.yaml").write_text(CONFIG_YAML)
    write_registry(args.registry, args.out / "trackers.ini", args.root.resolve())
    print(f"workspace ready: {args.out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
