"""An ncnn model (.param text + .bin weights) as a torch module, for the operators trackers' ncnn exports use.

Written by hand because no maintained Python package converts ncnn files back to torch or ONNX (pnnx goes the other
way). Supported: Input, Convolution, ConvolutionDepthWise (any activation ncnn fuses into them: none, ReLU,
leaky ReLU, clip, sigmoid, hard-swish), Split, BinaryOp (add, sub, mul, div), global Pooling, Reshape, Permute
(2-D), MatMul, GELU, Concat, Clip; anything else is refused by name. Weights: float32 or float16 storage.
Tensor layout: torch's (1, C, H, W); a 2-D ncnn blob (h, w) is (1, h, w); global pooling keeps (1, C, 1, 1).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MAGIC = 7767517
_FP16_TAG = 0x01306B47
_UNSET = -233


@dataclass(frozen=True)
class NcnnLayer:
    """One line of a .param file."""

    kind: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, object] = field(default_factory=dict)

    def get(self, key: int, default: object = _UNSET) -> object:
        return self.params.get(key, default)


def _value(text: str) -> object:
    return float(text) if any(c in text for c in ".eE") else int(text)


def parse_param(text: str) -> list[NcnnLayer]:
    """Layers of an ncnn .param file (text form). ValueError on a malformed file."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or lines[0] != str(MAGIC):
        raise ValueError(f"not an ncnn .param file (first line must be {MAGIC})")
    layer_count = int(lines[1].split()[0])
    layers = []
    for line in lines[2:2 + layer_count]:
        tokens = line.split()
        kind, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        inputs = tuple(tokens[4:4 + n_in])
        outputs = tuple(tokens[4 + n_in:4 + n_in + n_out])
        params: dict[int, object] = {}
        for item in tokens[4 + n_in + n_out:]:
            key_text, value_text = item.split("=", 1)
            key = int(key_text)
            if key <= -23300:  # array parameter: -23300 - id = count,v1,v2,...
                values = value_text.split(",")
                params[-23300 - key] = [_value(v) for v in values[1:1 + int(values[0])]]
            else:
                params[key] = _value(value_text)
        layers.append(NcnnLayer(kind, name, inputs, outputs, params))
    if len(layers) != layer_count:
        raise ValueError(f"ncnn .param declares {layer_count} layers, holds {len(layers)}")
    return layers


class _WeightReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def _take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ValueError(f"ncnn .bin is too short: needs {self.offset + size} bytes, has {len(self.data)}")
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def tagged(self, count: int) -> np.ndarray:
        """Weights stored with ncnn's 4-byte storage tag (0: float32, 0x01306B47: float16)."""
        (tag,) = struct.unpack("<I", self._take(4))
        if tag == 0:
            return np.frombuffer(self._take(4 * count), dtype="<f4").copy()
        if tag == _FP16_TAG:
            values = np.frombuffer(self._take(2 * count), dtype="<f2").astype(np.float32)
            self._take((4 - (2 * count) % 4) % 4)
            return values
        raise ValueError(f"ncnn weight storage tag {tag:#x} is not supported (only float32 and float16)")

    def raw(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), dtype="<f4").copy()


def _activation(x: torch.Tensor, layer: NcnnLayer) -> torch.Tensor:
    kind = int(layer.get(9, 0))  # type: ignore[arg-type]
    args = layer.get(10, [])
    if kind == 0:
        return x
    if kind == 1:
        return F.relu(x)
    if kind == 2:
        return F.leaky_relu(x, float(args[0]))  # type: ignore[index]
    if kind == 3:
        return torch.clamp(x, float(args[0]), float(args[1]))  # type: ignore[index]
    if kind == 4:
        return torch.sigmoid(x)
    if kind == 6:
        alpha, beta = float(args[0]), float(args[1])  # type: ignore[index]
        return x * torch.clamp(x * alpha + beta, 0.0, 1.0)
    raise ValueError(f"layer {layer.name}: ncnn activation type {kind} is not supported")


