"""tools/gpu_check.py's CPU side: the box comparison, argument parsing, what can run where, and the no-GPU path
on a real sequence (the GPU runs themselves need a GPU: `make gpu-check` there)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "gpu_check.py"
spec = importlib.util.spec_from_file_location("gpu_check", TOOL)
gpu_check = sys.modules.setdefault("gpu_check", importlib.util.module_from_spec(spec))
spec.loader.exec_module(gpu_check)


def test_iou_and_centre_distance_are_per_frame():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5], [np.nan, 0, 10, 10]], dtype=float)
    np.testing.assert_allclose(gpu_check.iou_xywh(a, b), [1.0, 50 / 150, 0.0, 0.0])
    np.testing.assert_allclose(gpu_check.centre_distance(a, b)[:3], [0.0, 5.0, np.hypot(17.5, 17.5)])
    assert gpu_check.centre_distance(a, b)[3] == np.inf


def test_compare_boxes_applies_both_thresholds():
    reference = np.array([[100, 100, 40, 40]] * 5, dtype=float)
    close = reference + [[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]]
    result = gpu_check.compare_boxes("gpu", "cpu", reference, close)
    assert result.passed and result.frames == 5 and result.worst_frame == 3
    assert result.min_iou == pytest.approx(39 * 39 / (2 * 1600 - 39 * 39))
    assert result.max_centre_px == pytest.approx(np.sqrt(2))
    shifted = reference.copy()
    shifted[3, 0] += 6  # IoU 34/46 = 0.74 and 6 px on frame 3
    result = gpu_check.compare_boxes("gpu", "cpu", reference, shifted)
    assert not result.passed and result.worst_frame == 3 and result.max_centre_px == pytest.approx(6.0)
    assert result.min_iou == pytest.approx(34 * 40 / (3200 - 34 * 40))
    loose = gpu_check.Thresholds(min_iou=0.7, max_centre_px=6.0, min_mean_iou=0.9)
    assert gpu_check.compare_boxes("gpu", "cpu", reference, shifted, loose).passed
    centre_only = gpu_check.Thresholds(min_iou=0.0, max_centre_px=5.0, min_mean_iou=0.0)
    assert not gpu_check.compare_boxes("gpu", "cpu", reference, shifted, centre_only).passed
    mean_only = gpu_check.Thresholds(min_iou=0.0, max_centre_px=100.0, min_mean_iou=0.97)
    assert not gpu_check.compare_boxes("gpu", "cpu", reference, shifted, mean_only).passed
    with pytest.raises(ValueError, match="two \\(N, 4\\) arrays"):
        gpu_check.compare_boxes("gpu", "cpu", reference, reference[:3])


def test_arguments_defaults_and_refusals():
    args = gpu_check.parse_args([])
    assert args.seq == "Crossing" and args.frames == 0 and args.min_iou == 0.8 and args.max_centre_px == 4.0
    assert args.min_mean_iou == 0.95
    assert args.runs == [r.name for r in gpu_check.RUNS] and not args.require_gpu
    for bad in (["--frames", "1"], ["--frames", "-3"], ["--min-iou", "1.5"], ["--min-mean-iou", "-0.1"],
                ["--max-centre-px", "-1"],
                ["--runs", "opencl"]):
        with pytest.raises(SystemExit):
            gpu_check.parse_args(bad)


def test_runs_bring_their_references_and_say_why_they_cannot_run():
    names = [r.name for r in gpu_check.selected_runs(["onnxruntime-tensorrt"])]
    assert names == ["torch-cpu", "onnxruntime-cpu", "onnxruntime-tensorrt"]
    by_name = {r.name: r for r in gpu_check.RUNS}
    cpu_only = ["CPUExecutionProvider"]
    assert gpu_check.unavailable_reason(by_name["torch-cpu"], False, None) is None
    assert "no CUDA device" in gpu_check.unavailable_reason(by_name["torch-cuda"], False, cpu_only)
    assert gpu_check.unavailable_reason(by_name["torch-cuda"], True, cpu_only) is None
    assert "onnxruntime-gpu" in gpu_check.unavailable_reason(by_name["onnxruntime-cuda"], True, cpu_only)
    assert "not installed" in gpu_check.unavailable_reason(by_name["onnxruntime-cpu"], True, None)
    both = cpu_only + ["CUDAExecutionProvider", "TensorrtExecutionProvider"]
    assert gpu_check.unavailable_reason(by_name["onnxruntime-tensorrt"], False, both) is None


@pytest.fixture
def sequence():
    try:
        return gpu_check.find_sequence("Crossing")
    except FileNotFoundError:
        pytest.skip("no Crossing sequence in data/sequences or ../shared/data/sequences")


def test_without_a_gpu_it_says_so_runs_the_cpu_checks_and_exits_0(sequence, capsys, monkeypatch):
    monkeypatch.setattr(gpu_check, "environment", lambda: (False, ["CPUExecutionProvider"], "test: no GPU"))
    assert gpu_check.main(["--seq", str(sequence), "--frames", "4"]) == 0
    out = capsys.readouterr().out
    assert "no GPU here" in out and "gpu_check: PASS (CPU-side checks only: no GPU here)" in out
    row = next(line for line in out.splitlines() if line.startswith("onnxruntime-cpu "))
    assert "torch-cpu" in row and row.rstrip().endswith("PASS") and " 4 " in row
    for name in ("torch-cuda", "onnxruntime-cuda", "onnxruntime-tensorrt"):
        assert next(line for line in out.splitlines() if line.startswith(name + " ")).split()[-1] != "PASS"
    assert gpu_check.main(["--seq", str(sequence), "--frames", "3", "--runs", "torch-cuda", "--require-gpu"]) == 2


def test_a_gpu_provider_that_falls_back_to_the_cpu_fails(sequence, capsys, monkeypatch):
    # onnxruntime claims CUDA but this onnxruntime cannot start it: the session runs on the CPU, which must not
    # pass as a GPU check
    monkeypatch.setattr(gpu_check, "environment",
                        lambda: (False, ["CUDAExecutionProvider", "CPUExecutionProvider"], "test: fake CUDA"))
    assert gpu_check.main(["--seq", str(sequence), "--frames", "3", "--runs", "onnxruntime-cuda"]) == 1
    out = capsys.readouterr().out
    assert "asked for CUDAExecutionProvider, ran on CPUExecutionProvider" in out and "gpu_check: FAIL" in out
