"""rosdep resolves every dependency of the packages a ROS user builds, offline, against a snapshot of the real
rosdistro (kilted release entries and rosdep rules cut by tools/packaging/snapshot_rosdistro.py)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from workspace.ros_workspace import CHECKOUT, INTERFACES, REPO, make_workspace, run, tool_env

SNAPSHOT = Path(__file__).resolve().parent / "rosdistro_snapshot"
OS = ["--os", "ubuntu:noble", "--rosdistro", "kilted"]
# What a kilted install on Ubuntu 24.04 must pull in for our packages, by rosdep key -> apt package.
EXPECTED = {
    "rclpy": "ros-kilted-rclpy", "vision_msgs": "ros-kilted-vision-msgs", "launch_ros": "ros-kilted-launch-ros",
    "rosidl_default_generators": "ros-kilted-rosidl-default-generators", "ament_cmake": "ros-kilted-ament-cmake",
    "python3-torch": "python3-torch", "python3-skimage": "python3-skimage", "python3-opencv": "python3-opencv",
}

pytestmark = pytest.mark.skipif(shutil.which("rosdep") is None, reason="rosdep not installed: run `make setup`")


@pytest.fixture(scope="module")
def rosdep(tmp_path_factory):
    """A workspace plus a rosdep whose sources are the snapshot (file:// only), updated once."""
    root = make_workspace(tmp_path_factory.mktemp("ws"))
    home = tmp_path_factory.mktemp("rosdep")
    sources = home / "sources.list.d"
    sources.mkdir()
    (sources / "20-default.list").write_text("".join(f"yaml file://{SNAPSHOT / name}\n"
                                                     for name in ("base.yaml", "python.yaml")))
    env = tool_env()
    del env["AMENT_PREFIX_PATH"]  # a machine before the install: with -i rosdep skips ament packages found there
    env.update(ROSDEP_SOURCE_PATH=str(sources), ROSDISTRO_INDEX_URL=f"file://{SNAPSHOT / 'index-v4.yaml'}",
               ROS_HOME=str(home / "ros_home"), ROS_DISTRO="kilted", ROS_PYTHON_VERSION="3")
    update = run(["rosdep", "update", "--rosdistro", "kilted"], root, env, timeout=120)
    assert update.returncode == 0, update.stdout
    assert "http" not in update.stdout.replace("file://", ""), update.stdout  # nothing but the snapshot was read
    return root, env


def test_the_readme_rosdep_command_resolves_every_key(rosdep):
    root, env = rosdep
    done = run(["rosdep", "install", "--from-paths", "src", str(INTERFACES), "--ignore-src", "-y", "--simulate",
                *OS], root, env)
    assert done.returncode == 0, done.stdout
    assert "ERROR" not in done.stdout and "Cannot locate" not in done.stdout, done.stdout
    keys = run(["rosdep", "keys", "--from-paths", "src", str(INTERFACES), "--ignore-src", *OS], root, env)
    assert keys.returncode == 0, keys.stdout
    declared = set(keys.stdout.split())
    assert set(EXPECTED) <= declared and "attsiammask_interfaces" not in declared  # built from source
    assert "python3-safetensors" not in declared
    for key in sorted(declared):
        resolved = run(["rosdep", "resolve", key, *OS], root, env)
        assert resolved.returncode == 0, f"{key}: {resolved.stdout}"
        if key in EXPECTED:
            assert EXPECTED[key] in resolved.stdout.split(), f"{key}: {resolved.stdout}"


def test_the_readme_command_is_the_one_the_readme_gives():
    readme = (REPO / "README.md").read_text()
    assert f"rosdep install --from-paths src {INTERFACES} --ignore-src -y" in readme


def test_without_the_interfaces_path_rosdep_names_the_missing_package(rosdep):
    """colcon and rosdep do not look inside a package's folder: the nested path has to be given (README)."""
    root, env = rosdep
    done = run(["rosdep", "install", "--from-paths", "src", "--ignore-src", "-y", "--simulate", *OS], root, env)
    assert done.returncode != 0
    assert re.search(r"attsiammask_ros: Cannot locate rosdep definition for \[attsiammask_interfaces\]",
                     done.stdout), done.stdout


def test_fallback_vision_msgs_is_invisible_to_rosdep_and_colcon(rosdep):
    root, env = rosdep
    fallback = root / CHECKOUT / "interfaces" / "vision_msgs_fallback"
    assert (fallback / "COLCON_IGNORE").is_file() and (fallback / "package.xml").is_file()
    keys = run(["rosdep", "keys", "--from-paths", "src", str(INTERFACES), "--ignore-src", *OS], root, env)
    assert "vision_msgs" in keys.stdout.split()  # a dependency to install, not a package built from this source
