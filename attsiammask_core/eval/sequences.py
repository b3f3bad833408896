"""Readers for tracking sequences: our shared folder layout (OTB/UAV/VOT/DAVIS converted), VOT and DAVIS folders.

Every reader returns a :class:`Sequence` with boxes as (N,4) float64 ``xywh`` in 0-based pixels (NaN rows
where the target is absent). Frame order is the natural sort of the file names (digit runs compared as
numbers; for zero-padded names this is plain sorted order). Nothing is read at import time and no path
is guessed from this file's location except the packaged split file.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from attsiammask_core.eval.metrics import polygon_to_box_xywh

__all__ = [
    "IMAGE_SUFFIXES", "Sequence", "read_sequence_folder", "read_vot_folder", "read_davis_folder", "read_any",
    "load_split", "split_names", "discover", "parse_index_base", "tight_box_xywh", "list_images",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_FRAME_DIRS = ("img", "JPEGImages")
_MASK_DIRS = ("masks", "Annotations")


def _readonly(a: np.ndarray | None) -> np.ndarray | None:
    """A read-only float64 copy (None stays None)."""
    if a is None:
        return None
    out = np.array(a, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Sequence:
    """One annotated video: frame files, (N,4) xywh 0-based boxes (NaN = absent), optional polygons and masks."""

    name: str
    frame_paths: tuple[Path, ...]
    boxes: np.ndarray
    polygons: np.ndarray | None
    mask_paths: tuple[Path, ...] | None
    attributes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.frame_paths)
        boxes = _readonly(self.boxes)
        if boxes.ndim != 2 or boxes.shape != (n, 4):
            raise ValueError(f"{self.name}: boxes must be ({n},4), got {boxes.shape}")
        polygons = _readonly(self.polygons)
        if polygons is not None and polygons.shape != (n, 8):
            raise ValueError(f"{self.name}: polygons must be ({n},8), got {polygons.shape}")
        if self.mask_paths is not None and len(self.mask_paths) != n:
            raise ValueError(f"{self.name}: {len(self.mask_paths)} masks for {n} frames")
        object.__setattr__(self, "frame_paths", tuple(Path(p) for p in self.frame_paths))
        if self.mask_paths is not None:
            object.__setattr__(self, "mask_paths", tuple(Path(p) for p in self.mask_paths))
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "polygons", polygons)
        object.__setattr__(self, "attributes", tuple(self.attributes))

    def __len__(self) -> int:
        return len(self.frame_paths)

    def frame(self, i: int) -> np.ndarray:
        """Frame i as HxWx3 uint8 BGR (cv2.imread); OSError naming the file when it cannot be read."""
        path = self.frame_paths[i]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"{self.name}: cannot read frame {i} ({path}): missing or not an image")
        return image

    def mask(self, i: int) -> np.ndarray | None:
        """Ground-truth mask of frame i as HxW bool (pixel > 0 in any channel); None for sequences without masks."""
        if self.mask_paths is None:
            return None
        path = self.mask_paths[i]
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise OSError(f"{self.name}: cannot read mask {i} ({path}): missing or not an image")
        return image > 0 if image.ndim == 2 else np.any(image > 0, axis=2)


def _natural_key(path: Path) -> list[Any]:
    """Sort key comparing digit runs as numbers: 2.jpg < 10.jpg; zero-padded names keep plain order."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def list_images(folder: Path) -> list[Path]:
    """Image files of a folder (by suffix, case-insensitive) in natural name order."""
    return sorted((p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=_natural_key)


def _require_dir(path: Path, what: str) -> Path:
    """The folder, or FileNotFoundError naming what was expected."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def _parse_groundtruth(path: Path, allow_empty: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Lines of 4 (xywh) or 8 (polygon) numbers split by commas/whitespace -> (boxes, polygons or None).

    ``nan`` values make the row NaN; empty lines are NaN rows when ``allow_empty`` (VOT) and errors
    otherwise. Trailing blank lines at the end of the file are ignored. Errors name the file and line.
    """
    if not path.is_file():
        raise FileNotFoundError(f"ground truth not found: {path}")
    lines = path.read_text().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows: list[np.ndarray] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            if not allow_empty:
                raise ValueError(f"{path}: line {number} is empty (write nan,nan,nan,nan for an absent target)")
            rows.append(np.full(4, np.nan))
            continue
        if text[0] in "mM":
            raise ValueError(f"{path}: line {number}: VOT mask (RLE) regions are not supported: {text[:40]!r}")
        tokens = [t for t in re.split(r"[,\s;]+", text) if t]
        try:
            values = np.array([float(t) for t in tokens], dtype=np.float64)
        except ValueError:
            raise ValueError(f"{path}: line {number}: not numbers: {text[:80]!r}") from None
        if len(values) not in (4, 8) and not (len(values) == 1 and np.isnan(values[0])):
            raise ValueError(f"{path}: line {number}: expected 4 (x,y,w,h) or 8 (polygon) numbers, "
                             f"got {len(values)}: {text[:80]!r}")
        if np.isinf(values).any():
            raise ValueError(f"{path}: line {number}: infinite value: {text[:80]!r}")
        if np.isnan(values).any():
            values = np.full(len(values) if len(values) in (4, 8) else 4, np.nan)
        rows.append(values)
    if not any(len(r) == 8 for r in rows):
        boxes = np.stack(rows) if rows else np.zeros((0, 4))
        return boxes, None
    polygons = np.stack([r if len(r) == 8 else _box_row_to_polygon(r) for r in rows])
    return polygon_to_box_xywh(polygons), polygons


def _box_row_to_polygon(box: np.ndarray) -> np.ndarray:
    """(4,) xywh -> (8,) corners x1,y1,...,x4,y4 clockwise from the top-left (NaN stays NaN)."""
    x, y, w, h = box
    return np.array([x, y, x + w, y, x + w, y + h, x, y + h], dtype=np.float64)


def parse_index_base(value: Any) -> int:
    """Manifest ``index_base`` (0, 1, "1-based (...)", "0-based ...", "coords ... (0-based assumed ...)") -> 0 or 1."""
    if isinstance(value, bool):
        raise ValueError(f"index_base must be 0 or 1, got {value!r}")
    if isinstance(value, int):
        if value in (0, 1):
            return value
        raise ValueError(f"index_base must be 0 or 1, got {value!r}")
    if isinstance(value, str):
        found = re.search(r"\b([01])-based", value)
        if found:
            return int(found.group(1))
    raise ValueError(f"cannot tell the index base from {value!r} (expected 0, 1 or text with '0-based'/'1-based')")


def _manifest_entries(manifest: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Name -> entry mapping from a whole manifest ({"sequences": {...}}) or from the mapping itself."""
    if manifest is None:
        return {}
    entries = manifest.get("sequences", manifest)
    if isinstance(entries, list):  # tolerate a list of entries with "name"
        return {e["name"]: e for e in entries if isinstance(e, Mapping) and "name" in e}
    if not isinstance(entries, Mapping):
        raise ValueError("manifest: 'sequences' must be a mapping of folder name -> entry")
    return entries


def _load_manifest(path: Path) -> dict[str, Any] | None:
    """manifest.json at ``path`` or None when absent; ValueError naming the file when it is not JSON."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None


def _entry_for(folder: Path, manifest: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The manifest entry of this folder name: from ``manifest`` if it has one, else from a sibling manifest.json."""
    entry = _manifest_entries(manifest).get(folder.name)
    if entry is None:
        entry = _manifest_entries(_load_manifest(folder.parent / "manifest.json")).get(folder.name)
    return entry


def _shift(boxes: np.ndarray, polygons: np.ndarray | None, index_base: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert 1-based coordinates to 0-based: subtract index_base from x, y (and every polygon coordinate)."""
    if index_base == 0:
        return boxes, polygons
    boxes = boxes.copy()
    boxes[:, :2] -= index_base
    if polygons is not None:
        polygons = polygons - index_base
    return boxes, polygons


def _check_count(name: str, frames: int, labels: int, what: str, where: Path) -> None:
    """ValueError when a per-frame file count disagrees with the number of frames."""
    if frames != labels:
        raise ValueError(f"{name}: {frames} frames but {labels} {what} ({where})")


def read_sequence_folder(path: str | Path, index_base: int | None = None,
                         manifest: Mapping[str, Any] | None = None) -> Sequence:
    """Folder with img/, groundtruth.txt (x,y,w,h or 8-number polygons, nan rows) and optional masks/.

    ``index_base`` 1 subtracts 1 from x, y (OTB/UAV123). None: the manifest entry of this folder name
    (from ``manifest``, else from a manifest.json next to the folder), else 0. Attributes come from the entry.
    """
    folder = _require_dir(Path(path), "sequence folder")
    name = folder.name
    frames = list_images(_require_dir(folder / "img", f"{name}: frame folder img/"))
    boxes, polygons = _parse_groundtruth(folder / "groundtruth.txt", allow_empty=False)
    _check_count(name, len(frames), len(boxes), "ground-truth lines", folder / "groundtruth.txt")
    entry = _entry_for(folder, manifest)
    if index_base is None:
        index_base = parse_index_base(entry["index_base"]) if entry and "index_base" in entry else 0
    else:
        index_base = parse_index_base(index_base)
    boxes, polygons = _shift(boxes, polygons, index_base)
    if entry and isinstance(entry.get("frames"), int):
        _check_count(name, len(frames), entry["frames"], "frames in the manifest entry", folder)
    mask_paths = None
    if (folder / "masks").is_dir():
        masks = list_images(folder / "masks")
        _check_count(name, len(frames), len(masks), "masks", folder / "masks")
        mask_paths = tuple(masks)
    elif entry and entry.get("has_masks"):
        raise FileNotFoundError(f"{name}: the manifest says it has masks but {folder / 'masks'} is missing")
    attributes = tuple(str(a) for a in (entry.get("attributes") or ())) if entry else ()
    return Sequence(name=name, frame_paths=tuple(frames), boxes=boxes, polygons=polygons,
                    mask_paths=mask_paths, attributes=attributes)


def read_vot_folder(path: str | Path, index_base: int = 0) -> Sequence:
    """VOT folder: frames in color/ (or directly in the folder) + groundtruth.txt of polygons or x,y,w,h (0-based).

    Polygons are kept; boxes are their axis-aligned min/max boxes. nan or empty lines -> NaN rows.
    """
    folder = _require_dir(Path(path), "VOT sequence folder")
    frame_dir = folder / "color" if (folder / "color").is_dir() else folder
    frames = list_images(frame_dir)
    if not frames:
        raise FileNotFoundError(f"{folder.name}: no frames in {frame_dir}")
    boxes, polygons = _parse_groundtruth(folder / "groundtruth.txt", allow_empty=True)
    _check_count(folder.name, len(frames), len(boxes), "ground-truth lines", folder / "groundtruth.txt")
    boxes, polygons = _shift(boxes, polygons, parse_index_base(index_base))
    return Sequence(name=folder.name, frame_paths=tuple(frames), boxes=boxes, polygons=polygons, mask_paths=None)


def tight_box_xywh(mask: np.ndarray) -> np.ndarray:
    """Tight box of a mask's non-zero pixels, (x_min, y_min, x_max-x_min+1, y_max-y_min+1); NaN if empty."""
    m = np.asarray(mask)
    m = m > 0 if m.ndim == 2 else np.any(m > 0, axis=2)
    ys, xs = np.nonzero(m)
    if xs.size == 0:
        return np.full(4, np.nan)
    return np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], dtype=np.float64)


def _find_image_dir(base: Path, name: str) -> Path | None:
    """base itself when it holds images, else base/<name>, base/480p/<name>, base/<any resolution>/<name>."""
    candidates = [base, base / name, base / "480p" / name]
    if base.is_dir():
        candidates += sorted(sub / name for sub in base.iterdir() if sub.is_dir())
    for c in candidates:
        if c.is_dir() and list_images(c):
            return c
    return None


def read_davis_folder(path: str | Path, name: str | None = None) -> Sequence:
    """DAVIS style: frames in img/ or JPEGImages/ and one mask per frame in masks/ or Annotations/.

    ``path`` is the sequence folder, or a DAVIS root with ``name`` (JPEGImages/480p/<name>, Annotations/480p/
    <name>). Boxes are the tight boxes of the masks (0-based; NaN where a mask is empty).
    """
    folder = _require_dir(Path(path), "DAVIS folder")
    name = name or folder.name
    frame_dir = next((d for d in (_find_image_dir(folder / s, name) for s in _FRAME_DIRS) if d), None)
    mask_dir = next((d for d in (_find_image_dir(folder / s, name) for s in _MASK_DIRS) if d), None)
    if frame_dir is None:
        raise FileNotFoundError(f"{name}: no frames in {folder}/img or {folder}/JPEGImages[/480p]/{name}")
    if mask_dir is None:
        raise FileNotFoundError(f"{name}: no masks in {folder}/masks or {folder}/Annotations[/480p]/{name}")
    frames, masks = list_images(frame_dir), list_images(mask_dir)
    _check_count(name, len(frames), len(masks), "masks", mask_dir)
    boxes = []
    for p in masks:
        image = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise OSError(f"{name}: cannot read mask {p}")
        boxes.append(tight_box_xywh(image))
    return Sequence(name=name, frame_paths=tuple(frames), boxes=np.stack(boxes), polygons=None,
                    mask_paths=tuple(masks))


def _layout(folder: Path) -> str | None:
    """'folder' (img/ + groundtruth.txt), 'davis', 'vot' or None when nothing looks like a sequence."""
    has_gt = (folder / "groundtruth.txt").is_file()
    if has_gt and (folder / "img").is_dir():
        return "folder"
    if any((folder / d).is_dir() for d in ("JPEGImages", "Annotations")) or (
            (folder / "img").is_dir() and (folder / "masks").is_dir()):
        return "davis"
    if has_gt and ((folder / "color").is_dir() or list_images(folder)):
        return "vot"
    return None


def read_any(path: str | Path, index_base: int | None = None, manifest: Mapping[str, Any] | None = None) -> Sequence:
    """Detect the layout and read: img/+groundtruth.txt (shared layout), DAVIS masks, or VOT (color/ or frames)."""
    folder = _require_dir(Path(path), "sequence folder")
    layout = _layout(folder)
    if layout == "folder":
        return read_sequence_folder(folder, index_base=index_base, manifest=manifest)
    if layout == "davis":
        return read_davis_folder(folder)
    if layout == "vot":
        return read_vot_folder(folder, index_base=0 if index_base is None else index_base)
    content = sorted(p.name for p in folder.iterdir())[:10]
    raise ValueError(f"{folder}: not a sequence folder (expected img/ + groundtruth.txt, color/ or frames + "
                     f"groundtruth.txt, or JPEGImages/ + Annotations/); found {content}")


def _split_data(split_file: Path | None) -> dict[str, Any]:
    """The split JSON: the given file or the packaged attsiammask_core/data/split.json."""
    if split_file is not None:
        path = Path(split_file)
        if not path.is_file():
            raise FileNotFoundError(f"split file not found: {path}")
        text = path.read_text()
    else:
        text = resources.files("attsiammask_core").joinpath("data", "split.json").read_text()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("split file must be a JSON object of split name -> list of sequence names")
    return data


def split_names(split_file: Path | None = None) -> list[str]:
    """Names of the splits in a split file (keys whose value is a list of names)."""
    data = _split_data(split_file)
    return sorted(k for k, v in data.items() if isinstance(v, list))


def load_split(name: str = "validation", split_file: Path | None = None) -> list[str]:
    """Sequence names of one split ("train", "validation") from the packaged split.json or ``split_file``."""
    data = _split_data(split_file)
    value = data.get(name)
    if not isinstance(value, list):
        known = sorted(k for k, v in data.items() if isinstance(v, list))
        raise ValueError(f"unknown split {name!r}; known splits: {', '.join(known)}")
    return [str(v) for v in value]


def discover(data_dir: str | Path, names: list[str] | None = None) -> list[Sequence]:
    """Sequences of ``data_dir`` (sub-folders in name order, non-sequence folders skipped) or the named ones in
    the given order (FileNotFoundError listing missing names); data_dir/manifest.json is used when present."""
    root = _require_dir(Path(data_dir), "data folder")
    manifest = _load_manifest(root / "manifest.json")
    if names is None:
        folders = [p for p in sorted(root.iterdir(), key=lambda p: p.name) if p.is_dir() and _layout(p)]
    else:
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"sequence names repeated: {duplicates}")
        missing = [n for n in names if not (root / n).is_dir()]
        if missing:
            raise FileNotFoundError(f"sequences not found in {root}: {', '.join(missing)}")
        folders = [root / n for n in names]
    return [read_any(f, manifest=manifest) for f in folders]
