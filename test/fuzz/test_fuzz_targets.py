"""The atheris targets in CI: each runs briefly (two at a time) from its committed seeds and regression inputs and
must not crash; the harness's cost check and command line are checked directly. `make fuzz` runs them long."""
from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import run_targets  # noqa: E402

pytest.importorskip("atheris", reason="atheris (requirements-build.txt) runs the fuzz targets")

BRIEF_SECONDS = 3  # per target; with start-up about 10 s each, two at a time: ~40 s for all


@pytest.mark.slow
def test_every_target_runs_briefly_without_a_crash(tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda t: run_targets.run_target(t, BRIEF_SECONDS, tmp_path), run_targets.TARGETS))
    print(run_targets.table(runs))
    crashed = {r.target: r.finding + "\n" + r.log.read_text(errors="replace")[-3000:] for r in runs if r.crashed}
    assert not crashed, crashed
    for run in runs:  # every target really ran: its seeds loaded, inputs executed, coverage recorded
        assert run.execs > 0 and run.coverage > 0 and run.corpus > 0, run


def test_every_target_has_committed_seeds_and_they_are_small():
    sizes = {t: sum(p.stat().st_size for d in harness.corpus_dirs(t) for p in d.iterdir()) for t in
             run_targets.TARGETS}
    assert all(sizes.values()), sizes
    assert sum(sizes.values()) < 200_000, sizes
    assert sorted(p.stem.removeprefix("fuzz_") for p in harness.FUZZ_DIR.glob("fuzz_*.py")) == sorted(
        run_targets.TARGETS)


def test_a_refusal_that_costs_too_much_is_a_finding():
    def slow_refusal(data: bytes) -> None:
        start = time.process_time()
        while time.process_time() - start < 0.05:  # 50 ms of CPU work
            pass
        raise ValueError("refused")

    def big_refusal(data: bytes) -> None:
        block = bytearray(200 << 20)  # 200 MB touched, for a few bytes of input
        block[::4096] = b"\1" * len(block[::4096])
        raise ValueError("refused")

    def warmed(check):  # the first input of a run is a warm-up (lazy imports), never measured
        check(b"")
        return check

    strict = harness.Budget(base_ms=10, ms_per_kib=0, base_mb=64, mb_per_kib=0)
    with pytest.raises(harness.CostError, match="ms"):
        warmed(harness.checked(slow_refusal, (ValueError,), strict))(b"abc")
    if harness.reset_peak_rss():
        with pytest.raises(harness.CostError, match="MB"):
            warmed(harness.checked(big_refusal, (ValueError,), harness.Budget(base_ms=1e6)))(b"abc")
    warmed(harness.checked(slow_refusal, (ValueError,), harness.Budget()))(b"abc")  # within the default budget
    with pytest.raises(KeyError):  # not a refusal: propagates as a crash
        harness.checked(lambda data: {}["missing"], (ValueError,))(b"")


def test_libfuzzer_command_line_gets_the_limits_and_committed_corpus():
    args = harness.libfuzzer_argv("bag", ["fuzz_bag.py", "-max_total_time=5"])
    assert "-rss_limit_mb=2048" in args and "-timeout=10" in args and "-max_total_time=5" in args
    assert args[-2:] == [str(harness.SEEDS_DIR / "bag"), str(harness.REGRESSIONS_DIR / "bag")]
    mine = harness.libfuzzer_argv("bag", ["fuzz_bag.py", "-timeout=3", "-artifact_prefix=x/", "crash-1"])
    assert "-timeout=10" not in mine and mine[-1] == "crash-1" and not any("corpus" in a for a in mine)
