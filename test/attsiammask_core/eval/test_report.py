"""Report: summary numbers from known records, markdown table (one row per tracker), JSON and plot files."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from attsiammask_core.eval import metrics
from attsiammask_core.eval.report import markdown_table, summarize, write_report
from attsiammask_core.eval.runner import EvalOptions, EvalResults, OPERecord, VOTRecord


def _ope(tracker: str, seq: str, shift: float, n: int = 10, j: bool = False) -> OPERecord:
    gt = np.array([[10.0 + i, 20.0, 10.0, 10.0] for i in range(n)])
    boxes = gt.copy()
    boxes[1:, 0] += shift
    latency = np.full(n, 0.01)
    latency[0] = np.nan
    j_values = np.where(np.arange(n) > 0, 0.5, np.nan)
    return OPERecord(tracker=tracker, sequence=seq, boxes=boxes, gt=gt, init_frame=0, latency_s=latency,
                     init_latency_s=0.02, held_frames=0, j=j_values if j else None, j_box=j_values * 0.5)


def _vot(tracker: str, seq: str, fail: bool, n: int = 40) -> VOTRecord:
    overlaps = np.full(n, 0.8)
    overlaps[0] = np.nan
    inits, failures = (0,), ()
    if fail:
        overlaps[20], overlaps[21:25], overlaps[25] = 0.0, np.nan, np.nan
        inits, failures = (0, 25), (20,)
    run = metrics.VOTRun(overlaps=overlaps, init_frames=inits, failure_frames=failures, length=n)
    latency = np.full(n, 0.02)
    return VOTRecord(tracker=tracker, sequence=seq, run=run, boxes=np.zeros((n, 4)), latency_s=latency,
                     init_latency_s=(0.03,), held_frames=0, skip=5, burn_in=10)


def _results() -> EvalResults:
    results = EvalResults(trackers=["good", "bad"], sequences=["s1", "s2"], options=EvalOptions())
    results.ope = {"good": {"s1": _ope("good", "s1", 0.0, j=True), "s2": _ope("good", "s2", 0.0, j=True)},
                   "bad": {"s1": _ope("bad", "s1", 5.0), "s2": _ope("bad", "s2", 30.0)}}
    results.vot = {"good": {"s1": _vot("good", "s1", False), "s2": _vot("good", "s2", False)},
                   "bad": {"s1": _vot("bad", "s1", True), "s2": _vot("bad", "s2", True)}}
    return results


def test_summary_numbers():
    summary = summarize(_results(), eao_interval=(5, 30))
    good, bad = summary["trackers"]["good"]["overall"], summary["trackers"]["bad"]["overall"]
    assert good["ope"]["auc"] == pytest.approx(20 / 21) and good["ope"]["precision20"] == 1.0
    assert good["ope"]["frames"] == 18 and len(good["ope"]["success_curve"]) == 21
    # shift 5 px of a 10 px box: IoU 5/15 = 1/3; shift 30 px: IoU 0 and centre error 30 px
    s1 = summary["trackers"]["bad"]["sequences"]["s1"]["ope"]
    assert s1["auc"] == pytest.approx(np.mean(1 / 3 > np.linspace(0, 1, 21)))
    assert bad["ope"]["precision20"] == pytest.approx(0.5)
    assert good["vot"]["accuracy"] == pytest.approx(0.8) and good["vot"]["failures"] == 0
    assert good["vot"]["robustness"] == 1.0
    assert bad["vot"]["failures"] == 2 and bad["vot"]["failures_per_100"] == pytest.approx(2.5)
    assert bad["vot"]["robustness"] == pytest.approx(math.exp(-100 * 2 / 80))
    assert bad["vot"]["eao"] < good["vot"]["eao"] == pytest.approx(0.8)
    assert good["J"] == 0.5 and good["J_box"] == 0.25 and bad["J"] is None and bad["J_box"] == 0.25
    # every update() of both protocols pooled: 9 x 10 ms + 40 x 20 ms per sequence
    assert good["speed"]["frames"] == 2 * (9 + 40) and good["speed"]["median_ms"] == pytest.approx(20.0)
    assert bad["latency_vs_first"] == {"reference": "good", "ratio": pytest.approx(1.0)}
    assert summary["trackers"]["bad"]["sequences"]["s2"]["vot"]["failure_frames"] == [20]


def test_markdown_table_one_row_per_tracker():
    table = markdown_table(summarize(_results()))
    lines = table.strip().splitlines()
    assert lines[0].startswith("| tracker | OPE AUC | Prec@20 | VOT accuracy | failures | failures/100 | EAO | J |")
    assert lines[0].endswith("| median ms | p95 ms | fps |")
    assert len(lines) == 4 and lines[2].startswith("| good | 0.952 | 1.000 | 0.800 | 0 | 0.00 |")
    assert lines[3].split(" | ")[7] == "-"  # no tracker masks: J "-"


def test_write_report_files(tmp_path):
    summary, table, paths = write_report(_results(), tmp_path / "report")
    assert [p.name for p in paths.all()] == ["results.json", "table.md", "success.png", "precision.png", "ar.png"]
    for path in paths.all():
        assert path.is_file() and path.stat().st_size > 0
    assert paths.plots[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(paths.results_json.read_text())  # strict JSON: no NaN
    assert set(data["trackers"]) == {"good", "bad"} and data["eao_interval"] == [100, 356]
    assert paths.table_md.read_text() == table


def test_report_of_one_protocol_only(tmp_path):
    results = _results()
    results.vot = {}
    results.options = EvalOptions(protocols=("ope",))
    _, table, paths = write_report(results, tmp_path)
    assert [p.name for p in paths.plots] == ["success.png", "precision.png"]
    assert table.splitlines()[2].split(" | ")[3:7] == ["-", "-", "-", "-"]


def test_held_frames_are_reported_under_the_table():
    results = _results()
    record = results.ope["bad"]["s1"]
    results.ope["bad"]["s1"] = OPERecord(
        tracker="bad", sequence="s1", boxes=record.boxes, gt=record.gt, init_frame=0, latency_s=record.latency_s,
        init_latency_s=0.0, held_frames=3)
    summary = summarize(results)
    assert summary["trackers"]["bad"]["overall"]["held_frames"] == 3
    assert summary["trackers"]["bad"]["sequences"]["s1"]["held_frames_ope"] == 3
    assert markdown_table(summary).rstrip().endswith("kept its last box (OpenCV ok=False; ours \"lost\"), both "
                                                     "protocols: bad 3.")
