"""Measure delivery of camera-like images between two processes over Fast DDS, setting by setting.

    python tools/transport/measure.py [--seconds 10] [--only NAME ...] [--json out.json]

Each setting runs a receiver process (this file with --receive: best-effort subscriptions of image and depth,
history --history) and a publisher process (python -m attsiammask_ros.stress_camera: 640x480 bgr8 + registered
32FC1 depth + camera_info at 30 Hz, best effort) with the environment the setting gives each side, on localhost
discovery (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) and $ROS_DOMAIN_ID. One line per setting: images and depth
images published and received, the share received.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "config" / "fastdds_large_images.xml"
MB = 1024 * 1024

_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>shm</transport_id>
        <type>SHM</type>
        <segment_size>{segment}</segment_size>
      </transport_descriptor>{udp_descriptor}
    </transport_descriptors>
    <participant profile_name="measure" is_default_profile="true">
      <rtps>
        <userTransports>
          <transport_id>shm</transport_id>{udp_use}
        </userTransports>
        <useBuiltinTransports>false</useBuiltinTransports>
      </rtps>
    </participant>{writer}
  </profiles>
</dds>
"""
_UDP_DESCRIPTOR = """
      <transport_descriptor>
        <transport_id>udp</transport_id>
        <type>UDPv4</type>
      </transport_descriptor>"""
_UDP_USE = """
          <transport_id>udp</transport_id>"""
_DATA_SHARING = """
    <data_writer profile_name="writer" is_default_profile="true">
      <qos><data_sharing><kind>{kind}</kind></data_sharing></qos>
    </data_writer>
    <data_reader profile_name="reader" is_default_profile="true">
      <qos><data_sharing><kind>{kind}</kind></data_sharing></qos>
    </data_reader>"""


def profile_xml(segment_bytes: int, udp: bool, data_sharing: str = "") -> str:
    """A participant profile: SHM with ``segment_bytes`` segments (+ UDPv4), optionally a data-sharing kind."""
    return _PROFILE.format(segment=segment_bytes, udp_descriptor=_UDP_DESCRIPTOR if udp else "",
                           udp_use=_UDP_USE if udp else "",
                           writer=_DATA_SHARING.format(kind=data_sharing) if data_sharing else "")


@dataclass
class Setting:
    """One configuration: extra environment for the publisher and for the receiver, the receiver's history."""

    name: str
    publisher_env: dict = field(default_factory=dict)
    receiver_env: dict = field(default_factory=dict)
    history: int = 5
    publisher_history: int = 5


@dataclass
class Outcome:
    name: str
    published: int
    images: int
    depths: int
    both: int

    @property
    def share(self) -> float:
        return 100.0 * self.both / self.published if self.published else 0.0


def settings(folder: Path) -> list[Setting]:
    """Every setting measured; profiles are written into ``folder``."""
    def write(name: str, text: str) -> str:
        path = folder / f"{name}.xml"
        path.write_text(text)
        return str(path)

    def profile(name: str, text: str) -> dict:
        return {"FASTDDS_DEFAULT_PROFILES_FILE": write(name, text)}

    both = lambda env: {"publisher_env": env, "receiver_env": env}  # noqa: E731
    shipped = {"FASTDDS_DEFAULT_PROFILES_FILE": str(PROFILE)}
    out = [Setting("defaults")]
    for builtin in ("LARGE_DATA", "SHM", "UDPv4"):
        out.append(Setting(f"builtin {builtin}", **both({"FASTDDS_BUILTIN_TRANSPORTS": builtin})))
    for mb in (4, 16, 32):
        out.append(Setting(f"SHM {mb} MB + UDPv4", **both(profile(f"shm{mb}_udp", profile_xml(mb * MB, True)))))
    out.append(Setting("SHM 16 MB only", **both(profile("shm16", profile_xml(16 * MB, False)))))
    for kind in ("OFF", "AUTOMATIC"):
        out.append(Setting(f"SHM 16 MB + UDPv4, data sharing {kind}",
                           **both(profile(f"shm16_udp_ds_{kind}", profile_xml(16 * MB, True, kind)))))
    if PROFILE.is_file():
        out.append(Setting("shipped profile both sides", **both(shipped)))
        out.append(Setting("shipped profile receiver only", receiver_env=shipped))
        out.append(Setting("shipped profile publisher only", publisher_env=shipped))
        for depth in (1, 10):
            out.append(Setting(f"shipped profile, receiver history {depth}", **both(shipped), history=depth))
        out.append(Setting("shipped profile, publisher history 1", **both(shipped), publisher_history=1))
    return out


