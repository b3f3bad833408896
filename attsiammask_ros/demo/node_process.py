"""The tracker node as a child process (the installed ``tracker_node`` executable), with localhost-only DDS.

The demo and the node benchmark run the node exactly as users do (``ros2 run attsiammask_ros tracker_node
--ros-args -p ...``): its own interpreter, so inference never competes for the GIL with the player and the
recorder, and every image crosses DDS as it would from a camera driver. Its output goes to a log file.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["DEFAULT_DOMAIN_ID", "localhost_environment", "use_shared_memory_profile", "tracker_node_command",
           "NodeProcess", "SHM_PROFILE_XML", "SHM_SEGMENT_SIZE", "shared_memory_profile_xml"]

# A domain of its own (tests use 73): the demo does not talk to other ROS graphs on this host.
DEFAULT_DOMAIN_ID = 74

# Fast DDS with its default transports loses most best-effort 640x480 bgr8 images (900 KB) on this host: they
# exceed the default 512 KB shared-memory segment and fall back to fragmented UDP (measured: 10-14 of 40 frames
# arrive). This participant profile gives the demo's processes shared memory only, with 16 MB segments: nothing
# is lost, and no packet can leave the host. Bigger images (the 1920x1080 stress run) ask for bigger segments.
SHM_SEGMENT_SIZE = 16 * 1024 * 1024
_SHM_PROFILE_TEMPLATE = """<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>attsiammask_shm</transport_id>
        <type>SHM</type>
        <segment_size>{segment_size}</segment_size>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="attsiammask_demo" is_default_profile="true">
      <rtps>
        <userTransports>
          <transport_id>attsiammask_shm</transport_id>
        </userTransports>
        <useBuiltinTransports>false</useBuiltinTransports>
      </rtps>
    </participant>
  </profiles>
</dds>
"""


def shared_memory_profile_xml(segment_size: int = SHM_SEGMENT_SIZE) -> str:
    """The Fast DDS profile: shared-memory transport only, segments of ``segment_size`` bytes."""
    if int(segment_size) <= 0:
        raise ValueError(f"segment size must be positive, got {segment_size}")
    return _SHM_PROFILE_TEMPLATE.format(segment_size=int(segment_size))


SHM_PROFILE_XML = shared_memory_profile_xml()


def localhost_environment(domain_id: int | None) -> dict[str, str]:
    """Set ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and ROS_DOMAIN_ID in this process (before rclpy starts) and
    return the environment for children. ``domain_id`` None keeps a ROS_DOMAIN_ID already set, else the default.
    """
    if domain_id is None:
        domain_id = int(os.environ.get("ROS_DOMAIN_ID") or DEFAULT_DOMAIN_ID)
    if not 0 <= int(domain_id) <= 101:
        raise ValueError(f"ROS_DOMAIN_ID must be in [0, 101] (Fast DDS ports on Linux), got {domain_id}")
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ["ROS_DOMAIN_ID"] = str(int(domain_id))
    return dict(os.environ)


def use_shared_memory_profile(folder: str | Path, segment_size: int = SHM_SEGMENT_SIZE) -> Path | None:
    """Write the profile (SHM_PROFILE_XML; segments of ``segment_size`` bytes) into ``folder`` and make it this
    process's (and children's) Fast DDS default profile.

    Nothing changes (None) when another RMW than Fast DDS is selected or a profile file is already set.
    """
    if os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp") != "rmw_fastrtps_cpp":
        return None
    if os.environ.get("FASTDDS_DEFAULT_PROFILES_FILE") or os.environ.get("FASTRTPS_DEFAULT_PROFILES_FILE"):
        return None
    path = Path(folder) / "fastdds_shm.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(shared_memory_profile_xml(segment_size))
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(path.resolve())
    return path


def _installed_executable() -> str | None:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:
        return None
    try:
        path = Path(get_package_prefix("attsiammask_ros")) / "lib" / "attsiammask_ros" / "tracker_node"
    except PackageNotFoundError:
        return None
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def tracker_node_command(parameters: Mapping[str, str], extra: Sequence[str] = ()) -> list[str]:
    """The installed ``tracker_node`` (ament index, as ros2 run finds it; else ``python -m``) with ``-p`` args.

    ``extra`` holds further ``name:=value`` parameters, passed as they are.
    """
    executable = _installed_executable()
    command = [executable] if executable else [sys.executable, "-m", "attsiammask_ros.tracker_node"]
    command.append("--ros-args")
    for name, value in parameters.items():
        command += ["-p", f"{name}:={value}"]
    for item in extra:
        if ":=" not in item:
            raise ValueError(f"node parameter must be name:=value, got {item!r}")
        command += ["-p", item]
    return command


class NodeProcess:
    """A child process with its output in ``log_path``; :meth:`stop` ends it with SIGINT (then SIGTERM, SIGKILL).

    It runs in a session of its own, so a Ctrl-C in the terminal reaches only the orchestrator, which stops it.
    """

    def __init__(self, command: Sequence[str], log_path: str | Path, env: Mapping[str, str] | None = None) -> None:
        self.command = list(command)
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.process: subprocess.Popen | None = None
        self.stopped_by_us = False

    def start(self) -> NodeProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGINT, wait ``timeout``; SIGTERM, wait 5 s; SIGKILL. The exit code (None if it never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.stopped_by_us = True
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                try:
                    self.process.send_signal(sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        return self.process.wait()

    def tail(self, lines: int = 15) -> str:
        """The last lines of the log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, condition, timeout: float, poll: float = 0.05) -> bool:
        """Wait until ``condition()`` or ``timeout``; False early when the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if not self.alive():
                return False
            time.sleep(poll)
        return bool(condition())

    def __enter__(self) -> NodeProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
