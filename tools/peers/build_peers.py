"""Build the peers folder `attsiammask eval/bench --peers DIR` reads, from the shared peers and fetched snapshots.

    python tools/peers/build_peers.py --mirror /work/.mirror --out data/peers [--shared ../shared/data/peers] \
        [--weights-out data/weights/lightfc]

Writes (nothing here is committed; the folder is git-ignored):
- the shared peers (nanotrackv2/, vittrack/, their licences), copied;
- nanotrackv3/nanotrack_backbone.onnx, nanotrack_head.onnx: HonglinChu/SiamTrackers NanoTrack/models/nanotrackv3/
  (Apache-2.0), the backbone's fixed 255x255 input made free (the network is fully convolutional; 127x127 gives
  the 8x8 template map);
- lightfc/lightfc_backbone.onnx (image -> features, any size) and lightfc/lightfc_tracking.onnx
  (template_features, search_features -> score_map, size_map, offset_map): EDOGing/LightFC_Deploy's FP32 ncnn
  files (LightFC_cpp/model/lightfc_{search,fusion,score,size,offset}.ncnn.*; LightFC's MIT weights after the
  deploy repository's AdaRound step) read by attsiammask_core.models.ncnn_graph and exported with torch. The
  conversion is checked against the repository's own ONNX graphs on a real crop (printed): the FP32 AdaRound
  backbone graph, and the w8a8 tracking graph (int8, so agreement within quantisation);
- provenance.json: repository, commit, path, licence and sha256 of every file.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

SIAMTRACKERS = ("HonglinChu/SiamTrackers", "248663fde6bf7c40190cf10ee396d5662919ecd3")
LIGHTFC_DEPLOY = ("EDOGing/LightFC_Deploy", "f57c00f848deed145c27c44af8cb668766b5739e")
LIGHTFC_CODE = ("LiYunfengLYF/LightFC", "97dc3405ec8e8c5ad3d3ad95cae7f12e4f17b5b0")
LIGHTFC_PARTS = ("search", "fusion", "score", "size", "offset")


def git_dir(mirror: Path, repo: str) -> Path:
    base = mirror / repo.replace("/", "+")
    for candidate in (base / "repo" / ".git", base / "repo", base / "git"):
        if (candidate / "objects").is_dir():
            return candidate
    raise SystemExit(f"no snapshot of {repo} under {base} (fetch it first)")


def show(mirror: Path, repo: str, commit: str, path: str) -> bytes:
    result = subprocess.run(["git", "--git-dir", str(git_dir(mirror, repo)), "show", f"{commit}:{path}"],
                            capture_output=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{repo}@{commit[:12]}: cannot read {path}: {result.stderr.decode().strip()}")
    return result.stdout


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def free_input_dims(model_bytes: bytes) -> bytes:
    """The same ONNX graph with symbolic spatial input sizes (and no stored output shapes)."""
    import onnx

    model = onnx.load_from_string(model_bytes)
    for tensor in list(model.graph.input) + list(model.graph.output):
        dims = tensor.type.tensor_type.shape.dim
        for index in (2, 3):
            dims[index].ClearField("dim_value")
            dims[index].dim_param = f"{tensor.name}_{'hw'[index - 2]}"
    del model.graph.value_info[:]
    return model.SerializeToString()


class LightFCBackbone(torch.nn.Module):
    """image -> stride-16 features (the search graph's one output)."""

    def __init__(self, graph: torch.nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.graph(image)[0]


class LightFCTracking(torch.nn.Module):
    """template and search features -> score, size and offset maps (fusion, then the three heads)."""

    def __init__(self, graphs: dict[str, torch.nn.Module]) -> None:
        super().__init__()
        self.fusion, self.score = graphs["fusion"], graphs["score"]
        self.size, self.offset = graphs["size"], graphs["offset"]

    def forward(self, zf: torch.Tensor, xf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        (fused,) = self.fusion(zf, xf)
        return self.score(fused)[0], self.size(fused)[0], self.offset(fused)[0]


def export_onnx(module, args, inputs, outputs, dynamic=None) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buffer, dynamo=False, opset_version=17, input_names=inputs,
                          output_names=outputs, dynamic_axes=dynamic, do_constant_folding=True)
    return buffer.getvalue()


def lightfc_graphs(mirror: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    from attsiammask_core.models.ncnn_graph import NcnnGraph

    repo, commit = LIGHTFC_DEPLOY
    sources, graphs = {}, {}
    for part in LIGHTFC_PARTS:
        param_path, bin_path = (f"LightFC_cpp/model/lightfc_{part}.ncnn.{ext}" for ext in ("param", "bin"))
        param, weights = show(mirror, repo, commit, param_path), show(mirror, repo, commit, bin_path)
        sources[param_path], sources[bin_path] = sha256(param), sha256(weights)
        graphs[part] = NcnnGraph(param.decode(), weights).eval()
    backbone, tracking = LightFCBackbone(graphs["search"]).eval(), LightFCTracking(graphs).eval()
    files = {
        "lightfc_backbone.onnx": export_onnx(backbone, (torch.zeros(1, 3, 256, 256),), ["image"], ["features"],
                                             {"image": {2: "h", 3: "w"}, "features": {2: "fh", 3: "fw"}}),
        "lightfc_tracking.onnx": export_onnx(tracking, (torch.zeros(1, 96, 8, 8), torch.zeros(1, 96, 16, 16)),
                                             ["template_features", "search_features"],
                                             ["score_map", "size_map", "offset_map"]),
    }
    check_lightfc(mirror, backbone, tracking)
    return files, sources


def check_lightfc(mirror: Path, backbone, tracking) -> None:  # type: ignore[no-untyped-def]
    """Print the converted graphs' agreement with the deploy repository's own ONNX graphs on a real crop: the
    backbone with the FP32 AdaRound ONNX graph's weights loaded (checks the graph reading; the ncnn weights are a
    slightly different AdaRound rounding), and the tracking maps against the w8a8 graph (int8)."""
    import copy

    import cv2
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    repo, commit = LIGHTFC_DEPLOY
    sample = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sequences" / "Crossing" / "img"
    frames = sorted(sample.glob("*.jpg"))
    frame = cv2.imread(str(frames[0])) if frames else None
    if frame is None:
        frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])

    def blob(image: np.ndarray, size: int) -> np.ndarray:
        resized = cv2.resize(image, (size, size))
        return ((resized - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)

    h, w = rgb.shape[:2]
    z = blob(rgb[h // 3:2 * h // 3, w // 3:2 * w // 3], 128)
    x = blob(rgb[h // 6:5 * h // 6, w // 6:5 * w // 6], 256)
    reference_bytes = show(mirror, repo, commit, "LightFC_web/quantized/lightfc_adaround_fp32_backbone_opset12.onnx")
    reference = onnx.load_from_string(reference_bytes)
    weights = {i.name: numpy_helper.to_array(i) for i in reference.graph.initializer}
    twin = copy.deepcopy(backbone)
    nodes = [n for n in reference.graph.node if n.op_type == "Conv"]
    for conv, node in zip(twin.graph.convs.values(), nodes, strict=True):
        conv.weight.data = torch.from_numpy(weights[node.input[1]].copy())
        conv.bias.data = torch.from_numpy(weights[node.input[2]].copy())
    session = ort.InferenceSession(reference_bytes)
    with torch.no_grad():
        zf, xf = backbone(torch.from_numpy(z)), backbone(torch.from_numpy(x))
        ours = [t.numpy() for t in tracking(zf, xf)]
        twin_zf = twin(torch.from_numpy(z)).numpy()
    ref_zf = session.run(None, {session.get_inputs()[0].name: z})[0]
    print(f"lightfc backbone graph with the FP32 AdaRound ONNX's weights vs that ONNX: max |diff| "
          f"{np.abs(ref_zf - twin_zf).max():.1e}; with the ncnn weights: {np.abs(ref_zf - zf.numpy()).max():.1e} "
          f"(features up to {np.abs(ref_zf).max():.2f})")
    int8 = ort.InferenceSession(show(mirror, repo, commit, "LightFC_web/quantized/lightfc_w8a8_tracking_opset12.onnx"))
    theirs = int8.run(None, {"template_features": zf.numpy(), "search": x})
    for name, a, b in zip(("score", "size", "offset"), ours, theirs, strict=True):
        print(f"lightfc {name} map vs the w8a8 tracking ONNX: max |diff| {np.abs(a - b).max():.3f} "
              f"(values up to {np.abs(b).max():.2f})")
    print(f"lightfc best cell (ours, w8a8): {np.unravel_index(ours[0].argmax(), ours[0].shape)[2:]}, "
          f"{np.unravel_index(theirs[0].argmax(), theirs[0].shape)[2:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"), help="folder of bare git snapshots")
    parser.add_argument("--out", type=Path, default=Path("data/peers"))
    parser.add_argument("--shared", type=Path, default=Path("../shared/data/peers"))
    parser.add_argument("--weights-out", type=Path, help="also copy LightFC's FP32 ncnn files here (the lfc "
                        "variant's training recipe reads data/weights/lightfc)")
    args = parser.parse_args()
    if args.weights_out is not None:
        args.weights_out.mkdir(parents=True, exist_ok=True)
        for part in LIGHTFC_PARTS:
            for ext in ("param", "bin"):
                name = f"lightfc_{part}.ncnn.{ext}"
                (args.weights_out / name).write_bytes(show(args.mirror, *LIGHTFC_DEPLOY, f"LightFC_cpp/model/{name}"))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    provenance: list[dict] = []  # type: ignore[type-arg]
    if args.shared.is_dir():
        for item in args.shared.iterdir():
            if item.name == "provenance.json":
                provenance += json.loads(item.read_text())["files"]
            elif item.is_dir():
                shutil.copytree(item, out / item.name, dirs_exist_ok=True)
            else:
                shutil.copy2(item, out / item.name)
    repo, commit = SIAMTRACKERS
    (out / "nanotrackv3").mkdir(exist_ok=True)
    for name in ("nanotrack_backbone.onnx", "nanotrack_head.onnx"):
        source = f"NanoTrack/models/nanotrackv3/{name}"
        data = show(mirror=args.mirror, repo=repo, commit=commit, path=source)
        written = free_input_dims(data) if "backbone" in name else data
        (out / "nanotrackv3" / name).write_bytes(written)
        provenance.append({"file": f"nanotrackv3/{name}", "what": f"NanoTrack V3 {name.split('_')[1][:-5]}",
                           "source_repo": repo, "snapshot_head_commit": commit, "source_path": source,
                           "source_sha256": sha256(data), "sha256": sha256(written),
                           "changed": "input spatial sizes made free" if written is not data else "none",
                           "license": {"spdx": "Apache-2.0", "file": "LICENSE.SiamTrackers-NanoTrack.txt"}})
    (out / "lightfc").mkdir(exist_ok=True)
    files, sources = lightfc_graphs(args.mirror)
    licence = show(args.mirror, LIGHTFC_DEPLOY[0], LIGHTFC_DEPLOY[1], "LightFC_web/LICENSE")
    (out / "LICENSE.LightFC-MIT.txt").write_bytes(licence)
    for name, data in files.items():
        (out / "lightfc" / name).write_bytes(data)
        provenance.append({"file": f"lightfc/{name}", "what": "LightFC (MobileNetV2 backbone; pointwise-correlation "
                           "fusion and centre heads), converted from the FP32 ncnn files with torch",
                           "source_repo": LIGHTFC_DEPLOY[0], "snapshot_head_commit": LIGHTFC_DEPLOY[1],
                           "source_files_sha256": sources, "model_code": f"{LIGHTFC_CODE[0]}@{LIGHTFC_CODE[1]}",
                           "sha256": sha256(data),
                           "license": {"spdx": "MIT", "file": "LICENSE.LightFC-MIT.txt (LightFC_web/LICENSE, "
                                       "copyright LiYunfengLYF; the model code LiYunfengLYF/LightFC is MIT too)"}})
    (out / "provenance.json").write_text(json.dumps({"files": provenance}, indent=1) + "\n")
    print(f"peers written to {out}: " + ", ".join(sorted(p.name for p in out.iterdir() if p.is_dir())))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    raise SystemExit(main())