# ---- the receiver ------------------------------------------------------------------------------------------------
def receive(ready: Path, report: Path, history: int) -> int:
    """Subscribe image and depth (best effort, keep last ``history``) until SIGINT/SIGTERM; stamps to ``report``."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("transport_receiver")
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=history, reliability=ReliabilityPolicy.BEST_EFFORT)
    got: dict[str, list[int]] = {"image": [], "depth": []}

    def keep(topic: str):
        return lambda msg: got[topic].append(msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)

    for topic in got:
        node.create_subscription(Image, topic, keep(topic), qos)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    ready.write_text("ready")
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        report.write_text(json.dumps(got))
        rclpy.try_shutdown()
    return 0


# ---- the orchestrator --------------------------------------------------------------------------------------------
def measure(setting: Setting, seconds: float, folder: Path) -> Outcome:
    """Run one setting: receiver first, then the publisher for ``seconds``; count what arrived."""
    base = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    for key in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS"):
        base.pop(key, None)
    ready, received, published = (folder / f"{n}.json" for n in ("ready", "received", "published"))
    for path in (ready, received, published):
        path.unlink(missing_ok=True)
    receiver = subprocess.Popen([sys.executable, __file__, "--receive", str(ready), str(received),
                                 "--history", str(setting.history)], env={**base, **setting.receiver_env})
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        subprocess.run([sys.executable, "-m", "attsiammask_ros.stress_camera", "--seconds", str(seconds),
                        "--history", str(setting.publisher_history), "--report", str(published)],
                       env={**base, **setting.publisher_env}, check=True, timeout=seconds + 60)
        time.sleep(1.0)
    finally:
        receiver.send_signal(signal.SIGINT)
        receiver.wait(30)
    stamps = json.loads(published.read_text())["stamps"]
    got = json.loads(received.read_text())
    images, depths = set(got["image"]) & set(stamps), set(got["depth"]) & set(stamps)
    return Outcome(setting.name, len(stamps), len(images), len(depths), len(images & depths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--receive", nargs=2, metavar=("READY", "REPORT"), help=argparse.SUPPRESS)
    parser.add_argument("--history", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of publishing per setting (10)")
    parser.add_argument("--only", nargs="*", default=None, help="names of settings to run (substring match)")
    parser.add_argument("--json", default="", help="write the outcomes here")
    args = parser.parse_args(argv)
    if args.receive:
        return receive(Path(args.receive[0]), Path(args.receive[1]), args.history)
    print(f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID', '0')}, localhost discovery, {args.seconds:g} s per "
          "setting, 640x480 bgr8 + 32FC1 depth at 30 Hz, best effort", flush=True)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="transport_") as tmp:
        for setting in settings(Path(tmp)):
            if args.only and not any(part in setting.name for part in args.only):
                continue
            outcome = measure(setting, args.seconds, Path(tmp))
            outcomes.append(outcome)
            print(f"{outcome.name:<42} published {outcome.published:4d}  images {outcome.images:4d}  depth "
                  f"{outcome.depths:4d}  both {outcome.both:4d} = {outcome.share:5.1f}%", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(o) | {"share": o.share} for o in outcomes], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
