"""Our weights format: safetensors with a 'variant' entry in its metadata; `load_any` also takes official .pth."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from ..models import SiamMask, build_model
from .checkpoints import WeightsError, load_checkpoint, load_state_strict, normalise_keys

FORMAT = "attsiammask-weights"
FORMAT_VERSION = "1"
EMBEDDED_DIR = Path(__file__).resolve().parent


def embedded_weights_path(variant: str) -> Path | None:
    """The weights file shipped inside the package for `variant` (<variant>.safetensors here), if any."""
    path = EMBEDDED_DIR / f"{variant}.safetensors"
    return path if path.is_file() else None


def is_safetensors(path: str | Path) -> bool:
    """True when the file starts like safetensors: an 8-byte little-endian header size, then '{'."""
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 0 < int.from_bytes(head[:8], "little") <= path.stat().st_size - 8


def save_weights(model: nn.Module, path: str | Path, metadata: Mapping[str, str]) -> int:
    """Write model.state_dict() as safetensors; metadata must name the 'variant'. Returns the tensor count."""
    if not isinstance(metadata.get("variant"), str) or not metadata["variant"]:
        raise WeightsError("save_weights: metadata must contain a non-empty 'variant' string")
    bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise WeightsError(f"save_weights: metadata values must be strings, not for {bad}")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {**metadata, "format": FORMAT, "format_version": FORMAT_VERSION}
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(save_safetensors_bytes(tensors, metadata=meta))
    os.replace(tmp, path)
    return len(tensors)


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; a corrupt file raises WeightsError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    data = path.read_bytes()
    try:
        tensors = load_safetensors_bytes(data)
        size = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + size])
    except (SafetensorError, ValueError) as err:
        raise WeightsError(f"{path}: not a readable safetensors file ({err})") from None
    metadata = header.get("__metadata__") or {}
    return tensors, dict(metadata)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a safetensors file from its header alone (the tensors are not read)."""
    path = Path(path)
    with path.open("rb") as f:
        size = int.from_bytes(f.read(8), "little")
        if not 0 < size <= min(path.stat().st_size - 8, 100_000_000):
            raise WeightsError(f"{path}: not a safetensors file (header size {size})")
        try:
            header = json.loads(f.read(size))
        except ValueError as err:
            raise WeightsError(f"{path}: unreadable safetensors header ({err})") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return {str(k): str(v) for k, v in (metadata or {}).items()}


def _check_variant(path: Path, metadata: Mapping[str, str], variant: str | None) -> None:
    found = metadata.get("variant")
    if variant is not None and found is not None and found != variant:
        raise WeightsError(f"{path}: holds weights of variant {found!r}, not {variant!r}")


def load_weights(path: str | Path, variant: str = "r50") -> SiamMask:
    """Build `variant` and load our safetensors file into it (its metadata must name that variant); eval mode."""
    path = Path(path)
    tensors, metadata = read_weights(path)
    if "variant" not in metadata:
        raise WeightsError(f"{path}: no 'variant' in the metadata; not written by save_weights")
    _check_variant(path, metadata, variant)
    model = build_model(variant)
    load_state_strict(model, tensors, source=str(path))
    return model.eval()


def load_any(path: str | Path, model: nn.Module, variant: str | None = None) -> str:
    """Load safetensors (ours; variant checked when given) or an official .pth into model; returns the format."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if not is_safetensors(path):
        return load_checkpoint(path, model)
    tensors, metadata = read_weights(path)
    _check_variant(path, metadata, variant)
    load_state_strict(model, normalise_keys(tensors), source=str(path))
    return "safetensors"
