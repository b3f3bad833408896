"""The onnxruntime backend: the five graphs of deploy/graphs.py behind the same methods the Tracker calls on a
torch model (template_features, template_kernels, search_features, search_heads, refine), so tracking logic,
the attention step and the node are shared by both backends. Tensors cross as numpy arrays (no copies)."""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from attsiammask_core.models.refine import Window

from .graphs import GRAPHS
from .manifest import MANIFEST, read_manifest  # noqa: F401 (MANIFEST: folder.py, tracker.py, tests import it here)
from .providers import resolve_providers


@dataclass
class OrtKernels:
    """Template kernels as numpy arrays (what the search_heads graph takes); attention may replace them."""

    cls: torch.Tensor
    loc: torch.Tensor
    mask: torch.Tensor


@dataclass
class OrtSearchInput:
    """The search crop, held until search_heads runs the one search graph with the kernels."""

    x: np.ndarray


@dataclass
class OrtSearchOutput:
    cls: torch.Tensor
    loc: torch.Tensor
    mask_corr: np.ndarray
    f0: np.ndarray
    f1: np.ndarray
    f2: np.ndarray


def session_options(threads: int | None = None):  # type: ignore[no-untyped-def]
    """onnxruntime session options of every graph we run: full graph optimisation, `threads` intra-op threads
    (default torch's count), one inter-op thread, errors-only log, no busy-waiting between runs (a robot's CPU is
    shared with other nodes, and with torch in bench)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only; provider fallbacks are reported as warnings by the callers
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


@dataclass
class OrtModel:
    """onnxruntime sessions of one variant's graphs, plus what the tracker reads from a model."""

    sessions: dict[str, object]
    box_head: str
    windows: tuple[Window, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    providers: list[str] = field(default_factory=list)

    @classmethod
    def from_graphs(cls, graphs: Mapping[str, bytes], box_head: str, windows: Sequence[Window],
                    providers: Sequence[str] | None = None, threads: int | None = None,
                    metadata: Mapping[str, str] | None = None) -> OrtModel:
        """Open one session per graph on the requested providers (unavailable ones fall back to the CPU)."""
        import onnxruntime as ort

        missing = sorted(set(GRAPHS) - set(graphs))
        if missing:
            raise ValueError(f"missing ONNX graphs: {', '.join(missing)}")
        chosen = resolve_providers(providers, ort.get_available_providers())
        options = session_options(threads)
        sessions = {name: ort.InferenceSession(graphs[name], sess_options=options, providers=chosen)
                    for name in GRAPHS}
        used = sessions["search"].get_providers()
        for name in chosen:
            if name not in used:  # listed by onnxruntime, but its libraries (CUDA, TensorRT) failed to load
                warnings.warn(f"onnxruntime could not start {name} (see onnxruntime's log); running on "
                              f"{', '.join(used)}", RuntimeWarning, stacklevel=2)
        return cls(sessions=sessions, box_head=box_head, windows=tuple(windows), metadata=dict(metadata or {}),
                   providers=list(used))

    @classmethod
    def from_torch(cls, model: torch.nn.Module, providers: Sequence[str] | None = None,
                   threads: int | None = None, metadata: Mapping[str, str] | None = None,
                   replaced: Mapping[str, bytes] | None = None) -> OrtModel:
        """Export `model`'s graphs in memory and open them (``replaced``: graphs to use instead of some exported
        ones, e.g. their int8 versions)."""
        from .graphs import export_graphs

        graphs = {**export_graphs(model.cpu()), **(replaced or {})}
        return cls.from_graphs(graphs, model.box_head, model.refine_head.windows, providers, threads, metadata)

    @classmethod
    def from_directory(cls, folder: str | Path, providers: Sequence[str] | None = None,
                       threads: int | None = None) -> OrtModel:
        """Open what `attsiammask export` wrote (the manifest names the variant, head, windows and metadata)."""
        manifest = read_manifest(folder)  # checked: ValueError for a malformed one, files inside the folder only
        graphs = {name: path.read_bytes() for name, path in manifest.graph_files.items()}
        return cls.from_graphs(graphs, manifest.box_head, manifest.windows, providers, threads, manifest.metadata)

    # ---- the model API the Tracker uses ------------------------------------------------------------------
    def to(self, device: str | torch.device) -> OrtModel:
        """Tensors cross to onnxruntime through the CPU; the providers choose the hardware."""
        if torch.device(device).type != "cpu":
            raise ValueError("the onnxruntime backend takes its hardware from providers (e.g. ['cuda']); "
                             "keep device='cpu'")
        return self

    def eval(self) -> OrtModel:
        return self

    @property
    def batched(self) -> bool:
        """True when the search graph takes several targets at once (dynamic batch axis; older exports: 1)."""
        return self.takes_batches("search")

    def takes_batches(self, name: str) -> bool:
        """True when graph ``name`` has a dynamic batch axis."""
        return not isinstance(self.sessions[name].get_inputs()[0].shape[0], int)

    def template_features_many(self, z: torch.Tensor) -> torch.Tensor:
        """template_features of N crops: one run when the graph takes batches, else one run each."""
        if self.takes_batches("template_features"):
            return self.template_features(z)
        return torch.cat([self.template_features(z[k:k + 1]) for k in range(z.shape[0])])

    def refine_many(self, outs: Sequence[OrtSearchOutput], positions: Sequence[tuple[int, int]]) -> torch.Tensor:
        """Refined (N,127,127) mask logits of several search outputs, each at its position: one run."""
        if not self.takes_batches("refine"):
            return torch.cat([self.refine(out, pos) for out, pos in zip(outs, positions, strict=True)])
        windows = [self._refine_inputs(out, pos) for out, pos in zip(outs, positions, strict=True)]
        stacked = [np.concatenate([w[k] for w in windows]) for k in range(4)]
        logits = torch.from_numpy(self._run("refine", *stacked)[0])
        return logits.reshape(-1, logits.size(-2), logits.size(-1))

    def _refine_inputs(self, out: OrtSearchOutput, pos: tuple[int, int]) -> list[np.ndarray]:
        y, x = pos
        windows = [cut_window(f, w, pos) for f, w in zip((out.f0, out.f1, out.f2), self.windows, strict=True)]
        return [*windows, out.mask_corr[:, :, y:y + 1, x:x + 1]]

    def _run(self, name: str, *arrays: np.ndarray) -> list[np.ndarray]:
        spec = GRAPHS[name]
        feeds = {key: np.ascontiguousarray(a, dtype=np.float32) for key, a in zip(spec.inputs, arrays, strict=True)}
        return self.sessions[name].run(list(spec.outputs), feeds)

    def template_features(self, z: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._run("template_features", _numpy(z))[0])

    def template_kernels(self, zf: torch.Tensor) -> OrtKernels:
        cls, loc, mask = self._run("template_kernels", _numpy(zf))
        return OrtKernels(cls=torch.from_numpy(cls), loc=torch.from_numpy(loc), mask=torch.from_numpy(mask))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("the onnxruntime backend has fixed input sizes: attention part_features="
                                  "'backbone' (a backbone run on a part of any size) needs backend='torch'")

    def search_features(self, x: torch.Tensor) -> OrtSearchInput:
        """Nothing runs yet: the search step is one graph (the tracker's timings put it under "heads")."""
        return OrtSearchInput(_numpy(x))

    def search_heads(self, feats: OrtSearchInput, kernels: OrtKernels) -> OrtSearchOutput:
        cls, loc, mask_corr, f0, f1, f2 = self._run("search", feats.x, _numpy(kernels.cls), _numpy(kernels.loc),
                                                    _numpy(kernels.mask))
        return OrtSearchOutput(cls=torch.from_numpy(cls), loc=torch.from_numpy(loc), mask_corr=mask_corr,
                               f0=f0, f1=f1, f2=f2)

    def refine(self, out: OrtSearchOutput, pos: tuple[int, int]) -> torch.Tensor:
        """Refined (1,127,127) mask logits at pos = (row y, col x)."""
        logits = torch.from_numpy(self._run("refine", *self._refine_inputs(out, pos))[0])
        return logits.reshape(-1, logits.size(-2), logits.size(-1))


def cut_window(feature: np.ndarray, window: Window, pos: tuple[int, int]) -> np.ndarray:
    """What refine.crop_window gives (zero padding, then the window at pos), without padding the whole map:
    only the window is allocated (by hand: numpy has no windowed pad, and this runs every frame)."""
    n, c, h, w = feature.shape
    top, left = window.step * pos[0] - window.pad, window.step * pos[1] - window.pad
    out = np.zeros((n, c, window.size, window.size), dtype=feature.dtype)
    y0, y1 = max(top, 0), min(top + window.size, h)
    x0, x1 = max(left, 0), min(left + window.size, w)
    if y0 < y1 and x0 < x1:
        out[:, :, y0 - top:y1 - top, x0 - left:x1 - left] = feature[:, :, y0:y1, x0:x1]
    return out


def _numpy(t: torch.Tensor | np.ndarray) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t
