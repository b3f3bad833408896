"""The benchmark's measurement helpers (no timing is asserted, only what is measured and how)."""
from __future__ import annotations

import numpy as np
import torch
from fake_siammask import PlantedModel

from attsiammask_core.bench import STAGES, LatencyStats, bench_trackers, compare_with_reference, synthetic_sequence
from attsiammask_core.config import TrackerConfig
from attsiammask_core.models import build_model
from attsiammask_core.tracker import Tracker


def test_latency_stats_are_in_milliseconds():
    stats = LatencyStats.of([0.010] * 19 + [0.100])
    assert stats.median_ms == 10.0
    assert 10.0 < stats.p95_ms <= 100.0


def test_synthetic_sequence_moves_the_target():
    frames, box = synthetic_sequence(3, (320, 240))
    assert len(frames) == 3 and frames[0].shape == (240, 320, 3) and frames[0].dtype == np.uint8
    x, y, w, h = (int(v) for v in box)
    assert np.array_equal(frames[0][y:y + h, x:x + w], frames[1][y + 2:y + 2 + h, x + 3:x + 3 + w])


def test_bench_trackers_counts_every_configuration_and_stage():
    frames, box = synthetic_sequence(8, (320, 240))
    trackers = {name: Tracker(PlantedModel(), config=TrackerConfig(lost_threshold=0.0), attention=False)
                for name in ("a", "b")}
    results = bench_trackers(trackers, frames, box, warmup=2)
    assert [r.label for r in results] == ["a", "b"]
    for result in results:
        assert set(result.stages) == set(STAGES)
        assert result.step.median_ms > 0 and result.init_ms > 0


def test_the_settle_pause_is_not_timed():
    frames, box = synthetic_sequence(4, (320, 240))
    tracker = Tracker(PlantedModel(), config=TrackerConfig(lost_threshold=0.0), attention=False)
    (result,) = bench_trackers({"a": tracker}, frames, box, warmup=0, settle_s=0.2)
    assert result.step.median_ms < 150.0  # a step of the planted model takes milliseconds, the pause 200


def test_reference_formulation_gives_identical_outputs():
    torch.manual_seed(0)
    tracker = Tracker(build_model("r50"), config=TrackerConfig(lost_threshold=0.0), attention=False)
    frames, box = synthetic_sequence(3, (320, 240))
    comparison = compare_with_reference(tracker, frames, box, warmup=0)
    assert comparison.max_abs_diff == {"cls": 0.0, "loc": 0.0, "mask_corr": 0.0}


def test_reference_formulation_tracker_tracks_exactly_like_ours():
    """The whole step with pysot's per-frame work (kernels again, full mask head) gives the same boxes and masks."""
    from attsiammask_core.bench import ReferenceFormulation

    torch.manual_seed(0)
    model = build_model("r50").eval()
    ours = Tracker(model, config=TrackerConfig(lost_threshold=0.0), attention=False)
    reference = Tracker(ReferenceFormulation(model), config=TrackerConfig(lost_threshold=0.0), attention=False)
    frames, box = synthetic_sequence(4, (320, 240))
    ours.init(frames[0], box)
    reference.init(frames[0], box)
    for frame in frames[1:]:
        a, b = ours.track(frame), reference.track(frame)
        assert a.box == b.box and a.score == b.score and np.array_equal(a.mask, b.mask)


def test_bench_prints_only_ratios_measured_in_the_run(capsys):
    import argparse

    from attsiammask_core.commands import bench

    assert not hasattr(bench, "REFERENCE_STEP_MS")  # no remembered figure
    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    args = parser.parse_args(["bench", "--variants", "lite", "--backends", "torch", "onnxruntime", "--frames", "3",
                              "--warmup", "1", "--width", "320", "--height", "240"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "onnxruntime" in out and "the speed of torch" in out and "measured above in turns" in out
    args = parser.parse_args(["bench", "--contend", "1", "--variants", "lite", "--frames", "3", "--warmup", "1",
                              "--width", "320", "--height", "240"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "alone ms" in out and "contended ms" in out and "lite onnxruntime: fastest beside busy processes at" in out


def test_synthetic_objects_each_start_in_their_target_box_and_stay_whole():
    from attsiammask_core.bench import object_boxes

    frames, box = synthetic_sequence(200, (640, 480), objects=4)
    starts = object_boxes(box, 4, (640, 480))
    assert starts[0] == box and len(set(starts)) == 4
    first = frames[0]
    patches = [first[int(y):int(y) + 60, int(x):int(x) + 80] for x, y, _, _ in starts]
    for k in range(1, 4):  # a texture of its own: no two objects alike
        assert not np.array_equal(patches[0], patches[k])
    background = synthetic_sequence(1, (640, 480), objects=1)[0][0]
    for frame in frames:  # every object is always fully inside the frame (bouncing, not wrapping)
        assert (frame != background).any(axis=2).sum() >= 4 * 60 * 80 * 0.9 - 60 * 80


def test_targets_timer_follows_one_object_each_and_counts_states():
    from attsiammask_core.bench import TargetsTimer

    frames, box = synthetic_sequence(6, (640, 480), objects=2)
    timer = TargetsTimer(lambda: Tracker(PlantedModel(), config=TrackerConfig(lost_threshold=0.0),
                                         attention=False), 2)
    timer.init(frames[0], box)
    for frame in frames[1:]:
        timer.track(frame)
    assert timer.trackers[1].box_now()[0] > box[0] + 100  # the second target is the second object, 160 px right
    assert sum(timer.states.values()) == 2 * 5


def test_bench_int8_prints_its_ratio_to_fp32_measured_in_turns(capsys):
    from attsiammask_core.cli import main

    assert main(["bench", "--variants", "lfc", "--backends", "onnxruntime", "--frames", "2", "--warmup", "1",
                 "--width", "320", "--height", "240", "--int8"]) == 0
    out = capsys.readouterr().out
    assert "lfc onnxruntime int8 attention off" in out and "x fp32 (" in out
