"""Write the committed seed inputs of the atheris targets (test/fuzz/seeds/<target>/), small and deterministic:
real compressed images cut from a frame of data/sequences (or a drawn frame when absent), raw image messages of
every encoding, camera_info + depth, tiny weights files of each format, tiny bags, set_target requests and an
export manifest. Run: python test/fuzz/make_seeds.py [--out test/fuzz/seeds]."""
from __future__ import annotations

import argparse
import io
import json
import pickle
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image as PilImage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_camera  # noqa: E402  (the input layouts live beside each target)
import fuzz_image_messages  # noqa: E402
import fuzz_set_target  # noqa: E402
import harness  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHARED_BOMB = REPO.parent / "shared" / "fuzz" / "png_idat_length_3892314915.png"


def small_frame() -> np.ndarray:
    """A 32x24 BGR crop of a real frame (Crossing's first), or a drawn one where the data is absent."""
    for folder in (REPO / "data" / "sequences", REPO.parent / "shared" / "data" / "sequences"):
        path = folder / "Crossing" / "img" / "0001.jpg"
        frame = cv2.imread(str(path)) if path.is_file() else None
        if frame is not None:
            return np.ascontiguousarray(cv2.resize(frame, (32, 24), interpolation=cv2.INTER_AREA))
    frame = np.zeros((24, 32, 3), np.uint8)
    cv2.circle(frame, (16, 12), 8, (40, 160, 220), -1)
    return frame


def compressed_seeds(frame: np.ndarray) -> dict[str, bytes]:
    rgb = PilImage.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)

    def pil(image: PilImage.Image, fmt: str, **options: object) -> bytes:
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()

    def ocv(ext: str, image: np.ndarray, params: tuple[int, ...] = ()) -> bytes:
        ok, data = cv2.imencode(ext, image, list(params))
        assert ok, ext
        return data.tobytes()

    seeds = {
        "baseline.jpg": ocv(".jpg", frame, (cv2.IMWRITE_JPEG_QUALITY, 60)),
        "progressive.jpg": pil(rgb, "JPEG", quality=60, progressive=True),
        "grey.jpg": ocv(".jpg", grey, (cv2.IMWRITE_JPEG_QUALITY, 60)),
        "rgb.png": ocv(".png", frame),
        "grey16.png": ocv(".png", grey.astype(np.uint16) * 257),
        "palette.png": pil(rgb.quantize(16), "PNG"),
        "rgba.png": pil(rgb.convert("RGBA"), "PNG"),
        "lossy.webp": ocv(".webp", frame, (cv2.IMWRITE_WEBP_QUALITY, 50)),
        "lossless.webp": pil(rgb, "WEBP", lossless=True),
        "raw.tiff": pil(rgb.resize((12, 8)), "TIFF"),
        "packbits.tiff": pil(rgb.resize((12, 8)), "TIFF", compression="packbits"),
        "rgb.bmp": ocv(".bmp", frame[:8, :12]),
        "rgb.ppm": ocv(".ppm", frame[:8, :12]),
        "grey.pgm": ocv(".pgm", grey[:8, :12]),
        "rgb.pam": ocv(".pam", frame[:8, :12]),
    }
    if SHARED_BOMB.is_file():  # issue 25's finding: a 489-byte PNG whose IDAT declares 3.9 GB
        seeds[SHARED_BOMB.name] = SHARED_BOMB.read_bytes()
    return seeds


def image_message_seeds(frame: np.ndarray) -> dict[str, bytes]:
    seeds = {}
    patch = frame[:3, :4]
    for index, encoding in enumerate(fuzz_image_messages.SUPPORTED_ENCODINGS):
        from attsiammask_core.image_messages import _LAYOUT

        channels, depth = _LAYOUT[encoding]
        row = 4 * channels * depth
        pad = 4 if index % 3 == 0 else 0
        data = np.resize(patch.reshape(-1), 3 * (row + pad)).tobytes()
        header = fuzz_image_messages.HEADER.pack(index, 4, 3, row + pad, index % 2)
        seeds[f"{encoding}.bin"] = header + data
    named = fuzz_image_messages.HEADER.pack(255, 4, 3, 12, 0) + b"bgr8\0\0\0\0" + patch.tobytes()
    seeds["named_encoding.bin"] = named
    return seeds


