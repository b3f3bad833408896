"""The network parts of one tracking step as ONNX graphs with fixed input sizes, for either variant.

Graphs (inputs -> outputs; shapes for lite / r50):
- template_features: z (N,3,127,127) -> zf (N,48,8,8) / (N,256,7,7) (also the presence check of tracked boxes)
- template_kernels: zf -> cls_kernel, loc_kernel, mask_kernel (the template-side convs, once per target). The
  attention step weights zf (or the kernels) between this graph and the next, outside any graph.
- search: x (N,3,255,255), cls_kernel, loc_kernel, mask_kernel -> cls, loc, mask_corr, f0, f1, f2 (backbone,
  correlations, box/score heads, mask features, and the backbone levels the refine module reads; one graph,
  measured 0.6 ms faster a frame than two at 2 threads). N (the batch axis, dynamic) = the targets tracked on a
  frame, each row with its own kernels (tracker.track_targets).
- refine: p0, p1, p2, p3 (the windows of f0, f1, f2 and the mask_corr vector at the chosen cell) -> logits
  (N,1,127,127). The windows are cut outside the graph, at the cell the tracker picks.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import torch
from torch import nn

OPSET = 17
BATCHED = frozenset({"template_features", "search", "refine"})  # dynamic batch axis: one run for several targets
TEMPLATE_SIZE = 127
SEARCH_SIZE = 255


@dataclass(frozen=True)
class GraphSpec:
    """One exported graph: its file stem and the names of its inputs and outputs."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


GRAPHS: dict[str, GraphSpec] = {spec.name: spec for spec in (
    GraphSpec("template_features", ("z",), ("zf",)),
    GraphSpec("template_kernels", ("zf",), ("cls_kernel", "loc_kernel", "mask_kernel")),
    GraphSpec("search", ("x", "cls_kernel", "loc_kernel", "mask_kernel"),
              ("cls", "loc", "mask_corr", "f0", "f1", "f2")),
    GraphSpec("refine", ("p0", "p1", "p2", "p3"), ("logits",)),
)}


class _TemplateFeatures(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.template_features(z)


class _TemplateKernels(_TemplateFeatures):
    def forward(self, zf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # type: ignore[override]
        k = self.model.template_kernels(zf)
        return k.cls, k.loc, k.mask


class _Search(_TemplateFeatures):
    def forward(self, x: torch.Tensor, cls_kernel: torch.Tensor, loc_kernel: torch.Tensor,  # type: ignore[override]
                mask_kernel: torch.Tensor) -> tuple[torch.Tensor, ...]:
        kernels = _kernels_like(self.model, cls_kernel, loc_kernel, mask_kernel)
        out = self.model.search_heads(self.model.search_features(x), kernels)
        return out.cls, out.loc, out.mask_corr, out.f0, out.f1, out.f2


class _Refine(_TemplateFeatures):
    def forward(self, p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor,  # type: ignore[override]
                p3: torch.Tensor) -> torch.Tensor:
        return self.model.refine_head.fuse(p0, p1, p2, p3)


def _kernels_like(model: nn.Module, cls: torch.Tensor, loc: torch.Tensor, mask: torch.Tensor):  # type: ignore[no-untyped-def]
    """The kernels dataclass of `model` (TemplateKernels or PointKernels) holding these tensors."""
    from attsiammask_core.models.lite import PointKernels
    from attsiammask_core.models.siammask import TemplateKernels

    factory = PointKernels if getattr(model, "box_head", "anchor") == "point" else TemplateKernels
    return factory(cls=cls, loc=loc, mask=mask)


def example_inputs(model: nn.Module) -> dict[str, tuple[torch.Tensor, ...]]:
    """Inputs of the right shapes for every graph (zeros), computed with the model itself."""
    with torch.no_grad():
        z = torch.zeros(1, 3, TEMPLATE_SIZE, TEMPLATE_SIZE)
        x = torch.zeros(1, 3, SEARCH_SIZE, SEARCH_SIZE)
        zf = model.template_features(z)
        k = model.template_kernels(zf)
        feats = model.search_features(x)
        out = model.search_heads(feats, k)
        cells = out.cls.shape[-1]
        windows = model.refine_head.windows_at(out.f0, out.f1, out.f2, out.mask_corr, (cells // 2, cells // 2))
    return {"template_features": (z,), "template_kernels": (zf,), "search": (x, k.cls, k.loc, k.mask),
            "refine": tuple(windows)}


WRAPPERS = {"template_features": _TemplateFeatures, "template_kernels": _TemplateKernels, "search": _Search,
            "refine": _Refine}


def export_graphs(model: nn.Module, opset: int = OPSET) -> dict[str, bytes]:
    """Serialised ONNX graphs of `model`'s tracking step (eval mode, float32, CPU), by graph name.

    Uses torch's TorchScript-based exporter (torch alone; the dynamo exporter needs onnxscript).
    """
    model = model.eval()
    device = next(model.parameters()).device
    if device.type != "cpu":
        raise ValueError(f"export the model on the CPU (it is on {device})")
    traced = model.__dict__.pop("_traced", None)  # lite's TorchScript fast paths: export the modules themselves
    try:
        return _export_each(model, opset)
    finally:
        if traced is not None:
            model.__dict__["_traced"] = traced


def _export_one(model: nn.Module, name: str, args: tuple[torch.Tensor, ...], buffer: io.BytesIO, opset: int,
                batched: bool) -> None:
    spec = GRAPHS[name]
    axes = {key: {0: "batch"} for key in (*spec.inputs, *spec.outputs)} if batched else None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice and shape-constant tracer notes
        torch.onnx.export(WRAPPERS[name](model).eval(), args, buffer, dynamo=False, opset_version=opset,
                          input_names=list(spec.inputs), output_names=list(spec.outputs), do_constant_folding=True,
                          dynamic_axes=axes)


def _export_each(model: nn.Module, opset: int) -> dict[str, bytes]:
    graphs = {}
    for name, args in example_inputs(model).items():
        buffer = io.BytesIO()
        try:
            _export_one(model, name, args, buffer, opset, batched=name in BATCHED)
        except torch.onnx.errors.SymbolicValueError:  # r50's depthwise correlation (a reshape into a grouped
            buffer = io.BytesIO()                       # convolution) has no dynamic-batch export: batch 1 only
            _export_one(model, name, args, buffer, opset, batched=False)
        graphs[name] = buffer.getvalue()
    return graphs
