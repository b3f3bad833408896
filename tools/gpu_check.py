"""GPU readiness (`make gpu-check`): track a real sequence with the torch CUDA path and onnxruntime's CUDA and
TensorRT providers, and compare every frame's box with the CPU run of the same backend (IoU per frame, largest
centre difference), printing one table. Without a GPU it says so, runs the CPU-side checks (torch and onnxruntime
on the CPU agree on the same frames) and exits 0 when they pass.

Pass: every frame's IoU with the reference >= --min-iou (default 0.80: a 1 px shift of Crossing's 17 px wide
box is IoU 0.89), their mean >= --min-mean-iou (default 0.95), and every centre within --max-centre-px (default
4 px). Numerical noise between CPU and GPU kernels stays far inside these; a wrong path (preprocessing, a
provider computing garbage) loses the target within a few frames.
Exit 0 when every comparison that ran passed, 1 when one failed, 2 when --require-gpu is given and a GPU path
could not run.

Run: python tools/gpu_check.py [--seq data/sequences/Crossing] [--frames 0 (all)] [--variant lite] [--require-gpu]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SEQUENCE = "Crossing"
SEQUENCE_DIRS = (REPO / "data" / "sequences", REPO.parent / "shared" / "data" / "sequences")


@dataclass(frozen=True)
class Thresholds:
    """A run matches its reference when every frame's IoU is at least min_iou, their mean at least min_mean_iou,
    and every box centre is within max_centre_px pixels."""

    min_iou: float = 0.80
    max_centre_px: float = 4.0
    min_mean_iou: float = 0.95


@dataclass(frozen=True)
class RunSpec:
    """One way to run the tracker: backend, torch device, onnxruntime providers, the run it is compared with, and
    the hardware it must really use (torch device type or onnxruntime provider)."""

    name: str
    backend: str
    device: str
    providers: tuple[str, ...] | None
    reference: str | None
    needs: str  # "cpu", "cuda" (torch) or an onnxruntime provider name


RUNS: tuple[RunSpec, ...] = (
    RunSpec("torch-cpu", "torch", "cpu", None, None, "cpu"),
    RunSpec("onnxruntime-cpu", "onnxruntime", "cpu", ("cpu",), "torch-cpu", "CPUExecutionProvider"),
    RunSpec("torch-cuda", "torch", "cuda", None, "torch-cpu", "cuda"),
    RunSpec("onnxruntime-cuda", "onnxruntime", "cpu", ("cuda",), "onnxruntime-cpu", "CUDAExecutionProvider"),
    RunSpec("onnxruntime-tensorrt", "onnxruntime", "cpu", ("tensorrt",), "onnxruntime-cpu",
            "TensorrtExecutionProvider"),
)
GPU_NEEDS = ("cuda", "CUDAExecutionProvider", "TensorrtExecutionProvider")


@dataclass(frozen=True)
class Comparison:
    """How a run's boxes compare with its reference's, frame by frame."""

    name: str
    reference: str
    frames: int
    min_iou: float
    mean_iou: float
    max_centre_px: float
    worst_frame: int  # the frame of the lowest IoU
    passed: bool


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row IoU of two (N, 4) arrays of (x, y, w, h) boxes; 0 where a box is empty or not finite."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0, y0 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x1 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.where(np.isfinite(iou), iou, 0.0)


def centre_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row distance (px) between the centres of two (N, 4) arrays of (x, y, w, h) boxes; inf if not finite."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    d = np.hypot(a[:, 0] + a[:, 2] / 2 - b[:, 0] - b[:, 2] / 2, a[:, 1] + a[:, 3] / 2 - b[:, 1] - b[:, 3] / 2)
    return np.where(np.isfinite(d), d, np.inf)


def compare_boxes(name: str, reference: str, reference_boxes: np.ndarray, boxes: np.ndarray,
                  thresholds: Thresholds = Thresholds()) -> Comparison:
    """Frame-by-frame comparison of a run's boxes with its reference's (the same frames, in order)."""
    reference_boxes, boxes = np.asarray(reference_boxes, np.float64), np.asarray(boxes, np.float64)
    if reference_boxes.shape != boxes.shape or boxes.ndim != 2 or boxes.shape[1] != 4 or not len(boxes):
        raise ValueError(f"{name} vs {reference}: boxes must be two (N, 4) arrays of one N > 0, got "
                         f"{boxes.shape} and {reference_boxes.shape}")
    iou, centre = iou_xywh(reference_boxes, boxes), centre_distance(reference_boxes, boxes)
    passed = bool(iou.min() >= thresholds.min_iou and iou.mean() >= thresholds.min_mean_iou
                  and centre.max() <= thresholds.max_centre_px)
    return Comparison(name, reference, len(boxes), float(iou.min()), float(iou.mean()), float(centre.max()),
                      int(iou.argmin()), passed)


def unavailable_reason(spec: RunSpec, torch_cuda: bool, ort_providers: Sequence[str] | None) -> str | None:
    """Why `spec` cannot run here (no CUDA device for torch, onnxruntime without the provider), or None."""
    if spec.needs == "cuda" and not torch_cuda:
        return "torch sees no CUDA device (torch.cuda.is_available() is False)"
    if spec.backend == "onnxruntime":
        if ort_providers is None:
            return "onnxruntime is not installed"
        if spec.needs not in ort_providers:
            return (f"this onnxruntime lacks {spec.needs} (it has {', '.join(ort_providers)}; the GPU providers "
                    "come with onnxruntime-gpu)")
    return None


def hardware_used(tracker: object, spec: RunSpec) -> str:
    """What a tracker really runs on: the torch device type, or onnxruntime's first provider of the session."""
    if spec.backend == "torch":
        return tracker.device.type  # type: ignore[attr-defined]
    providers = getattr(tracker.model, "providers", None)  # type: ignore[attr-defined]
    return providers[0] if providers else "unknown"


