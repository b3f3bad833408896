"""The manifest of an `attsiammask export` folder (attsiammask_onnx.json), read and checked before any graph file
is opened: a malformed or hostile manifest (a field of the wrong type, a graph file outside the folder) is refused
with a ValueError naming the field, at a cost bounded by the manifest's size."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attsiammask_core.config import HEADS
from attsiammask_core.models.refine import Window

from .graphs import GRAPHS

MANIFEST = "attsiammask_onnx.json"
MAX_MANIFEST_BYTES = 1 << 20  # an export's manifest has a few KB


@dataclass(frozen=True)
class ExportManifest:
    """What the onnxruntime backend reads from a manifest: each graph's file, the box head, the refine windows and
    the weights' metadata."""

    graph_files: dict[str, Path]
    box_head: str
    windows: tuple[Window, ...]
    metadata: dict[str, str]


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{where}: '{key}' must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _graph_file(folder: Path, entry: Any, name: str, where: str) -> Path:
    """The graph's file: a plain name of a file inside the folder (no directories, never '..' or absolute)."""
    file = _field(entry, "file", str, f"{where}: graph {name!r}")
    if file in ("", ".", "..") or Path(file).name != file or "/" in file or "\\" in file:
        raise ValueError(f"{where}: graph {name!r} names {file!r}, which is not a file name inside the folder")
    path = folder / file
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing (listed in {where})")
    return path


def _window(item: Any, where: str) -> Window:
    if not isinstance(item, dict) or set(item) != {"pad", "size", "step"}:
        raise ValueError(f"{where}: each refine window must be {{'pad', 'size', 'step'}}, got {item!r:.200}")
    values = {k: _field(item, k, int, f"{where}: refine window") for k in ("pad", "size", "step")}
    if values["pad"] < 0 or values["size"] < 1 or values["step"] < 1 or max(values.values()) > 1 << 16:
        raise ValueError(f"{where}: refine window {values} out of range (pad >= 0, size and step >= 1)")
    return Window(**values)


def read_manifest(folder: str | Path) -> ExportManifest:
    """The checked manifest of an export folder; FileNotFoundError without one, ValueError naming what is wrong."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: weights file not found: a folder, and no `attsiammask export` folder "
                                f"(no {MANIFEST})")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes, more than a manifest's {MAX_MANIFEST_BYTES}")
    try:
        manifest = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, nesting too deep
        raise ValueError(f"{path}: not a JSON manifest ({type(exc).__name__}: {str(exc)[:200]})") from None
    where = str(path)
    graphs = _field(manifest, "graphs", dict, where)
    files = {name: _graph_file(folder, graphs.get(name), name, where) for name in GRAPHS}
    box_head = _field(manifest, "box_head", str, where)
    if box_head not in HEADS:
        raise ValueError(f"{where}: 'box_head' must be one of {HEADS}, got {box_head[:100]!r}")
    windows = tuple(_window(item, where) for item in _field(manifest, "refine_windows", list, where))
    if len(windows) != 3:
        raise ValueError(f"{where}: 'refine_windows' must hold 3 windows (f0, f1, f2), got {len(windows)}")
    metadata = _field(manifest, "metadata", dict, where)
    if not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{where}: 'metadata' must map names to strings")
    return ExportManifest(files, box_head, windows, dict(metadata))
