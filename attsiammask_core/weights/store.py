"""Our weights format: one torch file (a plain dict: format tag, string metadata naming the 'variant', the state
dict), read with torch.load(weights_only=True) so no code can run. `load_any` also takes official .pth files.

Format 1 was safetensors; format 2 needs no library beyond torch (rosdep has no key for safetensors, issue 12).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..models import SiamMask, build_model
from .checkpoints import (
    WeightsError,
    load_state_dict_object,
    load_state_strict,
    normalise_keys,
    read_torch_file,
    unwrap_state_dict,
)

FORMAT = "attsiammask-weights"
FORMAT_VERSION = "2"
SUFFIX = ".pt"
EMBEDDED_DIR = Path(__file__).resolve().parent


def embedded_weights_path(variant: str) -> Path | None:
    """The weights file shipped inside the package for `variant` (<variant>.pt here), if any."""
    path = EMBEDDED_DIR / f"{variant}{SUFFIX}"
    return path if path.is_file() else None


def is_safetensors(path: str | Path) -> bool:
    """True when the file starts like safetensors (8-byte little-endian header size, then '{'): format 1."""
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 0 < int.from_bytes(head[:8], "little") <= path.stat().st_size - 8


def _refuse_safetensors(path: Path) -> None:
    if is_safetensors(path):
        raise WeightsError(f"{path}: a safetensors file (weights format 1), which this version no longer reads; "
                           f"convert the original .pth again with `attsiammask convert SRC DST{SUFFIX}`")


def is_ours(obj: object) -> bool:
    """True for the object torch.load returns from a file written by save_weights."""
    return isinstance(obj, Mapping) and obj.get("format") == FORMAT


def save_weights(model: nn.Module, path: str | Path, metadata: Mapping[str, str]) -> int:
    """Write model.state_dict() in our format; metadata must name the 'variant'. Returns the tensor count."""
    if not isinstance(metadata.get("variant"), str) or not metadata["variant"]:
        raise WeightsError("save_weights: metadata must contain a non-empty 'variant' string")
    bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise WeightsError(f"save_weights: metadata values must be strings, not for {bad}")
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": dict(metadata),
               "state_dict": tensors}
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return len(tensors)


def _split(obj: Mapping, path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    version = obj.get("format_version")
    if version != FORMAT_VERSION:
        raise WeightsError(f"{path}: weights format version {version!r}, this version reads {FORMAT_VERSION!r}")
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or any(not isinstance(k, str) or not isinstance(v, str)
                                               for k, v in metadata.items()):
        raise WeightsError(f"{path}: the 'metadata' entry must be a dict of strings")
    state = obj.get("state_dict")
    if not isinstance(state, Mapping):
        raise WeightsError(f"{path}: no 'state_dict' entry")
    return unwrap_state_dict(state, source=str(path)), dict(metadata)


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a file written by save_weights; anything else raises WeightsError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    _refuse_safetensors(path)
    obj = read_torch_file(path)
    if not is_ours(obj):
        raise WeightsError(f"{path}: not an attsiammask weights file (no 'format': {FORMAT!r} entry; an official "
                           f"checkpoint is converted with `attsiammask convert`)")
    return _split(obj, path)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of one of our weights files; empty for an official .pth (which carries none)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    _refuse_safetensors(path)
    obj = read_torch_file(path)
    return _split(obj, path)[1] if is_ours(obj) else {}


def _check_variant(path: Path, metadata: Mapping[str, str], variant: str | None) -> None:
    found = metadata.get("variant")
    if variant is not None and found is not None and found != variant:
        raise WeightsError(f"{path}: holds weights of variant {found!r}, not {variant!r}")


def load_weights(path: str | Path, variant: str = "r50") -> SiamMask:
    """Build `variant` and load our weights file into it (its metadata must name that variant); eval mode."""
    path = Path(path)
    tensors, metadata = read_weights(path)
    if "variant" not in metadata:
        raise WeightsError(f"{path}: no 'variant' in the metadata; not written by save_weights")
    _check_variant(path, metadata, variant)
    model = build_model(variant)
    load_state_strict(model, tensors, source=str(path))
    return model.eval()


def load_any(path: str | Path, model: nn.Module, variant: str | None = None) -> str:
    """Load our weights (variant checked when given) or an official .pth into model; returns the format name:
    'attsiammask' for ours, else the official checkpoint's key layout ('pysot' or 'foolwood')."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    _refuse_safetensors(path)
    obj = read_torch_file(path)
    if not is_ours(obj):
        return load_state_dict_object(obj, model, source=str(path))
    tensors, metadata = _split(obj, path)
    _check_variant(path, metadata, variant)
    load_state_strict(model, normalise_keys(tensors), source=str(path))
    return "attsiammask"
