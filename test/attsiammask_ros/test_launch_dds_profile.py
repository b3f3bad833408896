"""launch/tracker.launch.py's dds_profile argument and the shipped Fast DDS profile (launch_ros is not installable
here: the launch file's pure helper is compiled on its own, its wiring checked with ast)."""
from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "launch" / "tracker.launch.py"
PROFILE = REPO / "config" / "fastdds_large_images.xml"
NS = {"d": "http://www.eprosima.com"}


def _tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def _dds_environment():
    tree = _tree()
    body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "dds_environment"]
    body += [n for n in tree.body if isinstance(n, ast.Assign)
             and any(getattr(t, "id", "") == "PROFILE_VARIABLE" for t in n.targets)]
    namespace: dict = {"os": __import__("os")}
    exec(compile(ast.Module(body=body[::-1], type_ignores=[]), str(LAUNCH), "exec"), namespace)
    return namespace["dds_environment"]


def test_dds_profile_true_false_path_and_an_existing_variable(tmp_path):
    env_for = _dds_environment()
    assert env_for("true", str(PROFILE), {}) == {"FASTDDS_DEFAULT_PROFILES_FILE": str(PROFILE)}
    assert env_for(" True ", str(PROFILE), {}) == {"FASTDDS_DEFAULT_PROFILES_FILE": str(PROFILE)}
    assert env_for("false", str(PROFILE), {}) == {}
    own = tmp_path / "mine.xml"
    own.write_text("<dds/>")
    assert env_for(str(own), str(PROFILE), {}) == {"FASTDDS_DEFAULT_PROFILES_FILE": str(own)}
    # a profile the user already set wins (either variable name)
    assert env_for("true", str(PROFILE), {"FASTDDS_DEFAULT_PROFILES_FILE": str(own)}) == {}
    assert env_for("true", str(PROFILE), {"FASTRTPS_DEFAULT_PROFILES_FILE": str(own)}) == {}
    with pytest.raises(ValueError, match="no such Fast DDS profile"):
        env_for(str(tmp_path / "absent.xml"), str(PROFILE), {})


def test_launch_declares_dds_profile_default_true_and_passes_the_environment_to_the_node():
    tree = _tree()
    (declare,) = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", "") ==
                  "DeclareLaunchArgument" and c.args[0].value == "dds_profile"]
    default = next(kw.value.value for kw in declare.keywords if kw.arg == "default_value")
    assert default == "true"
    (node,) = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "kind"]
    env = next(kw.value for kw in node.keywords if kw.arg == "additional_env")
    assert ast.unparse(env) == "environment"
    text = ast.unparse(tree)
    assert "dds_environment(arg('dds_profile'), shipped_profile, dict(os.environ))" in text
    assert "'fastdds_large_images.xml'" in text
    assert "glob('config/*.xml')" in ast.unparse(ast.parse((REPO / "setup.py").read_text()))  # installed


def test_shipped_profile_keeps_udp_and_gives_shared_memory_large_segments():
    root = ET.parse(PROFILE).getroot()
    transports = {d.findtext("d:transport_id", namespaces=NS): d for d in root.iterfind(".//d:transport_descriptor",
                                                                                        NS)}
    kinds = {name: d.findtext("d:type", namespaces=NS) for name, d in transports.items()}
    assert sorted(kinds.values()) == ["SHM", "UDPv4"]
    shm = next(d for d in transports.values() if d.findtext("d:type", namespaces=NS) == "SHM")
    assert int(shm.findtext("d:segment_size", namespaces=NS)) >= 16 * 1024 * 1024  # > many 640x480 images
    (participant,) = root.iterfind(".//d:participant", NS)
    assert participant.get("is_default_profile") == "true"
    used = [e.text for e in participant.iterfind(".//d:userTransports/d:transport_id", NS)]
    assert sorted(used) == sorted(transports)
    assert participant.findtext(".//d:useBuiltinTransports", namespaces=NS) == "false"