def camera_seeds() -> dict[str, bytes]:
    k = (500.0, 0.0, 16.0, 0.0, 500.0, 12.0, 0.0, 0.0, 1.0)
    d14 = (0.1, -0.05, 0.001, 0.001, 0.0) + (0.0,) * 9
    depth32 = np.full((24, 32), 2.0, np.float32).tobytes()
    depth16 = np.full((24, 32), 1500, np.uint16).tobytes()
    box = (8.0, 6.0, 16.0, 12.0)

    def seed(k: tuple, n_d: int, model: int, enc: int, data: bytes, step: int, big: int = 0, mask: int = 0) -> bytes:
        return fuzz_camera.HEADER.pack(*k, n_d, *d14, model, 32, 24, 24, 32, *box, mask, enc, 32, 24, step,
                                       big) + data

    not_k = (1e308, 0.0, 1e308, 0.0, 1e308, 1e308, 1.0, 1.0, 1.0)  # issue 25: third row not 0 0 1, near the range
    return {
        "plumb_bob_32fc1.bin": seed(k, 5, 0, 1, depth32, 128),
        "equidistant_16uc1_mask.bin": seed(k, 4, 2, 0, depth16, 64, mask=1),
        "rational_big_endian.bin": seed(k, 8, 1, 1, np.full((24, 32), 2.0, ">f4").tobytes(), 128, big=1),
        "k_not_a_camera_matrix.bin": seed(not_k, 0, 0, 1, depth32, 128),
    }


class _Tripwire:
    """Pickles as a call of harness.tripwire: a file that would run code when unpickled."""

    def __reduce__(self) -> tuple:
        return harness.tripwire, ("unpickled",)


