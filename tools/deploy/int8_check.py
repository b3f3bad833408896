"""Measure onnxruntime static int8 quantisation of a variant's per-frame graphs (issue 22, "optional int8").

Calibration: the fp32 tracker runs on training sequences (never validation or test) and the inputs it feeds each
per-frame graph (search, template_features, refine) are recorded; onnxruntime's quantize_static (QDQ, int8
per-channel weights, uint8 activations, min/max calibration) quantises each graph on them. Then, on the chosen
split: one OPE run of the fp32 and the int8 model (same tracker, same frames) with success AUC, and the medians
of every graph, fp32 and int8 in turns on the same recorded inputs. The tracking step itself (crops, decoding,
masks) is unchanged. Prints the verdict against the issue's bar: at most 0.005 AUC lost and faster.

    python tools/deploy/int8_check.py --variant lite --data data/sequences --split validation
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

PER_FRAME = ("search", "template_features", "refine")


def record_feeds(variant: str, data: str, names: list[str], frames_each: int) -> dict[str, list[dict]]:
    """The inputs the fp32 onnxruntime tracker gives each per-frame graph on the first frames of ``names``."""
    from attsiammask_core.deploy.graphs import GRAPHS
    from attsiammask_core.deploy.ort_model import OrtModel
    from attsiammask_core.eval.sequences import discover
    from attsiammask_core.tracker import Tracker

    feeds: dict[str, list[dict]] = defaultdict(list)
    run = OrtModel._run

    def recording(self, name, *arrays):  # type: ignore[no-untyped-def]
        if name in PER_FRAME:
            feeds[name].append({key: np.ascontiguousarray(a, dtype=np.float32).copy()
                                for key, a in zip(GRAPHS[name].inputs, arrays, strict=True)})
        return run(self, name, *arrays)

    OrtModel._run = recording
    try:
        tracker = Tracker.create(variant, backend="onnxruntime")
        for seq in discover(data, names):
            tracker.init(seq.frame(0), seq.boxes[0])
            for i in range(1, min(frames_each, len(seq.boxes))):
                tracker.track(seq.frame(i))
    finally:
        OrtModel._run = run
    return feeds


def quantise(graphs: dict[str, bytes], feeds: dict[str, list[dict]], workdir: Path) -> dict[str, bytes]:
    """``graphs`` with the per-frame ones replaced by their static int8 (QDQ) versions, calibrated on ``feeds``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, items: list[dict]) -> None:
            self.items = iter(items)

        def get_next(self) -> dict | None:
            return next(self.items, None)

    out = dict(graphs)
    for name in PER_FRAME:
        source, prepared, target = (workdir / f"{name}{suffix}.onnx" for suffix in ("", "_pre", "_int8"))
        source.write_bytes(graphs[name])
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(target), Reader(feeds[name]), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        out[name] = target.read_bytes()
    return out


