"""colcon in a workspace made by the test, as a ROS user builds: what it discovers, a plain `colcon build` failing
loudly with the commands to run, the README's build succeeding without warnings, and the node it installs
answering /set_target (run the way `ros2 launch` starts it: the installed executable, the workspace sourced).

The "distribution" is the wheels' venv plus an underlay workspace holding vision_msgs (built by the test from the
fallback definitions, because no vision_msgs wheel exists), so nothing of `make setup`'s install/ is used.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from workspace.ros_workspace import INTERFACES, REPO, VENV, in_sourced_workspace, make_workspace, run, tool_env

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("colcon") is None, reason="colcon not installed: run `make setup`")]
CMAKE_ARGS = ["--cmake-args", f"-DPython3_EXECUTABLE={VENV / 'bin' / 'python'}", "-DBUILD_TESTING=OFF"]
# colcon's notice that an AMENT_PREFIX_PATH entry has no local_setup.*: the wheels' venv, our stand-in for
# /opt/ros/<distro>, has none; a distribution does.
VENV_PREFIX_NOTICE = re.compile(rf"WARNING:colcon\.colcon_ros\.prefix_path\.ament:The path '{re.escape(str(VENV))}' "
                                r"in the environment variable AMENT_PREFIX_PATH doesn't contain any 'local_setup\.\*' "
                                r"files\.")


def _warnings(output: str) -> list[str]:
    lines = [line for line in output.splitlines() if not VENV_PREFIX_NOTICE.search(line)]
    return [line for line in lines if re.search(r"warn|stderr output|deprecat", line, re.I)]


@pytest.fixture(scope="module")
def underlay(tmp_path_factory):
    """A colcon install space with vision_msgs only: the part of a distribution no wheel provides."""
    root = tmp_path_factory.mktemp("underlay")
    shutil.copytree(REPO / "interfaces" / "vision_msgs_fallback", root / "src" / "vision_msgs",
                    ignore=shutil.ignore_patterns("COLCON_IGNORE"))
    done = run(["colcon", "build", *CMAKE_ARGS], root, tool_env())
    assert done.returncode == 0, done.stdout
    return root


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("ws"))


def test_discovery_plain_and_with_the_readme_base_paths(workspace, underlay):
    env = tool_env(underlay / "install")
    plain = run(["colcon", "list", "--names-only"], workspace, env)
    assert plain.returncode == 0 and plain.stdout.split() == ["attsiammask_ros"], plain.stdout
    readme = run(["colcon", "list", "--names-only", "--base-paths", "src", str(INTERFACES)], workspace, env)
    assert readme.stdout.split() == ["attsiammask_interfaces", "attsiammask_ros"], readme.stdout  # no vision_msgs


def test_plain_colcon_build_fails_at_build_time_with_the_commands(workspace, underlay, tmp_path):
    done = run(["colcon", "build", "--build-base", str(tmp_path / "build"), "--install-base",
                str(tmp_path / "install"), *CMAKE_ARGS], workspace, tool_env(underlay / "install"))
    assert done.returncode != 0, done.stdout
    assert "Failed   <<< attsiammask_ros" in done.stdout
    assert f"rosdep install --from-paths src {INTERFACES} --ignore-src -y" in done.stdout, done.stdout
    assert f"colcon build --base-paths src {INTERFACES}" in done.stdout


@pytest.fixture(scope="module")
def built(workspace, underlay):
    done = run(["colcon", "build", "--base-paths", "src", str(INTERFACES), *CMAKE_ARGS], workspace,
               tool_env(underlay / "install"))
    assert done.returncode == 0, done.stdout
    return workspace, done.stdout


def test_readme_build_builds_both_packages_without_warnings(built):
    workspace, output = built
    assert "Summary: 2 packages finished" in output, output
    assert _warnings(output) == [], output
    assert not (workspace / "install" / "vision_msgs").exists()  # the fallback is never built in a workspace
    for marker in ("attsiammask_interfaces", "attsiammask_ros"):
        assert (workspace / "install" / marker / "share" / "ament_index" / "resource_index" / "packages"
                / marker).is_file()
    share = workspace / "install" / "attsiammask_ros" / "share" / "attsiammask_ros"
    assert {p.name for p in (share / "launch").iterdir()} == {"tracker.launch.py", "follow_target.launch.py"}
    site = next((workspace / "install" / "attsiammask_ros" / "lib").glob("python3*/site-packages"))
    for data in ("attsiammask_core/weights/lite.pt", "attsiammask_core/weights/lfc.pt",
                 "attsiammask_core/weights/LICENSE.LightFC-MIT.txt", "attsiammask_core/data/split.json",
                 "attsiammask_ros/web/picker.html"):
        assert (site / data).is_file(), data  # package data the commands and nodes read at run time
    executables = {p.name for p in (workspace / "install" / "attsiammask_ros" / "lib" / "attsiammask_ros").iterdir()}
    assert {"tracker_node", "tracker_lifecycle_node", "follow_target", "target_picker"} <= executables


def test_installed_python_comes_from_the_workspace(built, underlay):
    workspace, _ = built
    probe = ("python -c 'import attsiammask_interfaces.srv, attsiammask_core.weights as w; "
             "print(attsiammask_interfaces.__file__); print(w.embedded_weights_path(\"lite\"))'")
    done = run(in_sourced_workspace([underlay, workspace], probe), workspace, tool_env())
    assert done.returncode == 0, done.stdout
    interfaces, weights = done.stdout.split()[-2:]
    assert interfaces.startswith(str(workspace / "install" / "attsiammask_interfaces")), done.stdout
    assert weights.startswith(str(workspace / "install" / "attsiammask_ros")), done.stdout


def test_the_installed_node_answers_set_target(built, underlay, ros_context):
    """The executable ros2 launch would start (lib/attsiammask_ros/tracker_node), in the sourced workspace."""
    from node_harness import first_answer_of

    workspace, _ = built
    namespace = "/ws_colcon"
    executable = workspace / "install" / "attsiammask_ros" / "lib" / "attsiammask_ros" / "tracker_node"
    process = subprocess.Popen(in_sourced_workspace([underlay, workspace],
                                                    f"exec {executable} --ros-args -r __ns:={namespace}"),
                               cwd=workspace, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    with first_answer_of(ros_context, process, namespace, startup_timeout=90.0) as answer:
        assert not answer.success and "no image" in answer.message.lower(), answer
        process.send_signal(2)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "ready: model lite" in output and "Traceback" not in output, output


def test_launch_file_under_real_ros2_launch(built, underlay):
    """Only where launch_ros and ros2cli can be had (a ROS distribution); no wheels exist for them."""
    probe = run(in_sourced_workspace([underlay, built[0]], "python -c 'import launch_ros' && command -v ros2"),
                built[0], tool_env())
    if probe.returncode != 0:
        pytest.skip("launch_ros / ros2 not installed (no PyPI wheels for them)")
    command = "timeout -s INT 20 ros2 launch attsiammask_ros tracker.launch.py namespace:=/ws_launch"
    done = run(in_sourced_workspace([underlay, built[0]], command), built[0], tool_env(), timeout=60)
    assert "ready: model lite" in done.stdout and "process has died" not in done.stdout, done.stdout


def test_make_setup_folders_are_invisible_to_colcon():
    """build/ and install/ hold copies of package.xml; colcon finds none of them (COLCON_IGNORE)."""
    folders = [name for name in ("build", "install") if (REPO / name).is_dir()]
    if not folders:
        pytest.skip("make setup has not run in this checkout")
    assert list((REPO / "install").rglob("package.xml")), "expected copies of package.xml under install/"
    done = run(["colcon", "list", "--names-only", "--base-paths", *folders], REPO, tool_env())
    assert done.returncode == 0 and done.stdout.split() == [], done.stdout
