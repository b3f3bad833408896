"""Precision of the onnxruntime backend's per-frame graphs: "fp32" (exported from the loaded weights) or "int8"
(onnxruntime static quantisation, shipped beside the embedded weights for the variants where it passed the bar: at
most 0.005 validation OPE AUC lost, and faster; made by tools/deploy/int8_check.py --write)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PRECISIONS = ("fp32", "int8")
INT8_GRAPHS = ("search", "template_features", "refine")  # per-frame; template_kernels (once per target) stays fp32
PROVENANCE_SUFFIX = "_int8.json"
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


def model_sha256(model: Any) -> str:
    """Digest of a torch module's state (names, dtypes, shapes and values of every parameter and buffer)."""
    import torch

    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{key}:{data.dtype}:{tuple(data.shape)};".encode())
        digest.update(data.flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def int8_provenance(variant: str, root: Path = WEIGHTS_DIR) -> Path:
    """``<variant>_int8.json`` beside the weights: where a variant's int8 graphs came from (their files are
    ``<variant>_int8_<graph>.onnx``, flat in the weights folder, which is package data, not a package)."""
    return root / f"{variant}{PROVENANCE_SUFFIX}"


def int8_graph_file(variant: str, name: str, root: Path = WEIGHTS_DIR) -> Path:
    return root / f"{variant}_int8_{name}.onnx"


def int8_variants(root: Path = WEIGHTS_DIR) -> list[str]:
    """The variants that ship int8 graphs."""
    return sorted(p.name[:-len(PROVENANCE_SUFFIX)] for p in root.glob(f"*{PROVENANCE_SUFFIX}"))


def check_precision(precision: str, backend: str, variant: str, root: Path = WEIGHTS_DIR) -> str:
    """``precision`` normalised; ValueError when it does not apply (unknown, int8 off onnxruntime, or a variant
    without int8 graphs)."""
    text = str(precision).strip().lower()
    if text not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if text == "int8":
        if backend != "onnxruntime":
            raise ValueError(f"precision 'int8' runs on the onnxruntime backend only (backend {backend!r})")
        if variant not in int8_variants(root):
            raise ValueError(f"precision 'int8': no int8 graphs ship for variant {variant!r} (they do for: "
                             f"{', '.join(int8_variants(root)) or 'none'}; see its model card for why); use 'fp32'")
    return text


def write_int8_graphs(variant: str, graphs: Mapping[str, bytes], weights_sha256: str, notes: Mapping[str, str],
                      root: Path = WEIGHTS_DIR) -> Path:
    """Store a variant's int8 per-frame graphs with their provenance (the digest of the weights they were made
    from, each file's digest, how); returns the provenance file."""
    files = {}
    for name in INT8_GRAPHS:
        int8_graph_file(variant, name, root).write_bytes(graphs[name])
        files[name] = hashlib.sha256(graphs[name]).hexdigest()
    provenance = int8_provenance(variant, root)
    provenance.write_text(json.dumps({"variant": variant, "model_sha256": weights_sha256, "files": files, **notes},
                                     indent=1) + "\n")
    return provenance


def read_int8_graphs(variant: str, weights_sha256: str, root: Path = WEIGHTS_DIR) -> dict[str, bytes]:
    """The shipped int8 graphs of ``variant``; ValueError when they were made from other weights than the loaded
    ones (digest ``weights_sha256``) or a file does not match its recorded digest."""
    provenance = json.loads(int8_provenance(variant, root).read_text())
    if provenance.get("model_sha256") != weights_sha256:
        raise ValueError(f"precision 'int8': the shipped int8 graphs of {variant!r} were made from the embedded "
                         "weights, not from the weights loaded now; use 'fp32' with other weights")
    graphs = {}
    for name in INT8_GRAPHS:
        path = int8_graph_file(variant, name, root)
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != provenance["files"].get(name):
            raise ValueError(f"precision 'int8': {path} does not match its recorded digest")
        graphs[name] = data
    return graphs


def precision_graphs(variant: str, model: Any, precision: str, weights_sha256: str | None = None
                     ) -> dict[str, bytes] | None:
    """The graphs that replace ``model``'s exported ones at ``precision`` (a checked value): the shipped int8
    graphs for "int8" (``weights_sha256``: the model's digest when the caller has it), None for "fp32"."""
    if precision != "int8":
        return None
    return read_int8_graphs(variant, weights_sha256 or model_sha256(model))
