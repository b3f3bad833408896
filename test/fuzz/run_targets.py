"""Run the atheris targets one after another, each for a chosen time on one core, and print what each did
(inputs run, coverage, peak memory, crashes). `make fuzz` and the brief CI run (test_fuzz_targets.py) use it.
Run: python test/fuzz/run_targets.py --seconds 600 [--targets compressed bag ...]."""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

TARGETS = ("image_messages", "compressed", "camera", "weights", "bag", "set_target", "export_manifest")


@dataclass(frozen=True)
class FuzzRun:
    """What one target's run did."""

    target: str
    seconds: float  # wall time, start-up included
    fuzz_seconds: int  # libFuzzer's own count
    execs: int
    coverage: int
    features: int
    corpus: int
    peak_rss_mb: int
    slowest_s: int
    crashed: bool
    finding: str  # libFuzzer's error line and the crash file, when crashed
    log: Path


def _last_int(pattern: str, text: str) -> int:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else 0


def run_target(target: str, seconds: int, work: Path, rss_limit_mb: int = 2048, timeout_s: int = 10,
               extra: tuple[str, ...] = ()) -> FuzzRun:
    """Fuzz `target` for `seconds` (single-threaded) from its seeds, regression inputs and the corpus in `work`."""
    corpus, artifacts, logs = work / "corpus" / target, work / "artifacts" / target, work / "logs"
    for folder in (corpus, artifacts, logs):
        folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(harness.FUZZ_DIR / f"fuzz_{target}.py"), f"-max_total_time={seconds}",
               f"-rss_limit_mb={rss_limit_mb}", f"-timeout={timeout_s}", "-print_final_stats=1",
               f"-artifact_prefix={artifacts}/", *extra, str(corpus), *map(str, harness.corpus_dirs(target))]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    log = logs / f"{target}.log"
    start = time.monotonic()
    with log.open("w") as out:
        rc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False).returncode
    text = log.read_text(errors="replace")
    crashed = rc != 0 or "ERROR: libFuzzer" in text
    finding = ""
    if crashed:
        error = re.findall(r"==\d+== ERROR: libFuzzer: .*|=== Uncaught Python exception: ===\n.*", text)
        unit = re.findall(r"Test unit written to (\S+)", text)
        finding = f"{' | '.join(e.replace(chr(10), ' ') for e in error[-2:]) or f'exit {rc}'}" + (
            f"; input: {unit[-1]}" if unit else "")
    return FuzzRun(target, time.monotonic() - start, _last_int(r"Done \d+ runs in (\d+) second", text),
                   _last_int(r"stat::number_of_executed_units:\s+(\d+)", text), _last_int(r" cov: (\d+)", text),
                   _last_int(r" ft: (\d+)", text), _last_int(r" corp: (\d+)/", text),
                   _last_int(r"stat::peak_rss_mb:\s+(\d+)", text),
                   _last_int(r"stat::slowest_unit_time_sec:\s+(\d+)", text), crashed, finding, log)


def table(runs: list[FuzzRun]) -> str:
    lines = [f"{'target':<16} {'wall s':>7} {'fuzz s':>7} {'execs':>10} {'exec/s':>7} {'cov':>5} {'ft':>6} "
             f"{'corpus':>6} {'peak MB':>7} {'slowest s':>9}  result"]
    for r in runs:
        result = f"CRASH {r.finding}" if r.crashed else "no crash"
        lines.append(f"{r.target:<16} {r.seconds:>7.0f} {r.fuzz_seconds:>7} {r.execs:>10} "
                     f"{r.execs / max(r.fuzz_seconds, 1):>7.0f} {r.coverage:>5} {r.features:>6} {r.corpus:>6} "
                     f"{r.peak_rss_mb:>7} {r.slowest_s:>9}  {result}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600, help="fuzzing time per target (default 600)")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--work", type=Path, default=harness.WORK_DIR,
                        help="grown corpus, crash files and logs (default build/fuzz)")
    parser.add_argument("--rss-limit-mb", type=int, default=2048, help="libFuzzer -rss_limit_mb (default 2048)")
    parser.add_argument("--timeout", type=int, default=10, help="libFuzzer -timeout per input, s (default 10)")
    args = parser.parse_args(argv)
    runs = []
    for target in args.targets:
        print(f"fuzzing {target} for {args.seconds} s (log: {args.work / 'logs' / (target + '.log')})", flush=True)
        runs.append(run_target(target, args.seconds, args.work, args.rss_limit_mb, args.timeout))
        print(table(runs[-1:]).splitlines()[1], flush=True)
    print(table(runs))
    return 1 if any(r.crashed for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
