"""docs/ros-interface.md's parameter table is the one tools/docs/make_params_table.py generates from the schema."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("make_params_table", REPO / "tools" / "docs" / "make_params_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_holds_the_regenerated_table():
    generator = _generator()
    page = generator.PAGE.read_text()
    assert generator.with_table(page, generator.generated_table()) == page, \
        "docs/ros-interface.md is stale: run python tools/docs/make_params_table.py"


def test_the_table_has_every_parameter_with_default_and_range():
    from attsiammask_ros.parameters import SPECS

    table = _generator().generated_table()
    for spec in SPECS:
        row = next((line for line in table.splitlines() if line.startswith(f"| `{spec.name}` |")), None)
        assert row is not None, spec.name
        assert str(spec.default).lower() in row.lower(), spec.name
        if spec.minimum is not None:
            assert str(spec.minimum) in row and str(spec.maximum) in row, spec.name


def test_check_mode_reports_a_stale_page(tmp_path, capsys):
    generator = _generator()
    stale = tmp_path / "page.md"
    stale.write_text(f"# page\n{generator.BEGIN}\n| old |\n{generator.END}\n")
    assert generator.main(["--check", "--page", str(stale)]) == 1
    assert generator.main(["--page", str(stale)]) == 0
    assert generator.main(["--check", "--page", str(stale)]) == 0
    assert generator.generated_table() in stale.read_text()


def test_a_page_without_markers_is_refused():
    with pytest.raises(ValueError, match="no"):
        _generator().with_table("# no table here\n", "| x |")
