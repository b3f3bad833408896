"""Deployment: ONNX graphs of the tracking step's network parts and an onnxruntime backend with the model API."""
from .graphs import GRAPHS, GraphSpec, export_graphs
from .providers import PROVIDER_ALIASES, resolve_providers

__all__ = ["GRAPHS", "PROVIDER_ALIASES", "GraphSpec", "export_graphs", "resolve_providers"]
