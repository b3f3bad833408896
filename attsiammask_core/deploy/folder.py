"""`attsiammask export`'s output: one .onnx file per graph (variant and tracking values in each graph's metadata)
and a manifest, attsiammask_onnx.json, with the names and shapes of every input and output."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import torch

from .graphs import GRAPHS, OPSET, WRAPPERS, example_inputs, export_graphs
from .ort_model import MANIFEST


def _shapes(model: torch.nn.Module) -> dict[str, dict[str, dict[str, list[int]]]]:
    """Input and output shapes of every graph, from running the torch model on the example inputs."""
    shapes = {}
    with torch.no_grad():
        for name, args in example_inputs(model).items():
            outputs = WRAPPERS[name](model)(*args)
            outputs = outputs if isinstance(outputs, tuple) else (outputs,)
            spec = GRAPHS[name]
            shapes[name] = {"inputs": {k: list(a.shape) for k, a in zip(spec.inputs, args, strict=True)},
                            "outputs": {k: list(o.shape) for k, o in zip(spec.outputs, outputs, strict=True)}}
    return shapes


def write_export(model: torch.nn.Module, out: str | Path, metadata: Mapping[str, str]) -> dict:
    """Export `model`'s graphs into folder `out` with `metadata` (must name the 'variant'); returns the manifest."""
    import onnx  # the export's own dependency (extra "onnx"); onnxruntime alone runs the files

    if not metadata.get("variant"):
        raise ValueError("export metadata must name the 'variant'")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    graphs = export_graphs(model)
    shapes = _shapes(model)
    entries = {}
    for name, data in graphs.items():
        proto = onnx.load_from_string(data)
        for key, value in sorted(metadata.items()):
            proto.metadata_props.add(key=key, value=str(value))
        proto.metadata_props.add(key="attsiammask_graph", value=name)
        onnx.checker.check_model(proto)
        path = out / f"{name}.onnx"
        path.write_bytes(proto.SerializeToString())
        entries[name] = {"file": path.name, **shapes[name]}
    manifest = {
        "format": "attsiammask-onnx", "format_version": "1", "opset": OPSET, "torch": torch.__version__,
        "box_head": model.box_head, "refine_windows": [dataclasses.asdict(w) for w in model.refine_head.windows],
        "metadata": dict(metadata), "graphs": entries,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest

