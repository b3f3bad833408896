"""Print what `vot evaluate` and `vot analysis` left in a workspace: the results files of one tracker and the
numbers of an analysis JSON (`vot analysis --format json --name NAME` writes <workspace>/analysis/NAME.json).

Usage: show_results.py WORKSPACE TRACKER [ANALYSIS_NAME]   (standard library only)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    workspace, tracker = Path(argv[0]), argv[1]
    name = argv[2] if len(argv) == 3 else "vot-check"
    results = workspace / "results" / tracker
    files = sorted(p for p in results.rglob("*") if p.is_file()) if results.is_dir() else []
    if not files:
        print(f"show_results: no results in {results}: the evaluation failed (see the toolkit's messages above)",
              file=sys.stderr)
        return 1
    print(f"results of {tracker}: {results.resolve()}")
    for path in files:
        print(f"  {path.relative_to(results)}  ({path.stat().st_size} bytes)")
    report = workspace / "analysis" / f"{name}.json"
    if not report.is_file():
        print(f"show_results: no analysis {report}", file=sys.stderr)
        return 1
    data = json.loads(report.read_text())
    print(f"analysis (vot-toolkit {data.get('toolkit')}): {report.resolve()}")
    names = list(data["trackers"])
    for experiment, block in data["results"].items():
        for analysis, values in zip(block["parameters"]["analyses"], block["results"], strict=True):
            kind = analysis["type"].rsplit(".", 1)[-1]
            for tracker_name, value in zip(names, values, strict=True):
                if kind == "AverageAccuracy":
                    print(f"  {experiment} / {analysis['name']} ({kind}): {tracker_name}: average overlap "
                          f"{value[0]:.4f}")
                elif kind == "AverageSuccessPlot":
                    curve = value[0]
                    auc = sum(point[1] for point in curve) / len(curve)
                    print(f"  {experiment} / {analysis['name']} ({kind}): {tracker_name}: {len(curve)} thresholds, "
                          f"area under the success curve {auc:.4f}")
                else:
                    print(f"  {experiment} / {analysis['name']} ({kind}): {tracker_name}: {json.dumps(value)[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
