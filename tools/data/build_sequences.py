#!/usr/bin/env python3
"""Build data/sequences/ from public GitHub repositories recorded in attsiammask_core/data/sources.json.

For every source (repository, commit, path) the script reads the recorded sequences out of a bare git
directory (``--mirror``: <mirror>/<owner>+<name>/repo, .../repo/.git or <mirror>/<owner>+<name>; when none
holds the commit it runs ``git clone --bare https://github.com/<owner>/<name>`` into the mirror folder) and
writes one folder per sequence in the layout of ../shared/data/sequences:

    <out>/<name>/img/             the frames, copied byte for byte (sorted file order = frame order)
    <out>/<name>/groundtruth.txt  one "x,y,w,h" line per frame, 0-based pixels, "nan,nan,nan,nan" = absent
    <out>/<name>/masks/           mask sources only: one PNG per frame, 0 background, 255 target
    <out>/manifest.json           {"sequences": {name: entry}} for every folder of <out>

Sequences of the shared folder (``--shared``) become relative symlinks <out>/<name> -> <shared>/<name> and
their manifest entries are copied unchanged, so <out> is the one folder holding everything. A sequence is
built in <out>.partial/<name> and renamed into <out> when complete; finished sequences are skipped (the
script is idempotent). Names that are reserved (sources.json "reserved") are refused. At the end every
sequence is read back with attsiammask_core.eval.sequences.read_any and totals are printed per source,
family and split (attsiammask_core/data/split.json).

Usage: python tools/data/build_sequences.py [--mirror DIR] [--out DIR] [--shared DIR] [--only SOURCE_ID ...]
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES_FILE = REPO_ROOT / "attsiammask_core" / "data" / "sources.json"
SPLIT_FILE = REPO_ROOT / "attsiammask_core" / "data" / "split.json"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
GROUNDTRUTH_FORMAT = ('groundtruth.txt: one line per frame (line i <-> i-th file of sorted img/), "x,y,w,h" '
                      'comma-separated, x,y = top-left; "nan,nan,nan,nan" = target absent')
NAN_LINE = "nan,nan,nan,nan"

# ----------------------------------------------------------------------------------------------- pure helpers

# Family prefixes of sequence folder names ("DAVIS16-", "VOT2018-", "UAV123_10fps-", "VOT-", ...): stripped
# before a name is compared with the reserved base names.
_FAMILY_PREFIX = re.compile(r"^(?:davis|vot|vottir|vot-tir|votlt|segtrack|uav|otb|lasot|got|nfs|tc|tlp|dtb)"
                            r"[a-z0-9_]*-", re.IGNORECASE)


def strip_family_prefix(name: str) -> str:
    """'DAVIS16-dance-twirl' -> 'dance-twirl', 'VOT2018-ball1' -> 'ball1'; names without a known prefix unchanged."""
    return _FAMILY_PREFIX.sub("", name, count=1)


def _key(text: str) -> str:
    """Lower case, only letters and digits ('Skating2.1' -> 'skating21', 'bolt_1' -> 'bolt1')."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def reserved_reason(name: str, reserved: Mapping[str, Any]) -> str | None:
    """Why ``name`` is a reserved video (or an alias of one), None when it is not.

    ``reserved`` is the "reserved" object of sources.json:
      "exact":      names reserved exactly (after the family prefix, letters and digits only), e.g. DAVIS
                    'breakdance' (but not 'breakdance-flare'), LaSOT 'airplane-1';
      "base_names": base names matched as prefixes. A base name without digits ('bolt', 'gym', 'soccer') is
                    compared with the name's letters only (digits, '_', '-' ignored), so it catches bolt1,
                    bolt2, gymnastics3, soccer1, ...; a base name with a digit ('car1', 'singer1', 'skating2')
                    keeps the digit because the digit tells the video apart (OTB Car4, Singer2 and Skating1
                    are other videos), so it catches car1, car10, skating2-1, skating2_2, ...; a name with no
                    digit at all that equals its letters ('car', 'singer') is reserved too (ambiguous);
      "allowed_prefixes": letter-only prefixes that are other videos although a base name starts them
                    ('handball' is not 'hand').
    """
    core = strip_family_prefix(name)
    key = _key(core)
    letters = re.sub(r"[0-9]", "", key)
    for exact in reserved.get("exact", ()):
        if key == _key(exact):
            return f"{name}: reserved video {exact!r}"
    if any(letters.startswith(_key(a)) for a in reserved.get("allowed_prefixes", ())):
        return None
    for base in reserved.get("base_names", ()):
        b = _key(base)
        b_letters = re.sub(r"[0-9]", "", b)
        if b == b_letters:
            if letters.startswith(b):
                return f"{name}: starts with reserved base name {base!r} (digits, '_' and '-' ignored)"
        elif key.startswith(b) or (key == letters and letters == b_letters):
            return f"{name}: matches reserved base name {base!r}"
    return None


def polygon_to_box(values: Iterable[float]) -> tuple[float, float, float, float]:
    """4 numbers (x,y,w,h: unchanged) or 8 numbers (polygon x1,y1,...,x4,y4) -> axis-aligned (x, y, w, h).

    The box of a polygon is the min/max of its corners; any NaN gives an all-NaN box.
    """
    v = [float(t) for t in values]
    if len(v) not in (4, 8):
        raise ValueError(f"expected 4 or 8 numbers, got {len(v)}")
    if any(math.isnan(t) for t in v):
        return (math.nan,) * 4
    if len(v) == 4:
        return v[0], v[1], v[2], v[3]
    xs, ys = v[0::2], v[1::2]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def clip_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float, float, float]:
    """Intersect an xywh box with the image [0, width] x [0, height]; all-NaN when nothing of it is inside."""
    x, y, w, h = box
    if any(math.isnan(t) for t in box):
        return (math.nan,) * 4
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    if x1 <= x0 or y1 <= y0:
        return (math.nan,) * 4
    return x0, y0, x1 - x0, y1 - y0


def format_box(box: Iterable[float]) -> str:
    """'x,y,w,h' with at most 3 decimals and no trailing zeros; 'nan,nan,nan,nan' for an absent target."""
    box = list(box)
    if any(math.isnan(t) for t in box):
        return NAN_LINE
    out = []
    for t in box:
        s = f"{t:.3f}".rstrip("0").rstrip(".")
        out.append("0" if s in ("-0", "") else s)
    return ",".join(out)


