"""Our interface definitions hash exactly like upstream, so our messages interoperate with real ROS nodes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ament_index = pytest.importorskip("ament_index_python.packages",
                                  reason="ament_index_python not installed: run `make setup`")

# vision_msgs 4.1.1 (Humble, Jazzy, Kilted); the table of ../shared/docs/environment.md.
VISION_MSGS_HASHES = {
    "Point2D": "RIHS01_eab0e83f44ab4de92ceaf76dd7d0e7638f2bdd1d16ffbe16c7a136c48e407247",
    "Pose2D": "RIHS01_b0b5d1d7b4c20dd4fcde3ed1d4b289a919290572007d67a97043814db25d3648",
    "BoundingBox2D": "RIHS01_008eacbb0cf8f26e83795547bed013eec3675485ef386ec056d80eaaf1c1ce2f",
    "ObjectHypothesis": "RIHS01_51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90",
    "ObjectHypothesisWithPose": "RIHS01_41c12344c0396c48b81df12467c192d99b2a0eb1463c5c37194e4223251c80bc",
    "Detection2D": "RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea",
    "Detection2DArray": "RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968",
}
# Our service: pinned so that any change to SetTarget.srv (which breaks wire compatibility with
# deployed clients) is a deliberate, reviewed change of this value too (issue 24: the optional target_id).
SET_TARGET_HASH = "RIHS01_20009a3c0f1ce9118c4e9bd79300ea2c5c82b78744f603e38ae3e756cae6dd04"


def _type_hash(package: str, kind: str, name: str) -> str:
    """The hash rosidl wrote into the installed type description of package/kind/name."""
    share = Path(ament_index.get_package_share_directory(package))
    description = json.loads((share / kind / f"{name}.json").read_text())
    top = f"{package}/{kind}/{name}"
    hashes = {entry["type_name"]: entry["hash_string"] for entry in description["type_hashes"]}
    return hashes[top]


@pytest.mark.parametrize("name", sorted(VISION_MSGS_HASHES))
def test_vision_msgs_type_hash_matches_upstream(name):
    assert _type_hash("vision_msgs", "msg", name) == VISION_MSGS_HASHES[name]


def test_set_target_type_hash_is_pinned():
    assert _type_hash("attsiammask_interfaces", "srv", "SetTarget") == SET_TARGET_HASH


def test_set_target_fields_follow_the_contract():
    from attsiammask_interfaces.srv import SetTarget

    assert SetTarget.Request.get_fields_and_field_types() == {
        "bbox": "vision_msgs/BoundingBox2D", "stamp": "builtin_interfaces/Time", "target_id": "string"}
    assert SetTarget.Response.get_fields_and_field_types() == {
        "success": "boolean", "message": "string", "track_id": "string"}


def test_clear_target_fields_follow_the_contract():
    from attsiammask_interfaces.srv import ClearTarget

    assert ClearTarget.Request.get_fields_and_field_types() == {"target_id": "string"}
    assert ClearTarget.Response.get_fields_and_field_types() == {"success": "boolean", "message": "string"}
