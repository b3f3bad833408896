"""How much arithmetic a tracking step is, and how fast this CPU does that arithmetic: the floor under any
float32 runtime's per-frame time (`attsiammask bench --floor`)."""
from __future__ import annotations

import io
import statistics
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LayerShape:
    """One convolution as the step runs it: enough to rebuild and time it alone."""

    input_shape: tuple[int, ...]
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    macs: int

    def describe(self) -> str:
        c, h, w = self.input_shape[1:]
        extra = "".join(f" {name} {value[0]}" for name, value in (("stride", self.stride),
                                                                   ("dilation", self.dilation)) if value[0] != 1)
        return f"conv {c}->{self.out_channels} {self.kernel[0]}x{self.kernel[1]}{extra} on {h}x{w}"


# The rate probe: r50's largest layer (layer3's 3x3 shortcut), big enough for any runtime to reach its peak.
PEAK_LAYER = LayerShape(input_shape=(1, 512, 31, 31), out_channels=1024, kernel=(3, 3), stride=(1, 1),
                        padding=(1, 1), dilation=(1, 1), groups=1, macs=1024 * 512 * 9 * 31 * 31)


@dataclass(frozen=True)
class StepArithmetic:
    """Multiply-adds of a variant's per-frame graphs (convolution, deconvolution and linear layers; the
    correlations, under 0.1% of r50's, are not counted)."""

    variant: str
    search_macs: int
    refine_macs: int

    @property
    def total_gmacs(self) -> float:
        return (self.search_macs + self.refine_macs) / 1e9


def _layer_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        return output.numel() * module.weight[0].numel()
    if isinstance(module, nn.ConvTranspose2d):  # every input value meets one kernel slice per output channel
        return inputs[0].numel() * module.weight[0].numel()
    return output.numel() * module.in_features  # nn.Linear


def step_arithmetic(variant: str) -> StepArithmetic:
    """Count the multiply-adds of ``variant``'s search and refine graphs (shapes only: random weights)."""
    from attsiammask_core.deploy.graphs import WRAPPERS, example_inputs
    from attsiammask_core.models import build_model

    model = build_model(variant).eval()
    inputs = example_inputs(model)
    counts: dict[str, int] = {}
    current = ""

    def hook(module: nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        counts[current] = counts.get(current, 0) + _layer_macs(module, args, output)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.no_grad():
            for current in ("search", "refine"):
                WRAPPERS[current](model)(*inputs[current])
    finally:
        for handle in handles:
            handle.remove()
    return StepArithmetic(variant, counts["search"], counts.get("refine", 0))


def _median_seconds(run, repeats: int) -> float:  # type: ignore[no-untyped-def]
    run()  # warm-up: allocations, packed weights
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def layer_rates(layer: LayerShape, threads: int, repeats: int = 5) -> dict[str, float]:
    """Multiply-adds per second (G/s) of ``layer`` alone on ``threads`` threads, in torch and, when installed,
    onnxruntime (PEAK_LAYER: the float32 rate this CPU reaches at best)."""
    conv = nn.Conv2d(layer.input_shape[1], layer.out_channels, layer.kernel, layer.stride, layer.padding,
                     layer.dilation, layer.groups).eval()
    x = torch.rand(layer.input_shape)
    torch.set_num_threads(threads)
    with torch.no_grad():
        rates = {"torch": layer.macs / _median_seconds(lambda: conv(x), repeats) / 1e9}
    try:
        import onnxruntime as ort
    except ImportError:
        return rates
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(conv, (x,), buffer, dynamo=False, opset_version=17, input_names=["x"])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as the tracker's sessions
    session = ort.InferenceSession(buffer.getvalue(), sess_options=options, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    rates["onnxruntime"] = layer.macs / _median_seconds(lambda: session.run(None, feed), repeats) / 1e9
    return rates