class NcnnGraph(nn.Module):
    """The graph of one .param/.bin pair. `forward(*inputs)` returns the graph's output blobs (those no layer
    reads), or the blobs named in `outputs`, in that order."""

    SUPPORTED = ("Input", "Convolution", "ConvolutionDepthWise", "Split", "BinaryOp", "Pooling", "Reshape",
                 "Permute", "MatMul", "GELU", "Concat", "Clip")

    def __init__(self, param_text: str, weights: bytes) -> None:
        super().__init__()
        self.layers = parse_param(param_text)
        unknown = sorted({layer.kind for layer in self.layers} - set(self.SUPPORTED))
        if unknown:
            raise ValueError(f"ncnn layer types not supported: {', '.join(unknown)}")
        self.inputs = [layer.outputs[0] for layer in self.layers if layer.kind == "Input"]
        read = {blob for layer in self.layers for blob in layer.inputs}
        self.outputs = [blob for layer in self.layers for blob in layer.outputs if blob not in read]
        self.convs = nn.ModuleDict()
        reader = _WeightReader(weights)
        for layer in self.layers:
            if layer.kind in ("Convolution", "ConvolutionDepthWise"):
                self.convs[self._key(layer)] = self._conv(layer, reader)
        if reader.offset != len(weights):
            raise ValueError(f"ncnn .bin holds {len(weights)} bytes, the .param's layers read {reader.offset}")

    @staticmethod
    def _key(layer: NcnnLayer) -> str:
        return layer.name.replace(".", "_")

    def _conv(self, layer: NcnnLayer, reader: _WeightReader) -> nn.Conv2d:
        out_ch = int(layer.get(0))  # type: ignore[arg-type]
        kw = int(layer.get(1, 0))  # type: ignore[arg-type]
        kh = int(layer.get(11, kw))  # type: ignore[arg-type]
        dw, sw, pw = int(layer.get(2, 1)), int(layer.get(3, 1)), int(layer.get(4, 0))  # type: ignore[arg-type]
        dh, sh, ph = int(layer.get(12, dw)), int(layer.get(13, sw)), int(layer.get(14, pw))  # type: ignore[arg-type]
        if int(layer.get(15, pw)) != pw or int(layer.get(16, ph)) != ph or pw < 0:  # type: ignore[arg-type]
            raise ValueError(f"layer {layer.name}: asymmetric or automatic padding is not supported")
        groups = int(layer.get(7, 1)) if layer.kind == "ConvolutionDepthWise" else 1  # type: ignore[arg-type]
        weight_count = int(layer.get(6))  # type: ignore[arg-type]
        in_ch = weight_count // (out_ch * kh * kw) * groups
        conv = nn.Conv2d(in_ch, out_ch, (kh, kw), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw),
                         groups=groups, bias=bool(layer.get(5, 0)))
        if int(layer.get(8, 0)):  # type: ignore[arg-type]
            raise ValueError(f"layer {layer.name}: int8 convolutions are not supported")
        weight = reader.tagged(weight_count)
        conv.weight.data = torch.from_numpy(weight.reshape(conv.weight.shape))
        if conv.bias is not None:
            conv.bias.data = torch.from_numpy(reader.raw(out_ch))
        return conv

    def forward(self, *inputs: torch.Tensor, outputs: tuple[str, ...] | None = None) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.inputs):
            raise ValueError(f"the graph takes {len(self.inputs)} inputs ({', '.join(self.inputs)}), got {len(inputs)}")
        blobs: dict[str, torch.Tensor] = dict(zip(self.inputs, inputs, strict=True))
        for layer in self.layers:
            if layer.kind != "Input":
                results = self._run(layer, [blobs[name] for name in layer.inputs])
                blobs.update(zip(layer.outputs, results, strict=True))
        return tuple(blobs[name] for name in (outputs or self.outputs))

    def _run(self, layer: NcnnLayer, args: list[torch.Tensor]) -> list[torch.Tensor]:
        kind = layer.kind
        if kind in ("Convolution", "ConvolutionDepthWise"):
            return [_activation(self.convs[self._key(layer)](args[0]), layer)]
        if kind == "Split":
            return [args[0]] * len(layer.outputs)
        if kind == "BinaryOp":
            return [self._binary(layer, args)]
        if kind == "Pooling":
            if not int(layer.get(4, 0)):  # type: ignore[arg-type]
                raise ValueError(f"layer {layer.name}: only global pooling is supported")
            pool = torch.amax if int(layer.get(0, 0)) == 0 else torch.mean  # type: ignore[arg-type]
            return [pool(args[0], dim=(2, 3), keepdim=True)]
        if kind == "Reshape":
            w, h, c = (int(layer.get(k)) for k in (0, 1, 2))  # type: ignore[arg-type]
            shape = (1, c, h, w) if c != _UNSET else (1, h, w) if h != _UNSET else (1, w)
            return [args[0].reshape(shape)]
        if kind == "Permute":
            if args[0].dim() != 3 or int(layer.get(0, 0)) != 1:  # type: ignore[arg-type]
                raise ValueError(f"layer {layer.name}: only the 2-D transpose (order_type 1) is supported")
            return [args[0].transpose(1, 2)]
        if kind == "MatMul":
            if int(layer.get(0, 0)):  # type: ignore[arg-type]
                raise ValueError(f"layer {layer.name}: MatMul with transB is not supported")
            return [torch.matmul(args[0], args[1])]
        if kind == "GELU":
            return [F.gelu(args[0], approximate="tanh" if int(layer.get(0, 0)) else "none")]  # type: ignore[arg-type]
        if kind == "Concat":
            return [torch.cat(args, dim=int(layer.get(0, 0)) + 1)]  # type: ignore[arg-type]
        if kind == "Clip":
            return [torch.clamp(args[0], float(layer.get(0)), float(layer.get(1)))]  # type: ignore[arg-type]
        raise ValueError(f"ncnn layer type {kind} is not supported")

    @staticmethod
    def _binary(layer: NcnnLayer, args: list[torch.Tensor]) -> torch.Tensor:
        op = int(layer.get(0, 0))  # type: ignore[arg-type]
        a = args[0]
        b = args[1] if len(args) > 1 else torch.tensor(float(layer.get(2, 0.0)))  # type: ignore[arg-type]
        ops = {0: torch.add, 1: torch.sub, 2: torch.mul, 3: torch.div}
        if op not in ops:
            raise ValueError(f"layer {layer.name}: BinaryOp type {op} is not supported")
        return ops[op](a, b)
