"""The `attsiammask` command: every subcommand is registered and `info` runs."""
from __future__ import annotations

import pytest

from attsiammask_core.cli import build_parser, main


def test_subcommands_are_registered():
    parser = build_parser()
    for command in ("info", "track", "convert", "bench"):
        assert parser.parse_args([command] + (["a", "b"] if command == "convert" else [])
                                 + (["--frames", "x", "--box", "1,2,3,4", "--out", "o"] if command == "track" else []))


def test_info_prints_versions(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "attsiammask" in out and "torch" in out and "cuda available" in out


def test_unknown_subcommand_exits_with_usage():
    with pytest.raises(SystemExit) as exc:
        main(["nope"])
    assert exc.value.code == 2


def test_demo_hands_every_argument_on_and_others_refuse_unknown_ones(capsys):
    from attsiammask_core.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["demo", "--help"])  # argparse's REMAINDER alone would refuse --help here
    assert exited.value.code == 0
    assert "attsiammask_ros.demo.run" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["info", "--bogus"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