def parse_region_line(line: str) -> tuple[float, float, float, float]:
    """One ground-truth line (4 or 8 numbers split by ',', ';', tabs or spaces; empty or 'nan' = absent) -> box."""
    tokens = [t for t in re.split(r"[,;\s]+", line.strip()) if t]
    if not tokens or (len(tokens) == 1 and tokens[0].lower() == "nan"):
        return (math.nan,) * 4
    return polygon_to_box(float(t) for t in tokens)


def mask_box(mask: Any) -> tuple[float, float, float, float]:
    """Tight box (x_min, y_min, x_max-x_min+1, y_max-y_min+1) of a mask's non-zero pixels; NaN when empty."""
    import numpy as np

    m = np.asarray(mask)
    m = m > 0 if m.ndim == 2 else np.any(m > 0, axis=2)
    ys, xs = np.nonzero(m)
    if xs.size == 0:
        return (math.nan,) * 4
    return (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1))


def parse_davis_db_info(text: str) -> dict[str, list[str]]:
    """DAVIS-2016 db_info.yml -> {sequence name: [attribute codes]} (a small line parser, no YAML library)."""
    out: dict[str, list[str]] = {}
    attributes: list[str] | None = None
    for line in text.splitlines():
        m = re.match(r"^\s*-?\s*attributes:\s*\[(.*)\]\s*$", line)
        if m and line.lstrip().startswith("-"):
            attributes = [a.strip() for a in m.group(1).split(",") if a.strip()]
            continue
        m = re.match(r"^\s*name:\s*(\S+)\s*$", line)
        if m and attributes is not None:
            out[m.group(1)] = attributes
            attributes = None
    return out


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def validate_sources(data: Mapping[str, Any]) -> list[str]:
    """Problems of a sources.json object (empty list when well-formed)."""
    problems: list[str] = []
    reserved = data.get("reserved")
    if not isinstance(reserved, Mapping) or not reserved.get("base_names") or not reserved.get("exact"):
        problems.append("'reserved' must hold non-empty 'base_names' and 'exact' lists")
        reserved = {}
    sources = data.get("sources")
    if not isinstance(sources, list) or not sources:
        return problems + ["'sources' must be a non-empty list"]
    seen_ids: set[str] = set()
    seen_names: set[str] = set()
    for i, src in enumerate(sources):
        where = f"sources[{i}]"
        for field in ("id", "repo", "commit", "path", "licence", "format", "dataset_family", "prefix", "sequences"):
            if field not in src:
                problems.append(f"{where}: missing {field!r}")
        if src.get("id") in seen_ids:
            problems.append(f"{where}: repeated id {src.get('id')!r}")
        seen_ids.add(src.get("id"))
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*", str(src.get("repo", ""))):
            problems.append(f"{where}: repo must be 'owner/name', got {src.get('repo')!r}")
        if not re.fullmatch(r"[0-9a-f]{40}", str(src.get("commit", ""))):
            problems.append(f"{where}: commit must be 40 lower-case hex digits, got {src.get('commit')!r}")
        if not str(src.get("licence", "")).strip():
            problems.append(f"{where}: empty licence")
        seqs = src.get("sequences")
        if not isinstance(seqs, Mapping) or not seqs:
            problems.append(f"{where}: 'sequences' must be a non-empty mapping name -> {{'frames': N}}")
            continue
        for name, spec in seqs.items():
            frames = spec.get("frames") if isinstance(spec, Mapping) else None
            if not isinstance(frames, int) or isinstance(frames, bool) or frames <= 0:
                problems.append(f"{where}: sequence {name!r} needs a positive integer 'frames'")
            out_name = src.get("prefix", "") + name
            if out_name in seen_names:
                problems.append(f"{where}: output name {out_name!r} repeated")
            seen_names.add(out_name)
            for candidate in (name, out_name):
                why = reserved_reason(candidate, reserved) if reserved else None
                if why:
                    problems.append(f"{where}: {why}")
    return problems


# ----------------------------------------------------------------------------------------------- git access


