"""What every atheris target shares: the libFuzzer command line (limits and corpus folders) and the cost check
that turns an expensive refusal into a finding. A target is `python test/fuzz/fuzz_<name>.py [libFuzzer flags]`."""
from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
SEEDS_DIR = FUZZ_DIR / "seeds"
REGRESSIONS_DIR = FUZZ_DIR / "regressions"  # inputs that once crashed a target, kept after the fix
REPO = FUZZ_DIR.parents[1]
WORK_DIR = REPO / "build" / "fuzz"  # corpus grown by runs and crash artifacts: never in the committed seeds
# libFuzzer's own limits, unless the command line sets them: whole-process memory and seconds per input.
DEFAULT_FLAGS = {"-rss_limit_mb": "2048", "-timeout": "10"}


class CostError(AssertionError):
    """A refused input that cost far more time or memory than its length justifies: a finding."""


@dataclass(frozen=True)
class Budget:
    """What refusing one input may cost: a fixed part plus a part per byte of input (a refusal reads the input
    once, so both grow with its length, never with the sizes it declares)."""

    base_ms: float = 250.0
    ms_per_kib: float = 2.0
    base_mb: float = 64.0
    mb_per_kib: float = 0.25  # 256 bytes of memory per byte of input

    def time_ms(self, length: int) -> float:
        return self.base_ms + self.ms_per_kib * length / 1024

    def memory_mb(self, length: int) -> float:
        return self.base_mb + self.mb_per_kib * length / 1024


def reset_peak_rss() -> bool:
    """Reset this process's peak resident set size (Linux >= 4.0, /proc/self/clear_refs '5'); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident set size since the last reset (VmHWM), in MiB."""
    with open("/proc/self/status") as f:
        match = re.search(r"VmHWM:\s+(\d+)\s+kB", f.read())
    return int(match.group(1)) / 1024 if match else 0.0


def current_rss_mb() -> float:
    with open("/proc/self/status") as f:
        match = re.search(r"VmRSS:\s+(\d+)\s+kB", f.read())
    return int(match.group(1)) / 1024 if match else 0.0


def checked(one_input: Callable[[bytes], None], refusals: tuple[type[BaseException], ...],
            budget: Budget = Budget()) -> Callable[[bytes], None]:
    """`one_input` wrapped for libFuzzer: an exception in `refusals` is a clean refusal, which must stay within
    `budget` (CPU time, and peak memory above the resident size before the input); anything else propagates (a
    crash). libFuzzer's -timeout bounds the wall time of every input, accepted or refused.
    FUZZ_COST_CHECK=0 turns the cost check off (e.g. under a debugger)."""
    enforce = os.environ.get("FUZZ_COST_CHECK", "1") != "0" and reset_peak_rss()
    calls = [0]

    def run(data: bytes) -> None:
        calls[0] += 1
        if enforce and calls[0] == 1:  # the first input pays for lazy imports and caches: not measured
            one_input_quietly(one_input, data, refusals)
            return
        if enforce:
            reset_peak_rss()
            before = current_rss_mb()
        start = time.process_time()  # CPU time: a busy machine's waiting for a core is not the input's cost
        try:
            one_input(data)
        except refusals as exc:
            if not enforce:
                return
            spent_ms = (time.process_time() - start) * 1e3
            grown_mb = peak_rss_mb() - before
            if spent_ms > budget.time_ms(len(data)) or grown_mb > budget.memory_mb(len(data)):
                raise CostError(f"refusing {len(data)} bytes cost {spent_ms:.1f} ms and {grown_mb:.1f} MB (budget "
                                f"{budget.time_ms(len(data)):.0f} ms, {budget.memory_mb(len(data)):.0f} MB): "
                                f"{type(exc).__name__}: {exc}") from exc

    return run


def corpus_dirs(name: str) -> list[Path]:
    """The committed inputs of target `name`: its seeds and, where there are any, its regression inputs."""
    return [folder / name for folder in (SEEDS_DIR, REGRESSIONS_DIR) if (folder / name).is_dir()]


def one_input_quietly(one_input: Callable[[bytes], None], data: bytes,
                      refusals: tuple[type[BaseException], ...]) -> None:
    """Run one input, a refusal being no error."""
    try:
        one_input(data)
    except refusals:
        pass


def libfuzzer_argv(name: str, argv: Sequence[str]) -> list[str]:
    """argv with our default limits and, when no corpus folder is given, build/fuzz/corpus/<name> (written to)
    followed by the committed seeds and regression inputs (read only); crash files go to
    build/fuzz/artifacts/<name>/."""
    args = list(argv)
    flags = {a.split("=", 1)[0] for a in args[1:] if a.startswith("-")}
    for flag, value in DEFAULT_FLAGS.items():
        if flag not in flags:
            args.insert(1, f"{flag}={value}")
    if "-artifact_prefix" not in flags:
        artifacts = WORK_DIR / "artifacts" / name
        artifacts.mkdir(parents=True, exist_ok=True)
        args.insert(1, f"-artifact_prefix={artifacts}/")
    if not any(not a.startswith("-") for a in args[1:]):
        corpus = WORK_DIR / "corpus" / name
        corpus.mkdir(parents=True, exist_ok=True)
        args += [str(corpus), *map(str, corpus_dirs(name))]
    return args


def main(name: str, one_input: Callable[[bytes], None]) -> None:
    """Run `one_input` under libFuzzer with this process's command line (see libfuzzer_argv)."""
    import atheris

    if "cv2" in sys.modules:  # one core per target: decoders and tensors stay single-threaded
        sys.modules["cv2"].setNumThreads(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    atheris.Setup(libfuzzer_argv(name, sys.argv), one_input)
    atheris.Fuzz()


TRIPPED: list[str] = []


def tripwire(*args: object) -> None:
    """What the weights seeds' malicious pickle calls: if unpickling ever runs it, the target reports a crash."""
    TRIPPED.append(repr(args))
