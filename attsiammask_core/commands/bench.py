"""`attsiammask bench`: per-frame latency of Tracker.track on 640x480 frames, attention on and off, per stage.

Every ratio it prints is measured in the same run, the configurations taking turns on the same frames: backends,
and for r50 the reference formulation (what pysot computes per frame) on the same weights. `--contend N` times
lite and r50 at 1 and 2 threads with and without N busy processes beside them."""
from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from attsiammask_core.commands.extensions import run_extension

REFERENCE_LABEL = "r50 reference formulation"

EXAMPLE = """example:
  attsiammask bench --variants lfc lite --backends onnxruntime torch --peers data/peers
"""


def _tracker(variant: str, weights, attention: bool, backend: str = "torch", precision: str = "fp32"):
    from attsiammask_core.tracker import Tracker
    from attsiammask_core.weights import embedded_weights_path

    # Without --weights: the variant's embedded weights when it ships them (a model whose box follows random
    # weights can grow its crop to many times the frame, as lfc's size update does), else random weights.
    if weights is None and embedded_weights_path(variant).is_file():
        weights = embedded_weights_path(variant)
    # Loss logic off: with random weights scores are low, and every frame must run the full step.
    return Tracker.create(variant=variant, weights=weights, attention=attention, overrides={"lost_threshold": 0.0},
                          random_init=weights is None, backend=backend, precision=precision)


def _resolved_backends(names: list[str]) -> list[str]:
    """The backends to time, "auto" replaced by the one Tracker.create picks on this CPU; duplicates dropped."""
    import torch

    from attsiammask_core.config import AttentionConfig
    from attsiammask_core.tracker import resolve_backend

    return list(dict.fromkeys(resolve_backend(name, torch.device("cpu"), AttentionConfig()) for name in names))


# Peers timed in turns with the first variant when --peers holds their files (label, spec).
BENCH_PEERS = (("nanotrack V2 (OpenCV, reference)", "nanotrack"), ("nanotrack V3 (onnxruntime)", "nanotrackv3"),
               ("LightFC (onnxruntime)", "lightfc"))


def _peers(peers):  # type: ignore[no-untyped-def]
    """{(label, spec): timer} of the peers whose files the folder holds (NanoTrack V2 is required)."""
    from attsiammask_core.bench import EvalTrackerTimer
    from attsiammask_core.eval.trackers import PEER_FILES, make_tracker

    found = {}
    for label, spec in BENCH_PEERS:
        if spec == "nanotrack" or all((Path(peers) / name).is_file() for name in PEER_FILES[spec]):
            found[(label, spec)] = EvalTrackerTimer(make_tracker(spec, peers_dir=peers).create())
    return found


def _row(result) -> str:  # type: ignore[no-untyped-def]
    from attsiammask_core.bench import STAGES

    stages = "".join(f"{result.stages[s].median_ms:>13.2f}" for s in STAGES) if any(
        result.stages[s].median_ms for s in STAGES) else ""
    return (f"{result.label:<34}{result.step.median_ms:>10.1f}{result.step.p95_ms:>9.1f}"
            f"{1000.0 / result.step.median_ms:>7.1f}  " + stages)


def _busy() -> None:
    """A process that keeps one core busy (another node, a planner...)."""
    while True:
        pass


def run_contention(args: argparse.Namespace) -> int:
    """lite and r50 at 1 and 2 threads per backend, alone and beside `args.contend` busy processes; ratios in-run."""
    import multiprocessing

    import torch

    from attsiammask_core.bench import bench_trackers, synthetic_sequence

    variants = args.variants or ["lite", "r50"]
    frames, box = synthetic_sequence(args.frames + 1, (args.width, args.height))
    print(f"attsiammask bench --contend {args.contend}: {args.frames} frames {args.width}x{args.height}, attention "
          f"off, torch {torch.__version__}, {multiprocessing.cpu_count()} cores, backends {', '.join(args.backends)}, "
          f"weights: {args.weights or 'embedded, else random (timing only)'}; each configuration alone, then "
          f"beside "
          f"{args.contend} busy process(es)")
    configs = [(variant, backend) for variant in variants for backend in args.backends]
    medians: dict[tuple[str, str, int, bool], float] = {}
    for contended in (False, True):
        busy = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.contend if contended else 0)]
        for process in busy:
            process.start()
        try:
            for variant, backend in configs:
                for threads in (1, 2):
                    torch.set_num_threads(threads)  # onnxruntime sessions take the same count
                    tracker = _tracker(variant, args.weights, False, backend)
                    (result,) = bench_trackers({variant: tracker}, frames, box, args.warmup,
                                               args.settle_ms / 1000.0)
                    medians[(variant, backend, threads, contended)] = result.step.median_ms
        finally:
            for process in busy:
                process.terminate()
                process.join(5)
    print(f"{'variant':<8}{'backend':>12}{'threads':>8}{'alone ms':>10}{'contended ms':>14}{'slow-down':>11}")
    for variant, backend in configs:
        for threads in (1, 2):
            alone, contended = (medians[(variant, backend, threads, False)],
                                medians[(variant, backend, threads, True)])
            print(f"{variant:<8}{backend:>12}{threads:>8}{alone:>10.1f}{contended:>14.1f}{contended / alone:>10.2f}x")
        best = min((1, 2), key=lambda t: medians[(variant, backend, t, True)])
        print(f"{variant} {backend}: fastest beside busy processes at {best} thread(s); there 2 threads take "
              f"{medians[(variant, backend, 2, True)] / medians[(variant, backend, 1, True)]:.2f}x the time of 1")
    return 0