class GitRepo:
    """Read-only access to one commit of a bare git directory (ls-tree and blobs through one cat-file process)."""

    def __init__(self, git_dir: Path, commit: str) -> None:
        self.git_dir, self.commit = Path(git_dir), commit
        self._cat: subprocess.Popen[bytes] | None = None

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", f"--git-dir={self.git_dir}", *args], check=True, capture_output=True,
                              text=True).stdout

    def ls(self, path: str) -> dict[str, str]:
        """{file name: blob sha} of the files directly inside ``path`` (a folder) at the commit."""
        out = self._git("ls-tree", "-z", f"{self.commit}:{path.strip('/')}" if path.strip("/") else self.commit)
        files = {}
        for row in out.split("\0"):
            if not row:
                continue
            meta, name = row.split("\t", 1)
            _mode, kind, sha = meta.split()
            if kind == "blob":
                files[name] = sha
        return files

    def dirs(self, path: str) -> list[str]:
        out = self._git("ls-tree", "-z", f"{self.commit}:{path.strip('/')}")
        return sorted(row.split("\t", 1)[1] for row in out.split("\0") if row and row.split()[1] == "tree")

    def blob(self, sha: str) -> bytes:
        if self._cat is None:
            self._cat = subprocess.Popen(["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._cat.stdin is not None and self._cat.stdout is not None
        self._cat.stdin.write(sha.encode() + b"\n")
        self._cat.stdin.flush()
        header = self._cat.stdout.readline().decode().split()
        if len(header) != 3:
            raise FileNotFoundError(f"{self.git_dir}: blob {sha} missing ({' '.join(header)})")
        data = self._cat.stdout.read(int(header[2]))
        self._cat.stdout.read(1)
        return data

    def file(self, path: str) -> bytes:
        folder, _, name = path.strip("/").rpartition("/")
        files = self.ls(folder)
        if name not in files:
            raise FileNotFoundError(f"{path} not in {self.git_dir} at {self.commit}")
        return self.blob(files[name])

    def close(self) -> None:
        if self._cat is not None:
            assert self._cat.stdin is not None
            self._cat.stdin.close()
            self._cat.wait()
            self._cat = None


def _has_commit(git_dir: Path, commit: str) -> bool:
    r = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-e", f"{commit}^{{commit}}"],
                       capture_output=True)
    return r.returncode == 0


def open_repo(mirror: Path, repo: str, commit: str) -> GitRepo:
    """The bare git directory of ``repo`` under ``mirror`` holding ``commit``; cloned from GitHub when absent."""
    base = mirror / repo.replace("/", "+")
    for candidate in (base / "repo", base / "repo" / ".git", base / "git", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir() and _has_commit(candidate, commit):
            return GitRepo(candidate, commit)
    target = base / "git"
    if not target.exists():
        print(f"  cloning https://github.com/{repo} into {target} (bare) ...", flush=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--bare", "--quiet", f"https://github.com/{repo}", str(target)], check=True)
    if not _has_commit(target, commit):
        subprocess.run(["git", f"--git-dir={target}", "fetch", "--quiet", "origin", commit], check=False)
    if not _has_commit(target, commit):
        raise FileNotFoundError(f"commit {commit} of {repo} not found in {base} (nor after cloning)")
    return GitRepo(target, commit)


# ----------------------------------------------------------------------------------------------- extraction


def _image_size(data: bytes, what: str) -> tuple[int, int]:
    """(width, height) of an encoded image; ValueError for LFS pointers or non-images."""
    from PIL import Image

    if data.startswith(b"version https://git-lfs"):
        raise ValueError(f"{what}: a Git LFS pointer, not an image")
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception as exc:  # noqa: BLE001 - any decoder error means "not an image"
        raise ValueError(f"{what}: not a readable image ({exc})") from None


def _decode_mask(data: bytes, what: str) -> Any:
    import numpy as np
    from PIL import Image

    if data.startswith(b"version https://git-lfs"):
        raise ValueError(f"{what}: a Git LFS pointer, not a mask")
    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im)
    if arr.ndim == 3:
        arr = arr[..., :3].max(axis=2) if arr.shape[2] >= 3 else arr[..., 0]
    return arr


def _binary_png(mask: Any) -> bytes:
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.where(np.asarray(mask) > 0, 255, 0).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _sorted_images(files: Mapping[str, str], prefix: str = "") -> list[tuple[str, str]]:
    def natural(name: str) -> list[Any]:
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]

    names = [n for n in files if n.lower().endswith(IMAGE_SUFFIXES) and n.startswith(prefix)]
    return [(n, files[n]) for n in sorted(names, key=natural)]


def _vot_attributes(repo: GitRepo, folder: str, files: Mapping[str, str], frames: int) -> list[str]:
    """Per-frame VOT .tag/.label files -> ['occlusion(24 frames)', ...] for tags set on at least one frame."""
    out = []
    for name in sorted(files):
        stem, dot, ext = name.rpartition(".")
        if not dot or ext not in ("tag", "label"):
            continue
        flags = [t.strip() for t in repo.blob(files[name]).decode(errors="replace").splitlines()]
        count = sum(1 for t in flags[:frames] if t not in ("", "0"))
        if count:
            out.append(f"{stem}({count} frames)")
    return out


class Plan:
    """What one sequence's folder receives: frames (name, sha), ground-truth lines, optional mask PNG bytes."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, str]] = []
        self.boxes: list[tuple[float, float, float, float]] = []
        self.masks: list[bytes] | None = None
        self.attributes: list[str] = []
        self.attributes_source = ""
        self.sizes: list[tuple[int, int]] = []
        self.notes: list[str] = []
        self.path_in_repo = ""


def plan_davis(repo: GitRepo, src: Mapping[str, Any], name: str, attrs: Mapping[str, list[str]]) -> Plan:
    plan = Plan()
    res = src.get("resolution", "480p")
    fdir, mdir = f"{src['path']}/JPEGImages/{res}/{name}", f"{src['path']}/Annotations/{res}/{name}"
    plan.path_in_repo = f"{fdir} + {mdir}"
    plan.frames = _sorted_images(repo.ls(fdir))
    masks = _sorted_images(repo.ls(mdir))
    if len(masks) != len(plan.frames):
        raise ValueError(f"{name}: {len(plan.frames)} frames but {len(masks)} masks")
    plan.masks = []
    empty, values = 0, set()
    import numpy as np

    for (fname, _), (mname, msha) in zip(plan.frames, masks, strict=True):
        if Path(fname).stem != Path(mname).stem:
            raise ValueError(f"{name}: frame {fname} paired with mask {mname}")
        data = repo.blob(msha)
        mask = _decode_mask(data, f"{mdir}/{mname}")
        values.update(int(v) for v in np.unique(mask)[:8])
        box = mask_box(mask)
        empty += math.isnan(box[0])
        plan.boxes.append(box)
        is_binary_l = data[:8] == b"\x89PNG\r\n\x1a\n" and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
        plan.masks.append(data if is_binary_l and _png_is_grey(data) else _binary_png(mask))
    plan.attributes = list(attrs.get(name, []))
    plan.attributes_source = f"DAVIS-2016 official attributes ({src.get('attributes_file', 'db_info.yml')})"
    plan.notes.append(f"DAVIS 2016 sequence (single foreground object, binary mask). mask pixel values present: "
                      f"{sorted(values)}; {empty} frames with empty mask (box=nan); masks written as 0/255 PNG.")
    return plan


def _png_is_grey(data: bytes) -> bool:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.mode == "L"


def plan_vot(repo: GitRepo, src: Mapping[str, Any], name: str) -> Plan:
    plan = Plan()
    folder = f"{src['path']}/{name}"
    files = repo.ls(folder)
    frame_dir = f"{folder}/color" if "color" in repo.dirs(folder) else folder
    plan.frames = _sorted_images(repo.ls(frame_dir) if frame_dir != folder else files)
    plan.path_in_repo = frame_dir + " + " + folder + "/groundtruth.txt"
    lines = repo.blob(files["groundtruth.txt"]).decode().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    plan.boxes = [parse_region_line(line) for line in lines]
    plan.attributes = _vot_attributes(repo, folder, files, len(plan.frames))
    plan.attributes_source = "per-frame VOT .tag/.label files in source (count of frames flagged)"
    return plan


def plan_image_mask_dirs(repo: GitRepo, src: Mapping[str, Any], name: str, spec: Mapping[str, Any]) -> Plan:
    """Frames and masks spread over several folders (frame_dirs[i] pairs with mask_dirs[i]), files '<prefix>*'."""
    plan = Plan()
    prefix = spec.get("file_prefix", "")
    plan.masks = []
    parts = []
    for fdir, mdir in zip(src["frame_dirs"], src["mask_dirs"], strict=True):
        fdir, mdir = f"{src['path']}/{fdir}", f"{src['path']}/{mdir}"
        frames, masks = _sorted_images(repo.ls(fdir), prefix), dict(_sorted_images(repo.ls(mdir), prefix))
        for fname, fsha in frames:
            if fname not in masks:
                raise ValueError(f"{name}: no mask {mdir}/{fname}")
            plan.frames.append((fname, fsha))
            mask = _decode_mask(repo.blob(masks[fname]), f"{mdir}/{fname}")
            mask = mask >= int(src.get("mask_threshold", 1))
            plan.boxes.append(mask_box(mask))
            plan.masks.append(_binary_png(mask))
        parts.append(f"{fdir}/{prefix}* + {mdir}/{prefix}*")
    order = sorted(range(len(plan.frames)), key=lambda i: plan.frames[i][0])
    plan.frames = [plan.frames[i] for i in order]
    plan.boxes = [plan.boxes[i] for i in order]
    plan.masks = [plan.masks[i] for i in order]
    plan.path_in_repo = "; ".join(parts)
    plan.notes.append(f"frames of all listed folders merged in file-name order; masks: pixel >= "
                      f"{int(src.get('mask_threshold', 1))} = target (written as 0/255 PNG)")
    return plan


def _text_lines(data: bytes) -> list[str]:
    lines = data.decode(errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def plan_frame_range(repo: GitRepo, src: Mapping[str, Any], name: str, spec: Mapping[str, Any]) -> Plan:
    """UAV123 style: frames <path>/<frame_dir>/NNNNNN.jpg numbered first..first+frames-1, one annotation file."""
    plan = Plan()
    frame_dir = f"{src['path']}/{spec['frame_dir']}"
    first, count = int(spec.get("first", 1)), int(spec["frames"])
    wanted = range(first, first + count)
    plan.frames = [(n, sha) for n, sha in _sorted_images(repo.ls(frame_dir))
                   if Path(n).stem.isdigit() and int(Path(n).stem) in wanted]
    annotation = f"{src['path']}/{spec['annotation']}"
    plan.boxes = [parse_region_line(line) for line in _text_lines(repo.file(annotation))]
    plan.path_in_repo = f"{frame_dir} (frames {first}..{first + count - 1}) + {annotation}"
    return plan


def plan_otb(repo: GitRepo, src: Mapping[str, Any], name: str, spec: Mapping[str, Any]) -> Plan:
    """OTB style: <path>/<name>/img/ + a ground-truth file; optional column selection and a 'lost' flag column."""
    plan = Plan()
    folder = f"{src['path']}/{name}"
    img_dir = f"{folder}/{src.get('img_dir', 'img')}"
    gt = f"{folder}/{src.get('groundtruth', 'groundtruth_rect.txt')}"
    plan.frames = _sorted_images(repo.ls(img_dir))
    columns = src.get("columns")
    lost = src.get("lost_column")
    for line in _text_lines(repo.file(gt)):
        tokens = [t for t in re.split(r"[,;\s]+", line.strip()) if t]
        if lost is not None and float(tokens[lost]) != 0:
            plan.boxes.append((math.nan,) * 4)
            continue
        values = [tokens[c] for c in columns] if columns else tokens
        plan.boxes.append(polygon_to_box(float(t) for t in values))
    plan.path_in_repo = f"{img_dir} + {gt}"
    return plan


def plan_sequence(repo: GitRepo, src: Mapping[str, Any], name: str, spec: Mapping[str, Any],
                  cache: dict[str, Any]) -> Plan:
    fmt = src["format"]
    if fmt == "davis":
        if "davis_attrs" not in cache:
            attrs_file = src.get("attributes_file")
            cache["davis_attrs"] = parse_davis_db_info(repo.file(attrs_file).decode()) if attrs_file else {}
        plan = plan_davis(repo, src, name, cache["davis_attrs"])
    elif fmt == "vot":
        plan = plan_vot(repo, src, name)
    elif fmt == "image_mask_dirs":
        plan = plan_image_mask_dirs(repo, src, name, spec)
    elif fmt == "frame_range":
        plan = plan_frame_range(repo, src, name, spec)
    elif fmt == "otb":
        plan = plan_otb(repo, src, name, spec)
    else:
        raise ValueError(f"unknown source format {fmt!r}")
    if len(plan.frames) != spec["frames"]:
        raise ValueError(f"{name}: sources.json says {spec['frames']} frames, the repository has {len(plan.frames)}")
    if len(plan.boxes) != len(plan.frames):
        raise ValueError(f"{name}: {len(plan.frames)} frames but {len(plan.boxes)} ground-truth lines")
    if spec.get("attributes_by_eye"):
        plan.attributes += list(spec["attributes_by_eye"])
        by_eye = "observed by eye on sampled frames (attributes_by_eye in sources.json, not an official label)"
        plan.attributes_source = " + ".join(t for t in (plan.attributes_source, by_eye) if t)
    if spec.get("notes"):
        plan.notes.insert(0, spec["notes"])
    return plan


def write_sequence(repo: GitRepo, src: Mapping[str, Any], plan: Plan, folder: Path) -> None:
    """Copy frames, write masks and groundtruth.txt into ``folder`` (clipping boxes to the image)."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "img").mkdir(parents=True)
    shift = int(src.get("source_index_base", 0))
    sizes: list[tuple[int, int]] = []
    lines, clipped = [], 0
    for i, ((fname, sha), box) in enumerate(zip(plan.frames, plan.boxes, strict=True)):
        data = repo.blob(sha)
        w, h = _image_size(data, f"{fname}")
        sizes.append((w, h))
        (folder / "img" / fname).write_bytes(data)
        if shift and not math.isnan(box[0]):
            box = (box[0] - shift, box[1] - shift, box[2], box[3])
        inside = clip_box(box, w, h)
        if not math.isnan(box[0]) and any(abs(a - b) > 1e-6 for a, b in zip(box, inside, strict=True)):
            clipped += 1
        lines.append(format_box(inside))
        if i == 0:
            import cv2
            import numpy as np

            if cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is None:
                raise ValueError(f"{fname}: OpenCV cannot decode the first frame")
    if plan.masks is not None:
        (folder / "masks").mkdir()
        for (fname, _), data in zip(plan.frames, plan.masks, strict=True):
            (folder / "masks" / (Path(fname).stem + ".png")).write_bytes(data)
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    plan.sizes = sizes
    if clipped:
        plan.notes.append(f"{clipped} boxes reached outside the image and were clipped to it")


def image_sizes(folder: Path) -> list[list[int]]:
    """Distinct [width, height] of the frames in folder/img (image headers only)."""
    from PIL import Image

    sizes: list[list[int]] = []
    for p in sorted((folder / "img").iterdir()):
        with Image.open(p) as im:
            size = list(im.size)
        if size not in sizes:
            sizes.append(size)
    return sizes


def manifest_entry(src: Mapping[str, Any], name: str, out_name: str, folder: Path,
                   plan: Plan | None, previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The manifest entry of a built sequence (from the plan just written, else from the previous manifest)."""
    if plan is None and previous is not None:
        return dict(previous)
    frames = len([p for p in (folder / "img").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES])
    entry = {
        "name": out_name,
        "frames": frames,
        "image_size": image_sizes(folder),
        "source_repo": src["repo"],
        "commit": src["commit"],
        "path_in_repo": plan.path_in_repo if plan else f"{src['path']}/{name}",
        "format": src.get("format_note", src["format"]),
        "index_base": "0-based pixel coords" + (f" (source was {src['source_index_base']}-based; converted)"
                                                if int(src.get("source_index_base", 0)) else ""),
        "attributes": plan.attributes if plan else [],
        "attributes_source": plan.attributes_source if plan else "",
        "has_masks": (folder / "masks").is_dir(),
        "dataset_family": src["dataset_family"],
        "data_license_note": src["licence"],
        "notes": " ".join(([src["notes"]] if src.get("notes") else []) + (plan.notes if plan else [])),
        "groundtruth_format": GROUNDTRUTH_FORMAT,
        "built_by": "tools/data/build_sequences.py from attsiammask_core/data/sources.json",
    }
    return entry


def write_manifest(out: Path, entries: Mapping[str, Any]) -> None:
    tmp = out / ".manifest.json.tmp"
    tmp.write_text(json.dumps({"sequences": dict(sorted(entries.items()))}, indent=1) + "\n")
    os.replace(tmp, out / "manifest.json")


def _is_complete(folder: Path, frames: int) -> bool:
    if folder.is_symlink() or not (folder / "img").is_dir() or not (folder / "groundtruth.txt").is_file():
        return False
    n = len([p for p in (folder / "img").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES])
    lines = [t for t in (folder / "groundtruth.txt").read_text().splitlines() if t.strip()]
    return n == frames == len(lines)


# ----------------------------------------------------------------------------------------------- main steps


def link_shared(shared: Path, out: Path, reserved: Mapping[str, Any], entries: dict[str, Any]) -> int:
    """Relative symlinks out/<name> -> shared/<name> and the shared manifest entries; returns the count."""
    manifest = load_json(shared / "manifest.json")["sequences"]
    count = 0
    for name, entry in sorted(manifest.items()):
        why = reserved_reason(name, reserved)
        if why:
            raise SystemExit(f"refusing to link a reserved sequence from the shared folder: {why}")
        target = shared / name
        if not target.is_dir():
            print(f"  warning: shared manifest names {name} but {target} is missing", file=sys.stderr)
            continue
        link = out / name
        rel = os.path.relpath(target.absolute(), out.absolute())
        if link.is_symlink():
            if os.readlink(link) != rel:
                link.unlink()
        elif link.exists():
            raise SystemExit(f"{link} exists and is not a symlink: the shared sequence {name} must not be copied")
        if not link.is_symlink():
            link.symlink_to(rel, target_is_directory=True)
        entries[name] = entry
        count += 1
    return count


def build_source(src: Mapping[str, Any], mirror: Path, out: Path, partial: Path, reserved: Mapping[str, Any],
                 shared_names: set[str], entries: dict[str, Any], previous: Mapping[str, Any],
                 force: bool = False) -> tuple[int, int]:
    """Build every recorded sequence of one source; returns (sequences built now, sequences skipped)."""
    built = skipped = 0
    repo: GitRepo | None = None
    cache: dict[str, Any] = {}
    try:
        for name, spec in src["sequences"].items():
            out_name = src["prefix"] + name
            for candidate in (name, out_name):
                why = reserved_reason(candidate, reserved)
                if why:
                    raise SystemExit(f"refusing to write a reserved sequence: {why}")
            if out_name in shared_names:
                raise SystemExit(f"{out_name} is a shared sequence: sources.json must not list it again")
            folder = out / out_name
            if force and folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
            if _is_complete(folder, spec["frames"]):
                entries[out_name] = manifest_entry(src, name, out_name, folder, None, previous.get(out_name))
                skipped += 1
                continue
            if folder.is_symlink() or folder.exists():
                raise SystemExit(f"{folder} exists but is not a complete build of {out_name}; remove it and rerun")
            if repo is None:
                repo = open_repo(mirror, src["repo"], src["commit"])
            plan = plan_sequence(repo, src, name, spec, cache)
            tmp = partial / out_name
            write_sequence(repo, src, plan, tmp)
            entries[out_name] = manifest_entry(src, name, out_name, tmp, plan, None)
            os.replace(tmp, folder)
            write_manifest(out, entries)
            built += 1
            print(f"  {out_name}: {len(plan.frames)} frames{' + masks' if plan.masks is not None else ''}",
                  flush=True)
    finally:
        if repo is not None:
            repo.close()
    return built, skipped


def verify(out: Path, entries: Mapping[str, Any], shared_names: Iterable[str] = ()) -> list[str]:
    """Read every sequence back (read_any with the manifest); problems found (frame counts, boxes off-image).

    Boxes partly outside the image are problems for the sequences built here (they are clipped when written) and
    only warnings for the shared sequences (OTB ground truth has a few, e.g. Biker frames 72-77).
    """
    sys.path.insert(0, str(REPO_ROOT))
    import numpy as np

    from attsiammask_core.eval.sequences import read_any

    manifest = {"sequences": dict(entries)}
    problems = []
    for name, entry in sorted(entries.items()):
        try:
            seq = read_any(out / name, manifest=manifest)
        except Exception as exc:  # noqa: BLE001 - report every unreadable sequence
            problems.append(f"{name}: cannot be read back: {exc}")
            continue
        if len(seq) != entry["frames"]:
            problems.append(f"{name}: {len(seq)} frames read, manifest says {entry['frames']}")
        if (seq.mask_paths is not None) != bool(entry.get("has_masks")):
            problems.append(f"{name}: masks present={seq.mask_paths is not None}, manifest has_masks="
                            f"{entry.get('has_masks')}")
        sizes = entry.get("image_size") or []
        if len(sizes) == 1:
            w, h = sizes[0]
            b = seq.boxes[~np.isnan(seq.boxes).any(axis=1)]
            tol = 1.0 if name in shared_names else 1e-6
            bad = ((b[:, 0] < -tol) | (b[:, 1] < -tol) | (b[:, 0] + b[:, 2] > w + tol) |
                   (b[:, 1] + b[:, 3] > h + tol) | (b[:, 2] <= 0) | (b[:, 3] <= 0))
            if bad.any():
                message = f"{name}: {int(bad.sum())} boxes outside the {w}x{h} image or empty"
                if name in shared_names:
                    print(f"  warning (shared sequence, left as it is): {message}")
                else:
                    problems.append(message)
    return problems


def family_of(entry: Mapping[str, Any]) -> str:
    """Short family name of a manifest entry: DAVIS, OTB, UAV123, VOT-TIR, VOT, TinyTLP, SegTrack, ..."""
    fam = str(entry.get("dataset_family", "?"))
    for short in ("DAVIS", "OTB", "UAV123", "VOT-TIR", "SegTrack", "TinyTLP", "LaSOT", "GOT"):
        if short.lower() in fam.lower():
            return short
    return "VOT" if fam.upper().startswith("VOT") else fam


# ----------------------------------------------------------------------------------------------- the split rule

# Sequences of the first (train/validation only) split, attsiammask_core/data/split.json before the test split
# existed: hyperparameters may have been tuned on them, so the rule never puts them in "test".
PREVIOUS_VALIDATION = ("Biker", "Bird2", "Crossing", "DragonBaby", "Football1", "Skiing", "Subway",
                       "UAV123_10fps-wakeboard7", "VOT2013-bicycle", "DAVIS16-camel", "DAVIS16-cows",
                       "DAVIS16-drift-straight", "DAVIS16-horsejump-high")
# Per family: probability of (test, validation) for one video group; the rest is train.
SPLIT_PROBABILITIES = {"DAVIS": (0.13, 0.12), "SegTrack": (0.0, 0.0)}
SPLIT_DEFAULT_PROBABILITIES = (0.45, 0.27)
PREVIOUS_VALIDATION_P_VALIDATION = 0.5
# split: (min sequences, max sequences, min frames, max frames, min mask sequences)
SPLIT_LIMITS = {"test": (20, 30, 7000, 10000, 4), "validation": (15, 20, 3800, 6000, 4)}
SPLIT_MIN_PER_FAMILY = {"OTB": 3, "VOT": 2, "UAV123": 2, "TinyTLP": 1}  # VOT counts VOT-TIR too
SPLIT_MIN_LONG, LONG_FRAMES = 3, 300
SPLIT_MIN_TRAIN_DAVIS, SPLIT_MIN_TRAIN_FRAMES = 28, 3500
SPLIT_TAGS = ("occlusion", "fast motion", "small target", "distractors")


def split_group(name: str, entry: Mapping[str, Any]) -> str:
    """Sequences cut from one video or one shoot share a group and always share a split.

    DAVIS: the name stem before the first '-' (drift-chicane/drift-turn/drift-straight, car-*, kite-*, ...);
    UAV123: the letters of the video name (truck4_1/truck4_2, group1_1/group3_2, building4/5, wakeboard7/10);
    every other sequence is its own group.
    """
    core = strip_family_prefix(name)
    family = family_of(entry)
    if family == "DAVIS":
        return "DAVIS:" + core.split("-")[0]
    if family == "UAV123":
        return "UAV123:" + re.match(r"[A-Za-z]*", core).group(0).lower()
    return name


def split_tags(entry: Mapping[str, Any]) -> set[str]:
    """Hard attributes of a manifest entry: OTB/DAVIS codes (OCC, FM, MB, LR, BC) or words of the attribute text."""
    attrs = [str(a) for a in entry.get("attributes") or ()]
    codes, text = set(attrs), " ".join(attrs).lower()
    tags = set()
    if "OCC" in codes or "occlu" in text:
        tags.add("occlusion")
    if {"FM", "MB"} & codes or "fast" in text or "motion blur" in text:
        tags.add("fast motion")
    if "LR" in codes or "small" in text or "low resolution" in text:
        tags.add("small target")
    if "BC" in codes or any(w in text for w in ("distractor", "look-alike", "people among", "similar", "clutter")):
        tags.add("distractors")
    return tags


# DAVIS sequences are not drawn: the lite model's mask branch was trained first, on a seeded draw of 32 of them
# (numpy default_rng(20261129) over the 44 sorted names: 6 validation, 6 test, the rest train). Validation and test
# hold only DAVIS sequences it never saw and that share no shoot with one it saw (drift-straight, drift-turn,
# bmx-bumps and scooter-black share one with a trained sequence, so they go to train as well).
DAVIS_VALIDATION = ("DAVIS16-cows", "DAVIS16-elephant", "DAVIS16-hockey", "DAVIS16-train")
DAVIS_TEST = ("DAVIS16-bear", "DAVIS16-libby", "DAVIS16-motorbike", "DAVIS16-parkour")
DAVIS_MASK_TRAINED = (
    "DAVIS16-blackswan", "DAVIS16-bmx-trees", "DAVIS16-boat", "DAVIS16-breakdance-flare",
    "DAVIS16-bus", "DAVIS16-camel", "DAVIS16-car-roundabout", "DAVIS16-car-shadow",
    "DAVIS16-car-turn", "DAVIS16-dance-jump", "DAVIS16-dog", "DAVIS16-dog-agility",
    "DAVIS16-drift-chicane", "DAVIS16-flamingo", "DAVIS16-goat", "DAVIS16-hike",
    "DAVIS16-horsejump-high", "DAVIS16-horsejump-low", "DAVIS16-kite-surf", "DAVIS16-kite-walk",
    "DAVIS16-lucia", "DAVIS16-mallard-fly", "DAVIS16-mallard-water", "DAVIS16-paragliding",
    "DAVIS16-paragliding-launch", "DAVIS16-rhino", "DAVIS16-rollerblade", "DAVIS16-scooter-gray",
    "DAVIS16-stroller", "DAVIS16-surf", "DAVIS16-swing", "DAVIS16-tennis",
)


def draw_split(entries: Mapping[str, Any], seed: int) -> dict[str, str]:
    """One draw: each video group (sorted by key) gets test/validation/train from random.Random(seed)."""
    import random

    groups: dict[str, list[str]] = defaultdict(list)
    for name, entry in entries.items():
        groups[split_group(name, entry)].append(name)
    rng = random.Random(seed)
    out = {}
    for key in sorted(groups):
        names = groups[key]
        r = rng.random()
        p_test, p_val = SPLIT_PROBABILITIES.get(family_of(entries[names[0]]), SPLIT_DEFAULT_PROBABILITIES)
        if any(n in PREVIOUS_VALIDATION for n in names):
            split = "validation" if r < PREVIOUS_VALIDATION_P_VALIDATION else "train"
        else:
            split = "test" if r < p_test else "validation" if r < p_test + p_val else "train"
        out.update({n: split for n in names})
    for name in out:
        if family_of(entries[name]) == "DAVIS":
            out[name] = ("validation" if name in DAVIS_VALIDATION else "test" if name in DAVIS_TEST else "train")
    return out


def split_problems(entries: Mapping[str, Any], assignment: Mapping[str, str]) -> list[str]:
    """The constraints of the split rule that ``assignment`` (name -> split) breaks (empty when it meets them all)."""
    problems = []
    for split, (n_lo, n_hi, f_lo, f_hi, min_masks) in SPLIT_LIMITS.items():
        names = [n for n, s in assignment.items() if s == split]
        frames = sum(entries[n]["frames"] for n in names)
        families: dict[str, int] = defaultdict(int)
        for n in names:
            families["VOT" if family_of(entries[n]).startswith("VOT") else family_of(entries[n])] += 1
        if not n_lo <= len(names) <= n_hi:
            problems.append(f"{split}: {len(names)} sequences, want {n_lo}-{n_hi}")
        if not f_lo <= frames <= f_hi:
            problems.append(f"{split}: {frames} frames, want {f_lo}-{f_hi}")
        for family, least in SPLIT_MIN_PER_FAMILY.items():
            if families[family] < least:
                problems.append(f"{split}: {families[family]} {family} sequences, want {least}+")
        masks = sum(bool(entries[n].get("has_masks")) for n in names)
        if masks < min_masks:
            problems.append(f"{split}: {masks} mask sequences, want {min_masks}+")
        long = sum(entries[n]["frames"] >= LONG_FRAMES and family_of(entries[n]) != "DAVIS" for n in names)
        if long < SPLIT_MIN_LONG:
            problems.append(f"{split}: {long} sequences of {LONG_FRAMES}+ frames, want {SPLIT_MIN_LONG}+")
        tags = set().union(set(), *(split_tags(entries[n]) for n in names))
        missing = [t for t in SPLIT_TAGS if t not in tags]
        if missing:
            problems.append(f"{split}: no sequence with {', '.join(missing)}")
        if split == "test":
            bad = [n for n in names if n in PREVIOUS_VALIDATION]
            if bad:
                problems.append(f"test holds previous validation sequences {bad}")
    train = [n for n, s in assignment.items() if s == "train"]
    davis = sum(family_of(entries[n]) == "DAVIS" for n in train)
    if davis < SPLIT_MIN_TRAIN_DAVIS:
        problems.append(f"train: {davis} DAVIS mask sequences, want {SPLIT_MIN_TRAIN_DAVIS}+")
    frames = sum(entries[n]["frames"] for n in train)
    if frames < SPLIT_MIN_TRAIN_FRAMES:
        problems.append(f"train: {frames} frames, want {SPLIT_MIN_TRAIN_FRAMES}+")
    return problems


def propose_split(entries: Mapping[str, Any], max_seed: int = 1_000_000) -> tuple[int, dict[str, str]]:
    """The first seed (0, 1, 2, ...) whose draw meets every constraint, and its assignment."""
    for seed in range(max_seed):
        assignment = draw_split(entries, seed)
        if not split_problems(entries, assignment):
            return seed, assignment
    raise RuntimeError(f"no seed below {max_seed} meets the split constraints")


SPLIT_DESCRIPTION = (
    "Train/validation/test split of data/sequences (built by tools/data/build_sequences.py: the shared sequences "
    "plus the ones fetched from attsiammask_core/data/sources.json), decided once, before any result on it, by a "
    "seeded draw (tools/data/build_sequences.py --propose-split; draw_split/split_problems). Rule: sequences cut "
    "from one video or one shoot form a group that always shares a split (DAVIS: name stem before the first '-'; "
    "UAV123: letters of the video name); each group, in sorted order, draws random.Random(seed): every family "
    "but DAVIS and SegTrack (OTB, VOT, VOT-TIR, UAV123, TinyTLP) goes to test with p=0.45 and validation with "
    "p=0.27, the rest to train; SegTrack to train; groups holding a sequence of the previous validation split "
    "({prev}) never go to test (validation with p=0.5, else train). DAVIS is fixed (DAVIS_VALIDATION, DAVIS_TEST): "
    "the lite model's mask branch was trained first on a seeded draw of 32 DAVIS sequences, so validation and "
    "test hold only DAVIS sequences it never saw that share no shoot with one it saw (4 each), the rest train. "
    "Constraints: test 20-30 sequences and 7,000-10,000 frames, validation 15-20 sequences and 3,800-6,000 "
    "frames; each of them with 3+ OTB, 2+ VOT (incl. VOT-TIR), 2+ UAV123, 1+ TinyTLP, 3+ sequences of 300+ "
    "frames, 4+ mask sequences and at least one sequence with each of occlusion, fast motion, small target and "
    "distractors (attribute codes OCC, FM/MB, LR, BC or the same words in the manifest attributes); train keeps "
    "28+ DAVIS mask sequences and 3,500+ frames. The seed was drawn (first from 0 meeting the first version of "
    "these limits: test 25+ sequences, 5+ mask sequences, validation 4,000+ frames, DAVIS drawn like the rest) "
    "before any result on any split; fixing DAVIS afterwards left fewer test sequences and validation frames, "
    "and the limits were relaxed to that, with no result seen. "
    "Seed {seed}. Train: the model learns from these. Validation: tracking hyperparameters are tuned and "
    "models chosen on these. Test: reported only, never tuned on. Reserved videos (sources.json 'reserved') are "
    "in no split.")


def write_split(path: Path, entries: Mapping[str, Any], seed: int, assignment: Mapping[str, str]) -> None:
    def order(n: str) -> tuple[str, str]:
        return family_of(entries[n]), n.lower()

    data = {"description": SPLIT_DESCRIPTION.format(prev=", ".join(PREVIOUS_VALIDATION), seed=seed)}
    for split in ("train", "validation", "test"):
        data[split] = sorted((n for n, s in assignment.items() if s == split), key=order)
    path.write_text(json.dumps(data, indent=1) + "\n")


def print_totals(entries: Mapping[str, Any], sources: list[Mapping[str, Any]], split_file: Path) -> list[str]:
    problems = []
    print(f"total: {len(entries)} sequences, {sum(e['frames'] for e in entries.values())} frames, "
          f"{sum(bool(e.get('has_masks')) for e in entries.values())} with masks")
    for src in sources:
        names = [src["prefix"] + n for n in src["sequences"]]
        present = [n for n in names if n in entries]
        print(f"  source {src['id']} ({src['repo']}@{src['commit'][:8]}): {len(present)}/{len(names)} sequences, "
              f"{sum(entries[n]['frames'] for n in present)} frames")
    by_family: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for e in entries.values():
        f = by_family[family_of(e)]
        f[0] += 1
        f[1] += e["frames"]
        f[2] += bool(e.get("has_masks"))
    for fam, (n, frames, masks) in sorted(by_family.items()):
        print(f"  family {fam}: {n} sequences, {frames} frames, {masks} with masks")
    if split_file.is_file():
        split = load_json(split_file)
        seen: dict[str, str] = {}
        for key, names in split.items():
            if not isinstance(names, list):
                continue
            missing = [n for n in names if n not in entries]
            for n in names:
                if n in seen:
                    problems.append(f"split: {n} is in both {seen[n]} and {key}")
                seen[n] = key
            known = [n for n in names if n in entries]
            fams: dict[str, int] = defaultdict(int)
            for n in known:
                fams[family_of(entries[n])] += 1
            print(f"  split {key}: {len(names)} sequences, {sum(entries[n]['frames'] for n in known)} frames, "
                  f"{sum(bool(entries[n].get('has_masks')) for n in known)} with masks; "
                  + ", ".join(f"{k} {v}" for k, v in sorted(fams.items())))
            if missing:
                problems.append(f"split {key}: not in the data folder: {', '.join(missing)}")
        unused = sorted(set(entries) - set(seen))
        if unused:
            print(f"  in no split: {', '.join(unused)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, default=REPO_ROOT / "data" / "git-mirror",
                        help="folder of bare git directories <owner>+<name>/...; clones go here when missing")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "sequences")
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "sequences",
                        help="the shared sequence folder to link (skipped with a note when absent)")
    parser.add_argument("--sources", type=Path, default=SOURCES_FILE)
    parser.add_argument("--split", type=Path, default=SPLIT_FILE)
    parser.add_argument("--only", nargs="*", default=None, help="build only these source ids")
    parser.add_argument("--force", action="store_true",
                        help="rebuild the sequences of the selected sources even when they are complete")
    parser.add_argument("--no-verify", action="store_true", help="skip reading every sequence back")
    parser.add_argument("--propose-split", action="store_true",
                        help="draw the split by the rule (see SPLIT_DESCRIPTION) and write it to --split")
    args = parser.parse_args(argv)

    data = load_json(args.sources)
    problems = validate_sources(data)
    if problems:
        print("sources.json is not valid:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    reserved = data["reserved"]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    partial = out.parent / (out.name + ".partial")
    partial.mkdir(exist_ok=True)
    previous = (load_json(out / "manifest.json").get("sequences", {}) if (out / "manifest.json").is_file() else {})
    entries: dict[str, Any] = {}
    shared_names: set[str] = set()
    if (args.shared / "manifest.json").is_file():
        n = link_shared(args.shared, out, reserved, entries)
        shared_names = set(entries)
        print(f"shared: {n} sequences linked from {args.shared}")
    else:
        print(f"shared: {args.shared} absent, no shared sequences linked")
    # keep entries of sources not built in this run (--only)
    for name, entry in previous.items():
        if name not in entries and (out / name).is_dir() and not (out / name).is_symlink():
            entries[name] = entry
    write_manifest(out, entries)
    for src in data["sources"]:
        if args.only is not None and src["id"] not in args.only:
            continue
        print(f"source {src['id']}: {src['repo']} @ {src['commit'][:12]} {src['path']}", flush=True)
        built, skipped = build_source(src, args.mirror, out, partial, reserved, shared_names, entries, previous,
                                      force=args.force)
        write_manifest(out, entries)
        print(f"  built {built}, already there {skipped}")
    shutil.rmtree(partial, ignore_errors=True)
    if args.propose_split:
        seed, assignment = propose_split(entries)
        write_split(args.split, entries, seed, assignment)
        print(f"split: seed {seed} written to {args.split}")
    problems = [] if args.no_verify else verify(out, entries, shared_names)
    problems += print_totals(entries, data["sources"], args.split)
    if problems:
        print("problems:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("verified: every sequence reads back with the manifest's frame count, boxes inside the images"
          if not args.no_verify else "verification skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
