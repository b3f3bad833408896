"""models.ncnn_graph: every supported operator against the same computation written with torch, and refusals."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attsiammask_core.models.ncnn_graph import NcnnGraph, parse_param

PARAM = """7767517
13 16
Input            in0      0 1 in0
Input            in1      0 1 in1
Convolution      conv0    1 1 in0 a 0=4 1=3 11=3 2=1 12=1 3=2 13=2 4=1 14=1 5=1 6=108 9=3 -23310=2,0.0,6.0
ConvolutionDepthWise dw0  1 1 a b 0=4 1=3 11=3 4=1 14=1 5=1 6=36 7=4 9=1
Split            split0   1 2 b c d
Pooling          gap0     1 1 c e 0=1 4=1
Convolution      se0      1 1 e f 0=4 1=1 5=1 6=16 9=4
Reshape          rs0      1 1 f g 0=1 1=1 2=-1
BinaryOp         mul0     2 1 d g h 0=2
Reshape          rs1      1 1 in1 i 0=4 1=2
Permute          perm0    1 1 i j 0=1
GELU             gelu0    1 1 h k
Concat           cat0     2 1 k h out0 0=0
"""


def _bin(*arrays: np.ndarray, tagged: tuple[bool, ...]) -> bytes:
    out = b""
    for array, tag in zip(arrays, tagged, strict=True):
        out += (struct.pack("<I", 0) if tag else b"") + np.asarray(array, dtype="<f4").tobytes()
    return out


@pytest.fixture()
def weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"w0": rng.normal(size=(4, 3, 3, 3)), "b0": rng.normal(size=4), "w1": rng.normal(size=(4, 1, 3, 3)),
            "b1": rng.normal(size=4), "w2": rng.normal(size=(4, 4, 1, 1)), "b2": rng.normal(size=4)}


def test_graph_matches_torch(weights: dict[str, np.ndarray]) -> None:
    data = _bin(weights["w0"], weights["b0"], weights["w1"], weights["b1"], weights["w2"], weights["b2"],
                tagged=(True, False, True, False, True, False))
    graph = NcnnGraph(PARAM, data)
    assert graph.inputs == ["in0", "in1"] and graph.outputs == ["j", "out0"]
    x, y = torch.randn(1, 3, 9, 9), torch.randn(1, 8)
    t = {k: torch.tensor(v, dtype=torch.float32) for k, v in weights.items()}
    a = torch.clamp(F.conv2d(x, t["w0"], t["b0"], stride=2, padding=1), 0, 6)
    b = F.relu(F.conv2d(a, t["w1"], t["b1"], padding=1, groups=4))
    g = torch.sigmoid(F.conv2d(b.mean((2, 3), keepdim=True), t["w2"], t["b2"]))
    h = b * g
    expected_out = torch.cat([F.gelu(h), h], dim=1)
    with torch.no_grad():
        transposed, out = graph(x, y)
        (named,) = graph(x, y, outputs=("h",))
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(transposed, y.reshape(1, 2, 4).transpose(1, 2))
    torch.testing.assert_close(named, h)


def test_float16_storage_is_read() -> None:
    param = "7767517\n2 2\nInput in0 0 1 in0\nConvolution c 1 1 in0 out 0=1 1=1 5=0 6=3\n"
    values = np.array([0.5, -1.25, 2.0], dtype="<f2")
    data = struct.pack("<I", 0x01306B47) + values.tobytes() + b"\x00\x00"  # padded to 4 bytes
    graph = NcnnGraph(param, data)
    x = torch.ones(1, 3, 2, 2)
    with torch.no_grad():
        (out,) = graph(x)
    assert torch.allclose(out, torch.full((1, 1, 2, 2), 1.25))


@pytest.mark.parametrize(("param", "data", "message"), [
    ("123\n1 1\nInput in0 0 1 in0\n", b"", "not an ncnn .param"),
    ("7767517\n2 2\nInput in0 0 1 in0\nSoftmax s 1 1 in0 out\n", b"", "not supported: Softmax"),
    ("7767517\n2 2\nInput in0 0 1 in0\nConvolution c 1 1 in0 out 0=1 1=1 6=3\n", b"\0" * 8, "too short"),
    ("7767517\n2 2\nInput in0 0 1 in0\nConvolution c 1 1 in0 out 0=1 1=1 6=1\n", b"\0" * 12,
     "the .param's layers read"),
    ("7767517\n2 2\nInput in0 0 1 in0\nConvolution c 1 1 in0 out 0=1 1=1 6=1\n",
     struct.pack("<I", 0x000D4B38) + b"\0" * 4, "storage tag"),
    ("7767517\n3 2\nInput in0 0 1 in0\n", b"", "declares 3 layers"),
])
def test_refusals(param: str, data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NcnnGraph(param, data)


def test_parse_param_reads_array_parameters() -> None:
    layers = parse_param("7767517\n1 1\nConvolution c 1 1 a b 0=2 -23310=2,0.5,6.0 9=3\n")
    assert layers[0].params == {0: 2, 10: [0.5, 6.0], 9: 3}
    assert layers[0].inputs == ("a",) and layers[0].outputs == ("b",)
