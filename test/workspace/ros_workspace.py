"""A ROS workspace made by a test: this repository copied to <root>/src/attsiammask as a user's clone would put
it, and the environment colcon and rosdep run in (the wheels' venv stands in for /opt/ros/<distro>)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECKOUT = Path("src") / "attsiammask"
INTERFACES = CHECKOUT / "interfaces"
VENV = Path(sys.prefix)
# What colcon and the node need from a clone; the rest (tests, tools, data) plays no part in the build.
PACKAGE_PATHS = ("package.xml", "setup.py", "setup.cfg", "resource", "launch", "config", "interfaces",
                 "attsiammask_core", "attsiammask_ros")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def make_workspace(root: Path) -> Path:
    """<root>/src/attsiammask holding the package files of this checkout (working tree, uncommitted included)."""
    checkout = root / CHECKOUT
    checkout.mkdir(parents=True)
    for name in PACKAGE_PATHS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, checkout / name, ignore=SKIP)
        else:
            shutil.copy2(source, checkout / name)
    return root


def tool_env(*underlays: Path) -> dict[str, str]:
    """A clean environment: the venv's tools, the given colcon install spaces as underlays, nothing of make setup.

    PYTHONDONTWRITEBYTECODE is dropped (setuptools warns about it) and discovery stays on this host.
    """
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TERM", "USER")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    prefixes = [*(str(u) for u in underlays), str(VENV)]
    env.update(
        PATH=os.pathsep.join([str(VENV / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        AMENT_PREFIX_PATH=os.pathsep.join(prefixes),
        CMAKE_PREFIX_PATH=os.pathsep.join(prefixes),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        ROS_DOMAIN_ID=os.environ.get("ROS_DOMAIN_ID", "73"),
        RMW_IMPLEMENTATION=os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp"),
        COLCON_HOME=str(Path(os.environ.get("TMPDIR", "/tmp")) / "attsiammask-colcon-home-empty"),
    )
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a tool from `cwd` as a shell would (PWD set), stdout and stderr together in .stdout."""
    return subprocess.run(cmd, cwd=cwd, env={**env, "PWD": str(cwd)}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def in_sourced_workspace(workspaces: list[Path], command: str) -> list[str]:
    """A bash command line that sources each workspace's install/setup.bash (in order) and then runs `command`."""
    sources = " && ".join(f". {w / 'install' / 'setup.bash'}" for w in workspaces)
    return ["bash", "-c", f"{sources} && {command}"]