def find_sequence(name_or_path: str) -> Path:
    """A sequence folder: the path itself, else a folder of that name under data/sequences or
    ../shared/data/sequences."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    for folder in SEQUENCE_DIRS:
        if (folder / name_or_path).is_dir():
            return folder / name_or_path
    raise FileNotFoundError(f"sequence {name_or_path!r} not found (a folder, or a name under "
                            f"{' or '.join(map(str, SEQUENCE_DIRS))})")


def load_frames(folder: Path, count: int) -> tuple[list[np.ndarray], tuple[float, float, float, float]]:
    """The first `count` frames (0: all) of a sequence folder and its first ground-truth box."""
    import cv2

    from attsiammask_core.eval.sequences import read_any

    sequence = read_any(folder)
    paths = sequence.frame_paths[:count] if count > 0 else sequence.frame_paths
    frames = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]
    if any(f is None for f in frames):
        raise ValueError(f"{folder}: a frame could not be read")
    box = tuple(float(v) for v in sequence.boxes[0])
    return frames, box  # type: ignore[return-value]


def track_boxes(tracker: object, frames: Sequence[np.ndarray], box: tuple[float, float, float, float]
                ) -> tuple[np.ndarray, float]:
    """(N, 4) boxes of a tracker initialised on the first frame with `box` (the first row is that box), and the
    median milliseconds per tracked frame."""
    tracker.init(frames[0], box)  # type: ignore[attr-defined]
    boxes, times = [box], []
    for frame in frames[1:]:
        start = time.perf_counter()
        result = tracker.track(frame)  # type: ignore[attr-defined]
        times.append((time.perf_counter() - start) * 1e3)
        boxes.append(tuple(float(v) for v in result.box))
    return np.array(boxes, dtype=np.float64), float(np.median(times)) if times else 0.0


def table(rows: Sequence[tuple[str, str, str, Comparison | None, str]], thresholds: Thresholds) -> str:
    """The report: one row per run (hardware used, ms per frame, comparison with its reference or why not run)."""
    head = (f"{'run':<22} {'runs on':<27} {'ms/frame':>8}  {'vs':<16} {'frames':>6} {'min IoU':>7} "
            f"{'mean IoU':>8} {'max centre px':>13} {'worst':>5}  result")
    lines = [head, "-" * len(head)]
    for name, used, ms, comparison, note in rows:
        if comparison is None:
            lines.append(f"{name:<22} {used:<27} {ms:>8}  {note}")
            continue
        c = comparison
        verdict = "PASS" if c.passed else "FAIL"
        lines.append(f"{name:<22} {used:<27} {ms:>8}  {c.reference:<16} {c.frames:>6} {c.min_iou:>7.3f} "
                     f"{c.mean_iou:>8.3f} {c.max_centre_px:>13.2f} {c.worst_frame:>5}  {verdict}{note}")
    lines.append(f"pass: every frame IoU >= {thresholds.min_iou:g}, mean IoU >= {thresholds.min_mean_iou:g}, every "
                 f"centre within {thresholds.max_centre_px:g} px of the CPU run of the same backend")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", default=DEFAULT_SEQUENCE,
                        help="sequence folder, or a name under data/sequences or ../shared/data/sequences "
                             f"(default {DEFAULT_SEQUENCE})")
    parser.add_argument("--frames", type=int, default=0, help="frames to track, 0 = all (default 0)")
    parser.add_argument("--variant", default="lite", help="model variant on its embedded weights (default lite)")
    parser.add_argument("--weights", default=None, help="weights file instead of the embedded ones")
    parser.add_argument("--min-iou", type=float, default=Thresholds.min_iou,
                        help=f"smallest IoU with the CPU run on any frame (default {Thresholds.min_iou})")
    parser.add_argument("--min-mean-iou", type=float, default=Thresholds.min_mean_iou,
                        help=f"smallest mean IoU with the CPU run (default {Thresholds.min_mean_iou})")
    parser.add_argument("--max-centre-px", type=float, default=Thresholds.max_centre_px,
                        help=f"largest box-centre difference in px on any frame (default {Thresholds.max_centre_px})")
    parser.add_argument("--runs", nargs="+", choices=[r.name for r in RUNS], default=[r.name for r in RUNS],
                        help="which runs (default all; references are added as needed)")
    parser.add_argument("--require-gpu", action="store_true",
                        help="exit 2 when a GPU run cannot run here (for a machine that has a GPU)")
    args = parser.parse_args(argv)
    if args.frames < 0 or args.frames == 1:
        parser.error("--frames must be 0 (all) or at least 2")
    if not (0.0 <= args.min_iou <= 1.0 and 0.0 <= args.min_mean_iou <= 1.0 and args.max_centre_px >= 0.0):
        parser.error("--min-iou and --min-mean-iou must be in [0, 1], --max-centre-px >= 0")
    return args


def selected_runs(names: Sequence[str]) -> list[RunSpec]:
    """The chosen runs plus the references they are compared with, references first."""
    by_name = {r.name: r for r in RUNS}
    wanted = set(names)
    for name in names:
        reference = by_name[name].reference
        while reference is not None:
            wanted.add(reference)
            reference = by_name[reference].reference
    return [r for r in RUNS if r.name in wanted]


def environment() -> tuple[bool, list[str] | None, str]:
    """(torch sees a CUDA device, onnxruntime's providers or None, one line describing both)."""
    import torch

    cuda = bool(torch.cuda.is_available())
    gpu = torch.cuda.get_device_name(0) if cuda else "none"
    try:
        import onnxruntime as ort

        providers = list(ort.get_available_providers())
        ort_line = f"onnxruntime {ort.__version__} ({', '.join(providers)})"
    except ImportError:
        providers, ort_line = None, "onnxruntime not installed"
    return cuda, providers, f"torch {torch.__version__} (CUDA device: {gpu}); {ort_line}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    thresholds = Thresholds(args.min_iou, args.max_centre_px, args.min_mean_iou)
    cuda, ort_providers, line = environment()
    print(f"gpu_check: {line}")
    runs = selected_runs(args.runs)
    reasons = {r.name: unavailable_reason(r, cuda, ort_providers) for r in runs}
    gpu_runs = [r for r in runs if r.needs in GPU_NEEDS]
    if gpu_runs and all(reasons[r.name] for r in gpu_runs):
        print("gpu_check: no GPU here: the GPU runs are not run; running the CPU-side checks only")
    from attsiammask_core.tracker import Tracker

    folder = find_sequence(args.seq)
    frames, box = load_frames(folder, args.frames)
    print(f"gpu_check: {folder} ({len(frames)} frames, first box {box}), variant {args.variant}")
    boxes: dict[str, np.ndarray] = {}
    rows = []
    failed = missing_gpu = False
    for spec in runs:
        if reasons[spec.name]:
            rows.append((spec.name, "-", "-", None, f"not run: {reasons[spec.name]}"))
            missing_gpu |= spec.needs in GPU_NEEDS
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tracker = Tracker.create(variant=args.variant, weights=args.weights, device=spec.device,
                                     backend=spec.backend, providers=list(spec.providers) if spec.providers else None)
            used = hardware_used(tracker, spec)
            run_boxes, ms = track_boxes(tracker, frames, box)
        if used != spec.needs:  # a provider that failed to load fell back to the CPU: the GPU path did not run
            why = "; ".join(str(w.message) for w in caught)[:200]
            rows.append((spec.name, used, f"{ms:.1f}", None, f"FAIL: asked for {spec.needs}, ran on {used} {why}"))
            failed = True
            continue
        boxes[spec.name] = run_boxes
        if spec.reference is None or spec.reference not in boxes:
            rows.append((spec.name, used, f"{ms:.1f}", None, "reference"))
            continue
        comparison = compare_boxes(spec.name, spec.reference, boxes[spec.reference], run_boxes, thresholds)
        failed |= not comparison.passed
        rows.append((spec.name, used, f"{ms:.1f}", comparison, ""))
    print(table(rows, thresholds))
    if failed:
        print("gpu_check: FAIL (see the rows marked FAIL)")
        return 1
    if missing_gpu and args.require_gpu:
        print("gpu_check: a GPU run could not run here and --require-gpu was given")
        return 2
    print("gpu_check: PASS" + (" (CPU-side checks only: no GPU here)" if missing_gpu else ""))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
