"""`make setup` installs the ament layout that ros2 run and launch rely on."""
from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

ament_index = pytest.importorskip("ament_index_python.packages", reason="run `make setup` and source env.sh")
REPO = Path(__file__).resolve().parents[1]


def declared_console_scripts() -> list[str]:
    text = (REPO / "setup.py").read_text()
    block = re.search(r'"console_scripts":\s*\[(.*?)\]', text, re.S).group(1)
    return re.findall(r'"([\w-]+)\s*=', block)


def test_setup_cfg_puts_scripts_in_lib_package():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    assert config["install"]["install_scripts"] == "$base/lib/attsiammask_ros"
    assert config["develop"]["script_dir"] == "$base/lib/attsiammask_ros"


def test_every_console_script_is_installed_where_ros2_run_looks():
    prefix = Path(ament_index.get_package_prefix("attsiammask_ros"))
    scripts = declared_console_scripts()
    assert scripts
    for name in scripts:
        assert (prefix / "lib" / "attsiammask_ros" / name).is_file(), name


def test_share_holds_package_xml_and_resource_marker():
    share = Path(ament_index.get_package_share_directory("attsiammask_ros"))
    assert (share / "package.xml").read_text() == (REPO / "package.xml").read_text()
    assert "attsiammask_ros" in ament_index.get_packages_with_prefixes()