def _like(base, **overrides):  # type: ignore[no-untyped-def]
    """A fresh tracker on ``base``'s model and configuration (``overrides`` replaced), attention off."""
    import dataclasses

    from attsiammask_core.tracker import Tracker

    return Tracker(base.model, config=dataclasses.replace(base.config, **overrides), attention=False)


def _print_same_model_ratios(results, target_timers, variant: str,  # type: ignore[no-untyped-def]
                            args: argparse.Namespace) -> None:
    """Against one tracked target on the same model (medians, same run): N targets (with the share of target-frames
    tracked: a lost target's step costs more, see --lost), int8, and the lost step."""
    for backend in args.backends:
        one = results[(variant, backend, False)].step.median_ms
        for count in args.targets or ():
            ms = results[(variant, backend, "targets", count)].step.median_ms
            states = target_timers[(variant, backend, count)].states
            tracked = states.get("tracking", 0) / max(sum(states.values()), 1)
            print(f"{variant} {backend}: {count} target(s) {ms:.1f} ms a frame = {ms / one:.2f}x one target "
                  f"({one:.1f} ms; median, measured above in turns; {100 * tracked:.0f}% of target-frames tracked)")
        if (variant, backend, "int8") in results:
            ms = results[(variant, backend, "int8")].step.median_ms
            print(f"{variant} {backend}: int8 {ms:.1f} ms a frame = {ms / one:.2f}x fp32 ({one:.1f} ms; median, "
                  "measured above in turns)")
        if args.lost:
            ms = results[(variant, backend, "lost")].step.median_ms
            print(f"{variant} {backend}: a lost frame (re-detection) {ms:.1f} ms = {ms / one:.2f}x a tracking frame "
                  f"({one:.1f} ms; median, measured above in turns)")