def graph_medians(fp32, int8, feeds: dict[str, list[dict]], repeats: int = 3) -> dict[str, tuple[float, float]]:
    """Median ms of each per-frame graph, fp32 and int8 sessions in turns on the same recorded inputs."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in PER_FRAME}
    for name in PER_FRAME:
        outputs = [o.name for o in fp32.sessions[name].get_outputs()]
        for _ in range(repeats):
            for feed in feeds[name][:60]:
                for model, bucket in ((fp32, times[name][0]), (int8, times[name][1])):
                    t0 = time.perf_counter()
                    model.sessions[name].run(outputs, feed)
                    bucket.append(time.perf_counter() - t0)
    return {name: (1000 * float(np.median(a)), 1000 * float(np.median(b))) for name, (a, b) in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="lite")
    parser.add_argument("--data", default="data/sequences")
    parser.add_argument("--split", default="validation", help="evaluation split (calibration: train, always)")
    parser.add_argument("--calibration-sequences", type=int, default=0,
                        help="train sequences to calibrate on, spread over the split (0: all)")
    parser.add_argument("--calibration-frames", type=int, default=10, help="frames per calibration sequence")
    parser.add_argument("--out", default="outputs/int8_check")
    parser.add_argument("--write", action="store_true",
                        help="also write the int8 graphs and their provenance into attsiammask_core/weights/ "
                             "(<variant>_int8_*.onnx, <variant>_int8.json: what Tracker.create(precision='int8') "
                             "loads)")
    parser.add_argument("--skip-eval", action="store_true", help="quantise (and --write) without the evaluation")
    args = parser.parse_args()

    from attsiammask_core.deploy.graphs import export_graphs
    from attsiammask_core.deploy.ort_model import OrtModel
    from attsiammask_core.eval.report import markdown_table, summarize
    from attsiammask_core.eval.runner import EvalOptions, evaluate
    from attsiammask_core.eval.sequences import discover, load_split
    from attsiammask_core.eval.trackers import OursTracker, TrackerFactory, model_sha256
    from attsiammask_core.tracker import Tracker

    train = load_split("train")
    count = args.calibration_sequences or len(train)
    calibration = [train[int(k)] for k in np.linspace(0, len(train) - 1, min(count, len(train))).round()]
    feeds = record_feeds(args.variant, args.data, calibration, args.calibration_frames)
    print(f"calibration: {', '.join(f'{k} {len(v)} inputs' for k, v in feeds.items())} from {len(calibration)} "
          f"train sequences ({args.calibration_frames} frames each)")
    base = Tracker.create(args.variant, backend="torch")
    graphs = export_graphs(base.model.cpu())
    with tempfile.TemporaryDirectory() as tmp:
        int8_graphs = quantise(graphs, feeds, Path(tmp))
    fp32 = OrtModel.from_graphs(graphs, base.model.box_head, base.model.refine_head.windows)
    int8 = OrtModel.from_graphs(int8_graphs, base.model.box_head, base.model.refine_head.windows)
    for name, (a, b) in graph_medians(fp32, int8, feeds).items():
        print(f"{name}: fp32 {a:.2f} ms, int8 {b:.2f} ms ({b / a:.2f}x)")
    if args.write:
        from attsiammask_core.deploy.precision import write_int8_graphs

        written = write_int8_graphs(args.variant, {name: int8_graphs[name] for name in PER_FRAME},
                                   model_sha256(base.model),
                                   {"calibration": f"{len(calibration)} train sequences x {args.calibration_frames} "
                                                   f"frames: {', '.join(calibration)}",
                                    "method": "onnxruntime quantize_static, QDQ, per-channel int8 weights, uint8 "
                                              "activations, min/max", "tool": "tools/deploy/int8_check.py"})
        print(f"written: {written} and its graphs")
    if args.skip_eval:
        return 0

    def factory(label: str, model) -> TrackerFactory:  # type: ignore[no-untyped-def]
        def create() -> OursTracker:
            return OursTracker(label, Tracker(model, config=base.config, attention=base.attention_config))

        return TrackerFactory(spec=label, create=create,
                              options={"config": dataclasses.asdict(base.config), "precision": label,
                                       "model_sha256": model_sha256(base.model)})

    sequences = discover(args.data, load_split(args.split))
    results = evaluate([factory(f"ours:{args.variant}:fp32", fp32), factory(f"ours:{args.variant}:int8", int8)],
                       sequences, Path(args.out), EvalOptions(protocols=("ope",)), progress=False)
    summary = summarize(results)
    print(markdown_table(summary))
    aucs = {name: summary["trackers"][name]["overall"]["ope"]["auc"] for name in results.trackers}
    loss = aucs[f"ours:{args.variant}:fp32"] - aucs[f"ours:{args.variant}:int8"]
    print(f"int8 loses {loss:.3f} OPE AUC on {args.split} (bar: at most 0.005, and faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