def weights_seeds() -> dict[str, bytes]:
    from attsiammask_core.weights.store import FORMAT, FORMAT_VERSION

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fuzz_weights

    torch.manual_seed(0)
    state = {k: v.clone() for k, v in fuzz_weights.tiny_model().state_dict().items()}

    def saved(obj: object) -> bytes:
        out = io.BytesIO()
        torch.save(obj, out)
        return out.getvalue()

    header = json.dumps({"backbone.0.bias": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    safetensors = struct.pack("<Q", len(header)) + header + np.zeros(2, np.float32).tobytes()
    ours = saved({"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": {"variant": "tiny"},
                  "state_dict": state})
    return {
        "ours_format2.pt": ours,
        "format1.safetensors": safetensors,
        "pysot_module_prefix.pth": saved({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}),
        "foolwood_layout.pth": saved({"features.features.0.weight": state["backbone.0.weight"],
                                      "rpn_model.0.weight": state["rpn_head.0.weight"]}),
        "nanotrack_numpy_epoch.pth": saved({"epoch": np.int64(7), "state_dict": {
            "backbone.0.weight": state["backbone.0.weight"], "ban_head.0.bias": state["rpn_head.0.bias"]}}),
        "tripwire.pt": saved({"state_dict": state, "payload": _Tripwire()}),
        "tripwire_plain.pkl": pickle.dumps(_Tripwire(), protocol=2),
        "truncated.pt": ours[: len(ours) // 2],
    }


def bag_seeds(frame: np.ndarray) -> dict[str, bytes]:
    from rosbags.rosbag1 import Writer as Writer1
    from rosbags.rosbag2 import StoragePlugin, Writer

    from attsiammask_core.bag import COMPRESSED, IMAGE, typestore

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fuzz_bag

    store = typestore()
    t = store.types
    patch = np.ascontiguousarray(frame[:6, :8])

    def header(i: int) -> object:
        return t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=1, nanosec=i * 1000),
                                        frame_id="cam")

    def raw(i: int) -> object:
        return t[IMAGE](header=header(i), height=6, width=8, encoding="bgr8", is_bigendian=0, step=24,
                        data=patch.reshape(-1))

    jpeg = np.frombuffer(cv2.imencode(".jpg", patch, [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes(), np.uint8)

    def compressed(i: int) -> object:
        return t[COMPRESSED](header=header(i), format="jpeg", data=jpeg)

    seeds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, plugin, msgtype, make in (("mcap_raw", StoragePlugin.MCAP, IMAGE, raw),
                                            ("sqlite3_compressed", StoragePlugin.SQLITE3, COMPRESSED, compressed)):
            path = Path(tmp) / name
            writer = Writer(path, version=9, storage_plugin=plugin)
            writer.open()
            connection = writer.add_connection(fuzz_bag.TOPIC, msgtype, typestore=store)
            for i in range(2):
                writer.write(connection, 1_000_000_000 + i * 1000, store.serialize_cdr(make(i), msgtype))
            writer.close()
            storage = next(p for p in path.iterdir() if p.name != "metadata.yaml")
            metadata = (path / "metadata.yaml").read_text().replace(storage.name, "bag_0" + storage.suffix)
            seeds[f"{name}.bin"] = metadata.encode() + fuzz_bag.SEPARATOR + storage.read_bytes()
        path = Path(tmp) / "ros1.bag"
        writer1 = Writer1(path)
        writer1.open()
        connection = writer1.add_connection(fuzz_bag.TOPIC, "sensor_msgs/msg/Image", typestore=store)
        for i in range(2):
            writer1.write(connection, 1_000_000_000 + i * 1000,
                          store.serialize_ros1(raw(i), "sensor_msgs/msg/Image"))
        writer1.close()
        seeds["ros1.bag"] = path.read_bytes()
    return seeds


def set_target_seeds() -> dict[str, bytes]:
    def seed(cx: float, cy: float, sx: float, sy: float, sec: int, nanosec: int, text: bytes, h: int = 480,
             w: int = 640) -> bytes:
        first = 1_700_000_000 * 1_000_000_000
        return fuzz_set_target.HEADER.pack(cx, cy, sx, sy, h, w, sec, nanosec, 20_000_000, first, 33_333_333,
                                           10) + text

    return {
        "inside.bin": seed(320.0, 240.0, 80.0, 60.0, 1_700_000_000, 66_666_666, b"1700000000.066666666"),
        "edge.bin": seed(2.0, 478.0, 40.0, 30.0, 0, 0, b"0"),
        "too_small.bin": seed(100.0, 100.0, 3.9, 50.0, 1_700_000_001, 999_999_999, b"1700000001.5"),
        "outside.bin": seed(-500.0, 240.0, 80.0, 60.0, 5, 0, b"12.3456789012"),
        "not_finite.bin": seed(float("nan"), 240.0, float("inf"), 60.0, -1, 0, b"-1"),
    }


def manifest_seeds() -> dict[str, bytes]:
    from attsiammask_core.deploy.graphs import GRAPHS

    graphs = {name: {"file": f"{name}.onnx", "inputs": {k: [1] for k in spec.inputs},
                     "outputs": {k: [1] for k in spec.outputs}} for name, spec in GRAPHS.items()}
    manifest = {"format": "attsiammask-onnx", "format_version": "1", "opset": 17, "torch": torch.__version__,
                "box_head": "point", "refine_windows": [{"pad": 16, "size": 61, "step": 4},
                                                        {"pad": 8, "size": 31, "step": 2},
                                                        {"pad": 4, "size": 15, "step": 1}],
                "metadata": {"variant": "lite", "tracking.lr": "0.3"}, "graphs": graphs}
    outside = json.loads(json.dumps(manifest))
    outside["graphs"]["refine"]["file"] = "../outside.onnx"
    return {"lite.json": json.dumps(manifest, indent=1).encode(), "outside.json": json.dumps(outside).encode()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=harness.SEEDS_DIR)
    args = parser.parse_args()
    frame = small_frame()
    targets = {"compressed": compressed_seeds(frame), "image_messages": image_message_seeds(frame),
               "camera": camera_seeds(), "weights": weights_seeds(), "bag": bag_seeds(frame),
               "set_target": set_target_seeds(), "export_manifest": manifest_seeds()}
    total = 0
    for target, seeds in targets.items():
        folder = args.out / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
            total += len(data)
        print(f"{target}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