def _print_ratios(results, variants: list[str], backends: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Each variant's median (attention off) over the other variants' and the peers', all measured in this run."""
    peers = [(label, spec) for label, spec in BENCH_PEERS if (spec,) in results]
    for variant in variants:
        for backend in backends:
            ours = results[(variant, backend, False)].step.median_ms
            others = [(f"{other} {backend}", results[(other, backend, False)].step.median_ms)
                      for other in variants if other != variant]
            others += [(label, results[(spec,)].step.median_ms) for label, spec in peers]
            if others:
                print(f"{variant} {backend} attention off ({ours:.1f} ms median) relative to: " + ", ".join(
                    f"{label} {ours / ms:.2f}x ({ms:.1f} ms)" for label, ms in others))


def _print_floor(variant: str, rates: dict[str, float], measured_ms: dict[str, float],
                 reference_ms: float | None) -> None:
    """The step's multiply-adds at the best float32 rate measured on this CPU: the least time any runtime can take;
    each backend's measured median against it (and, for r50, the most any runtime can beat pysot's step by)."""
    from attsiammask_core.compute_floor import step_arithmetic

    arithmetic = step_arithmetic(variant)
    floor_ms = arithmetic.total_gmacs / max(rates.values()) * 1000.0
    print(f"{variant} arithmetic: {arithmetic.total_gmacs:.2f} G multiply-adds a frame (search "
          f"{arithmetic.search_macs / 1e9:.2f}, refine {arithmetic.refine_macs / 1e9:.2f}): at this CPU's best rate "
          f"the step needs at least {floor_ms:.1f} ms")
    for backend, ms in measured_ms.items():
        print(f"{variant} {backend} attention off: {ms:.1f} ms, of which the floor is {100.0 * floor_ms / ms:.0f}%")
    if reference_ms is not None:
        print(f"{variant} reference formulation {reference_ms:.1f} ms: at that rate no float32 runtime can run the "
              f"step more than {reference_ms / floor_ms:.2f}x faster")


def _peak_rates() -> dict[str, float]:
    """This CPU's float32 multiply-add rate per runtime, on PEAK_LAYER at the bench's thread count (printed)."""
    import torch

    from attsiammask_core.compute_floor import PEAK_LAYER, layer_rates

    threads = torch.get_num_threads()
    rates = layer_rates(PEAK_LAYER, threads)
    print(f"float32 rate, {PEAK_LAYER.describe()} alone at {threads} thread(s): "
          + ", ".join(f"{name} {rate:.1f} G multiply-adds/s" for name, rate in rates.items()))
    return rates


def run(args: argparse.Namespace) -> int:
    if args.node:
        return run_extension("bench-node", "bench --node", args)
    args.backends = _resolved_backends(args.backends)
    if args.contend:
        return run_contention(args)
    import torch

    from attsiammask_core.bench import (
        STAGES,
        LostTimer,
        TargetsTimer,
        bench_trackers,
        compare_with_reference,
        synthetic_sequence,
    )
    from attsiammask_core.deploy.precision import int8_variants
    from attsiammask_core.models import MODELS

    if args.threads:
        torch.set_num_threads(args.threads)
    variants = args.variants or sorted(MODELS)
    objects = max(args.targets) if args.targets else 1  # every timed target follows an object of its own
    frames, box = synthetic_sequence(args.frames + 1, (args.width, args.height), objects=objects)
    print(f"attsiammask bench: {args.frames} frames {args.width}x{args.height} ({objects} moving object(s)), "
          f"torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, backends {', '.join(args.backends)}, "
          f"weights: {args.weights or 'embedded, else random (timing only)'}; configurations take turns on every "
          f"frame, "
          f"{args.settle_ms:g} ms untimed pause before each step")
    print(f"{'configuration':<34}{'median ms':>10}{'p95 ms':>9}{'fps':>7}  " + "".join(f"{s + ' ms':>13}"
                                                                                   for s in STAGES))
    results = {}
    target_timers: dict[tuple[str, str, int], TargetsTimer] = {}
    rates: dict[str, float] = {}
    for variant in variants:
        trackers = {(backend, att): _tracker(variant, args.weights, att, backend)
                    for backend in args.backends for att in (True, False)}
        labelled = {f"{variant} {backend} attention {'on' if att else 'off'}": t
                    for (backend, att), t in trackers.items()}
        keys = [(variant, *key) for key in trackers]
        if args.peers is not None and variant == variants[0]:  # timed in turns with the first variant
            for (label, spec), timer in _peers(args.peers).items():
                labelled[label] = timer
                keys.append((spec,))
        for backend in args.backends:  # several targets a frame, and the lost step, on the same model
            base = trackers[(backend, False)]
            for count in args.targets or ():
                timer = TargetsTimer(partial(_like, base), count)
                labelled[f"{variant} {backend} {count} targets"] = timer
                target_timers[(variant, backend, count)] = timer
                keys.append((variant, backend, "targets", count))
            if args.int8 and backend == "onnxruntime" and variant in int8_variants():
                labelled[f"{variant} {backend} int8 attention off"] = _tracker(variant, args.weights, False, backend,
                                                                               "int8")
                keys.append((variant, backend, "int8"))
            if args.lost:
                # recover_threshold 1: no candidate is accepted, every frame is a full lost step (held state)
                labelled[f"{variant} {backend} lost"] = LostTimer(_like(base, recover_threshold=1.0))
                keys.append((variant, backend, "lost"))
        if variant == "r50":  # pysot's per-frame work, same weights, in turns
            from attsiammask_core.bench import ReferenceFormulation
            from attsiammask_core.tracker import Tracker

            ours = trackers.get(("torch", False)) or _tracker(variant, args.weights, False, "torch")
            labelled[REFERENCE_LABEL] = Tracker(ReferenceFormulation(ours.model), config=ours.config, attention=False)
            keys.append(("reference",))
        for key, result in zip(keys, bench_trackers(labelled, frames, box, args.warmup, args.settle_ms / 1000.0),
                               strict=True):
            results[key] = result
            print(_row(result))
        for backend in args.backends:
            on, off = results[(variant, backend, True)], results[(variant, backend, False)]
            print(f"{variant} {backend}: attention adds {100.0 * (on.step.median_ms / off.step.median_ms - 1):+.1f}% "
                  f"per frame (init {on.init_ms:.0f} ms with attention, {off.init_ms:.0f} ms without)")
        _print_same_model_ratios(results, target_timers, variant, args)
        if "torch" in args.backends and "onnxruntime" in args.backends:
            for att in (True, False):
                torch_ms = results[(variant, "torch", att)].step.median_ms
                ort_ms = results[(variant, "onnxruntime", att)].step.median_ms
                print(f"{variant} attention {'on' if att else 'off'}: onnxruntime {torch_ms / ort_ms:.2f}x the "
                      f"speed of torch ({ort_ms:.1f} vs {torch_ms:.1f} ms median, measured above in turns)")
        if args.floor:
            rates = rates or _peak_rates()
            _print_floor(variant, rates, {backend: results[(variant, backend, False)].step.median_ms
                                          for backend in args.backends},
                         results[("reference",)].step.median_ms if variant == "r50" else None)
    _print_ratios(results, variants, args.backends)
    for backend in args.backends if "r50" in variants else ():
        ours, reference = results[("r50", backend, False)], results[("reference",)]
        print(f"r50 {backend} attention off: {reference.step.median_ms / ours.step.median_ms:.2f}x the speed of the "
              f"reference formulation ({ours.step.median_ms:.1f} vs {reference.step.median_ms:.1f} ms median, "
              f"measured above in turns on the same frames and weights)")
    if "r50" in variants:  # the torch modules against pysot's formulation of them: once, whatever the backends
        cmp = compare_with_reference(_tracker("r50", args.weights, False, "torch"), frames, box, args.warmup)
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in cmp.max_abs_diff.items())
        print(f"r50 network step, same crops: ours (torch) {cmp.ours.median_ms:.1f} ms vs reference formulation "
              f"(per-frame kernel convs + full 3969-ch mask head) {cmp.reference.median_ms:.1f} ms; "
              f"max |difference|: {diffs}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `bench` subcommand."""
    parser = subparsers.add_parser("bench", help="per-frame latency of track(), attention on/off, per stage",
                                   description=__doc__, epilog=EXAMPLE,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="*", help="model variants (default: every variant present)")
    parser.add_argument("--weights", help="weights file (default: random weights, timing only)")
    parser.add_argument("--frames", type=int, default=40, help="timed frames per configuration (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps (default 3)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--settle-ms", type=float, default=0.0,
                        help="untimed pause before every step, as between a camera's frames: idle threads fall "
                             "asleep and caches go cold, so each step pays its wake-up (default %(default)s: back to "
                             "back, where one configuration's spinning OpenMP threads may slow the next)")
    parser.add_argument("--backends", nargs="+", default=["auto"], choices=("auto", "torch", "onnxruntime"),
                        help="inference backends, timed in turns on the same frames (default auto: the one "
                             "Tracker.create picks, onnxruntime when installed)")
    parser.add_argument("--peers", type=Path, help="folder of the peers' ONNX files (tools/peers/build_peers.py): "
                        "adds OpenCV's NanoTrack V2 and, when present, NanoTrack V3 and LightFC (onnxruntime) on "
                        "the same frames, and prints each variant's median relative to theirs")
    parser.add_argument("--targets", type=int, nargs="+", metavar="N",
                        help="also time N targets a frame on one model (one batched search step), e.g. 1 2 4")
    parser.add_argument("--int8", action="store_true",
                        help="also time the int8 graphs of the variants that ship them (onnxruntime; model.precision)")
    parser.add_argument("--lost", action="store_true",
                        help="also time a lost frame (re-detection: widened search, frame tiles, the plain step, "
                             "verification)")
    parser.add_argument("--contend", type=int, default=0, metavar="N",
                        help="time lite and r50 at 1 and 2 threads alone and beside N busy processes")
    parser.add_argument("--floor", action="store_true",
                        help="also count each variant's multiply-adds a frame and time r50's largest layer alone "
                             "(this CPU's float32 rate): the least time any float32 runtime can take here, next to "
                             "the measured medians")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's choice; --node uses the node's: cores - 1)")
    node = parser.add_argument_group("--node: the ROS node end to end (needs make setup and env.sh)")
    node.add_argument("--node", action="store_true",
                      help="end-to-end latency of tracker_node (publish -> detection) next to track() on the same "
                           "frames, and processed fps under a faster stream (lite model)")
    node.add_argument("--rate", type=float, default=60.0, help="--node: stream rate in Hz (default 60)")
    node.add_argument("--seconds", type=float, default=5.0, help="--node: stream duration (default 5 s)")
    node.add_argument("--device", default="cpu", help="--node: model device (default cpu)")
    node.add_argument("--domain-id", type=int, default=None,
                      help="--node: ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID, else 74); discovery stays on localhost")
    node.add_argument("--startup-timeout", type=float, default=120.0, help="--node: seconds for the node to start")
    parser.set_defaults(func=run)
