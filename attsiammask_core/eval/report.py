"""Summaries of an evaluation: results JSON (per sequence and overall, every tracker), a markdown table and plots.

Overall numbers: OPE from `metrics.ope_overall` of the per-sequence results; VOT accuracy is the mean of the
per-sequence accuracies (sequences without an accuracy frame are left out), failures the total count,
failures per 100 frames over all frames, robustness ``exp(-S * failures / frames)`` with S = 100 (the
probability of tracking 100 frames without failure, as VOT reports it), EAO from `metrics.eao` over all runs;
J and J_box are the mean over sequences of each sequence's mean (DAVIS style); speed pools every timed
update() of the tracker in every protocol run. Long-term numbers (when that protocol ran): `longterm_report`.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attsiammask_core.eval import metrics
from attsiammask_core.eval.longterm_metrics import LongTermSettings
from attsiammask_core.eval.longterm_report import markdown_section, summarize_longterm
from attsiammask_core.eval.runner import EvalResults, LongTermRecord, OPERecord, VOTRecord

__all__ = ["ROBUSTNESS_S", "ReportPaths", "markdown_table", "summarize", "write_report"]

ROBUSTNESS_S = 100.0
DEFAULT_LONGTERM = LongTermSettings()
COLUMNS = ("tracker", "OPE AUC", "Prec@20", "VOT accuracy", "failures", "failures/100", "EAO", "J", "J_box",
           "median ms", "p95 ms", "fps")


def _num(value: Any) -> float | None:
    """A JSON-safe float (None for NaN/inf/None)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _curve(values: Any) -> list[float | None]:
    return [_num(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _finite(values: np.ndarray | None) -> np.ndarray:
    if values is None:
        return np.zeros(0)
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def _seq_j(values: np.ndarray | None) -> float | None:
    finite = _finite(values)
    return _num(metrics.mean_j(finite)) if finite.size else None


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _speed(latencies: list[np.ndarray]) -> dict[str, Any] | None:
    pooled = np.concatenate([_finite(v) for v in latencies]) if latencies else np.zeros(0)
    if pooled.size == 0:
        return None
    return {k: (_num(v) if k != "frames" else int(v)) for k, v in metrics.latency_stats(pooled).items()}


def _ope_json(result: metrics.OPEResult | None, curves: bool) -> dict[str, Any] | None:
    if result is None:
        return None
    out: dict[str, Any] = {"auc": _num(result.auc), "precision20": _num(result.precision20),
                           "frames": int(result.frames)}
    if curves:
        out.update(success_curve=_curve(result.success), precision_curve=_curve(result.precision))
    return out


def _robustness(failures: int, frames: int) -> float | None:
    return math.exp(-ROBUSTNESS_S * failures / frames) if frames > 0 else None


def _tracker_summary(ope: dict[str, OPERecord], vot: dict[str, VOTRecord], sequences: list[str],
                     eao_interval: tuple[int, int], longterm: dict[str, LongTermRecord] | None = None,
                     settings: LongTermSettings = DEFAULT_LONGTERM) -> dict[str, Any]:
    longterm = longterm or {}
    per_seq: dict[str, dict[str, Any]] = {}
    ope_results = []
    for name in sequences:
        entry: dict[str, Any] = {}
        record = ope.get(name)
        if record is not None:
            result = record.result()
            if result is not None:
                ope_results.append(result)
            entry["ope"] = _ope_json(result, curves=False)
            entry["J"], entry["J_box"] = _seq_j(record.j), _seq_j(record.j_box)
            entry["held_frames_ope"] = record.held_frames
        vrec = vot.get(name)
        if vrec is not None:
            entry["vot"] = {"accuracy": _num(vrec.accuracy()), "failures": vrec.failures,
                            "failure_frames": [int(f) for f in vrec.run.failure_frames],
                            "init_frames": [int(f) for f in vrec.run.init_frames], "length": int(vrec.run.length),
                            "held_frames": vrec.held_frames}
        lrec = longterm.get(name)
        entry["speed"] = _speed([r.latency_s for r in (record, vrec, lrec) if r is not None])
        per_seq[name] = entry

    overall: dict[str, Any] = {}
    if ope:
        overall["ope"] = _ope_json(metrics.ope_overall(ope_results), curves=True) if ope_results else None
        overall["J"] = _mean([per_seq[n].get("J") for n in sequences if n in ope])
        overall["J_box"] = _mean([per_seq[n].get("J_box") for n in sequences if n in ope])
    if vot:
        runs = [vot[n].run for n in sequences if n in vot]
        failures = sum(vot[n].failures for n in sequences if n in vot)
        frames = sum(int(r.length) for r in runs)
        overall["vot"] = {
            "accuracy": _mean([per_seq[n]["vot"]["accuracy"] for n in sequences if n in vot]),
            "failures": failures, "frames": frames, "failures_per_100": _num(metrics.failures_per_100(runs)),
            "robustness": _robustness(failures, frames),
            "eao": _num(metrics.eao(runs, low=eao_interval[0], high=eao_interval[1])),
            "eao_interval": list(eao_interval)}
    if longterm:
        overall["longterm"], lt_seq = summarize_longterm(longterm, sequences, settings)
        for name, values in lt_seq.items():
            per_seq[name]["longterm"] = values
    overall["speed"] = _speed([r.latency_s for r in [*ope.values(), *vot.values(), *longterm.values()]])
    overall["held_frames"] = sum(r.held_frames for r in [*ope.values(), *vot.values()])
    return {"overall": overall, "sequences": per_seq}


def summarize(results: EvalResults, eao_interval: tuple[int, int] = (100, 356),
              longterm: LongTermSettings = DEFAULT_LONGTERM) -> dict[str, Any]:
    """The results JSON: options, per-tracker overall and per-sequence numbers, speed ratios (same run)."""
    trackers = {spec: _tracker_summary(results.ope.get(spec, {}), results.vot.get(spec, {}), results.sequences,
                                       eao_interval, results.longterm.get(spec, {}), longterm)
                for spec in results.trackers}
    medians = {spec: (t["overall"]["speed"] or {}).get("median_ms") for spec, t in trackers.items()}
    reference = next((s for s in results.trackers if medians[s]), None)
    for spec, summary in trackers.items():
        ratio = (medians[spec] / medians[reference]) if reference and medians[spec] else None
        summary["overall"]["latency_vs_first"] = {"reference": reference, "ratio": _num(ratio)}
    extra = {"longterm_settings": asdict(longterm)} if results.longterm else {}
    return {"options": asdict(results.options), "eao_interval": list(eao_interval), **extra,
            "success_thresholds": _curve(metrics.SUCCESS_THRESHOLDS),
            "precision_thresholds_px": _curve(_precision_thresholds(trackers)),
            "sequences": list(results.sequences), "trackers": trackers}


def _precision_thresholds(trackers: dict[str, Any]) -> np.ndarray:
    known = getattr(metrics, "PRECISION_THRESHOLDS", None)
    if known is not None:
        return np.asarray(known, dtype=np.float64)
    lengths = [len(t["overall"]["ope"]["precision_curve"]) for t in trackers.values() if t["overall"].get("ope")]
    return np.arange(max(lengths), dtype=np.float64) if lengths else np.zeros(0)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def markdown_table(summary: dict[str, Any]) -> str:
    """One row per tracker; "-" where a protocol was not run or does not apply."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for spec, tracker in summary["trackers"].items():
        overall = tracker["overall"]
        ope, vot, speed = overall.get("ope") or {}, overall.get("vot") or {}, overall.get("speed") or {}
        cells = [spec, _fmt(ope.get("auc")), _fmt(ope.get("precision20")), _fmt(vot.get("accuracy")),
                 _fmt(vot.get("failures")), _fmt(vot.get("failures_per_100"), 2), _fmt(vot.get("eao")),
                 _fmt(overall.get("J")), _fmt(overall.get("J_box")), _fmt(speed.get("median_ms"), 1),
                 _fmt(speed.get("p95_ms"), 1), _fmt(speed.get("fps"), 1)]
        lines.append("| " + " | ".join(cells) + " |")
    held = [f"{spec} {t['overall']['held_frames']}" for spec, t in summary["trackers"].items()
            if t["overall"].get("held_frames")]
    if held:
        lines += ["", "Frames on which a tracker reported no target and kept its last box (OpenCV ok=False; ours "
                  "\"lost\"), both protocols: " + ", ".join(held) + "."]
    section = markdown_section(summary)
    return "\n".join(lines) + "\n" + ("\n" + section if section else "")


def _colour(index: int) -> str:
    """The same colour for a tracker in every plot (matplotlib's default cycle by tracker order)."""
    return f"C{index % 10}"


def _plot_curves(summary: dict[str, Any], key: str, path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    success = key == "success_curve"
    xs = np.asarray(summary["success_thresholds" if success else "precision_thresholds_px"], dtype=np.float64)
    entries = []
    for index, (spec, tracker) in enumerate(summary["trackers"].items()):
        ope = tracker["overall"].get("ope")
        if ope:
            score = ope["auc"] if success else ope["precision20"]
            entries.append((-(score or 0.0), spec, score, np.asarray(ope[key], dtype=np.float64), _colour(index)))
    if not entries:
        return None
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    for _, spec, score, ys, colour in sorted(entries, key=lambda e: e[0]):  # legend best first
        label = f"{spec} [{'AUC' if success else 'P@20'} {_fmt(score)}]"
        ax.plot(xs[: len(ys)], ys[: len(xs)], label=label, linewidth=1.8, color=colour)
    ax.set_xlabel("overlap threshold (IoU)" if success else "location error threshold (px)")
    ax.set_ylabel("success rate" if success else "precision")
    ax.set_title(f"{'Success' if success else 'Precision'} plot, OPE ({len(summary['sequences'])} sequences)")
    ax.set_ylim(0, 1.0)
    ax.set_xlim(float(xs.min()), float(xs.max()))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left" if success else "lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_ar(summary: dict[str, Any], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(i, spec, t["overall"].get("vot")) for i, (spec, t) in enumerate(summary["trackers"].items())]
    points = [(i, spec, v) for i, spec, v in points
              if v and v["accuracy"] is not None and v["robustness"] is not None]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=120)
    for index, spec, vot in points:
        ax.scatter(vot["robustness"], vot["accuracy"], s=50, color=_colour(index),
                   label=f"{spec} [A {_fmt(vot['accuracy'])}, F/100 {_fmt(vot['failures_per_100'], 2)}]")
        ax.annotate(spec, (vot["robustness"], vot["accuracy"]), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)
    ax.set_xlabel(f"robustness  exp(-{ROBUSTNESS_S:g} x failures / frames)")
    ax.set_ylabel("accuracy (mean IoU, burn-in frames excluded)")
    ax.set_title("Accuracy-robustness, supervised (VOT) protocol")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class ReportPaths:
    results_json: Path
    table_md: Path
    plots: tuple[Path, ...]

    def all(self) -> tuple[Path, ...]:
        return (self.results_json, self.table_md, *self.plots)


def write_report(results: EvalResults, out_dir: Path, eao_interval: tuple[int, int] = (100, 356),
                 longterm: LongTermSettings = DEFAULT_LONGTERM) -> tuple[dict[str, Any], str, ReportPaths]:
    """Write OUT/results.json, OUT/table.md (with the long-term section when that protocol ran) and
    OUT/success.png, precision.png (OPE), ar.png (VOT)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(results, eao_interval, longterm)
    table = markdown_table(summary)
    results_json = out_dir / "results.json"
    results_json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    table_md = out_dir / "table.md"
    table_md.write_text(table, encoding="utf-8")
    plots = [_plot_curves(summary, "success_curve", out_dir / "success.png"),
             _plot_curves(summary, "precision_curve", out_dir / "precision.png"),
             _plot_ar(summary, out_dir / "ar.png")]
    return summary, table, ReportPaths(results_json, table_md, tuple(p for p in plots if p is not None))
