"""Launch the Att-SiamMask tracker node.

    ros2 launch attsiammask_ros tracker.launch.py image:=/camera/image_raw
    ros2 launch attsiammask_ros tracker.launch.py image:=/cam/image namespace:=tracker variant:=r50 \
        weights:=/path/SiamMask_VOT.pth device:=cuda
    ros2 launch attsiammask_ros tracker.launch.py backend:=onnxruntime providers:=tensorrt,cuda,cpu
    ros2 launch attsiammask_ros tracker.launch.py lifecycle:=true   # managed node, for a lifecycle manager
    ros2 launch attsiammask_ros tracker.launch.py dds_profile:=false  # the Fast DDS set-up of the environment

Defaults come from params_file (the installed config/tracker.yaml); the weights, device, variant, attention,
backend and providers arguments override it only when given. `image` remaps the node's `image` (and
`image/compressed`) input. `dds_profile` (default true) gives the node process the installed
config/fastdds_large_images.xml as FASTDDS_DEFAULT_PROFILES_FILE (large images over shared memory, UDP kept for
other hosts), unless that variable is already set; the camera driver's process needs the same variable
(docs/troubleshooting.md).
"""
import os  # noqa: I001 (ruff takes `launch` for this repository's launch/ folder)

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

PACKAGE = "attsiammask_ros"
EXECUTABLE = "tracker_node"
LIFECYCLE_EXECUTABLE = "tracker_lifecycle_node"
NODE_NAME = "attsiammask_tracker"


def parameter_overrides(weights: str, device: str, variant: str, attention: str, backend: str = "",
                        providers: str = "") -> dict:
    """Parameters the launch arguments set: only those given (non-empty); attention must be true or false."""
    overrides = {}
    if backend:
        overrides["model.backend"] = backend
    if providers:
        overrides["model.providers"] = providers
    if weights:
        overrides["model.weights"] = weights
    if device:
        overrides["model.device"] = device
    if variant:
        overrides["model.variant"] = variant
    if attention:
        flag = attention.strip().lower()
        if flag not in ("true", "false"):
            raise ValueError(f"attention must be true or false, got {attention!r}")
        overrides["attention.enabled"] = flag == "true"
    return overrides


def lifecycle_flag(value: str) -> bool:
    """The lifecycle argument: true or false."""
    flag = value.strip().lower()
    if flag not in ("true", "false"):
        raise ValueError(f"lifecycle must be true or false, got {value!r}")
    return flag == "true"


PROFILE_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"


def dds_environment(value: str, shipped_profile: str, environment: dict) -> dict:
    """Environment the dds_profile argument adds to the node process: true -> the shipped profile, false -> none,
    a path -> that file; nothing when the environment already names a profile (FASTDDS_/FASTRTPS_...)."""
    choice = value.strip()
    if choice.lower() == "false" or not choice:
        return {}
    if environment.get(PROFILE_VARIABLE) or environment.get("FASTRTPS_DEFAULT_PROFILES_FILE"):
        return {}
    path = shipped_profile if choice.lower() == "true" else choice
    if not os.path.isfile(path):
        raise ValueError(f"dds_profile: no such Fast DDS profile file: {path!r} (true, false or a path)")
    return {PROFILE_VARIABLE: path}


def _tracker_node(context, shipped_profile):
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    image = arg("image")
    parameters = [arg("params_file")]
    overrides = parameter_overrides(arg("weights"), arg("device"), arg("variant"), arg("attention"), arg("backend"),
                                    arg("providers"))
    if overrides:
        parameters.append(overrides)
    managed = lifecycle_flag(arg("lifecycle"))
    # The managed node starts unconfigured: a lifecycle manager (or `ros2 lifecycle set`) configures and
    # activates it.
    kind = LifecycleNode if managed else Node
    environment = dds_environment(arg("dds_profile"), shipped_profile, dict(os.environ))
    return [kind(
        package=PACKAGE,
        executable=LIFECYCLE_EXECUTABLE if managed else EXECUTABLE,
        name=NODE_NAME,
        namespace=arg("namespace"),
        parameters=parameters,
        remappings=[("image", image), ("image/compressed", image + "/compressed")],
        arguments=["--ros-args", "--log-level", arg("log_level")],
        additional_env=environment,
        output="screen",
        emulate_tty=True,
    )]


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    default_params = os.path.join(share, "config", "tracker.yaml")
    shipped_profile = os.path.join(share, "config", "fastdds_large_images.xml")
    return LaunchDescription([
        DeclareLaunchArgument("image", default_value="image",
                              description="image topic to track on (image/compressed is its compressed twin)"),
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="YAML with the node's parameters (default: the installed tracker.yaml)"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the node, its topics and services"),
        DeclareLaunchArgument("weights", default_value="",
                              description="model.weights override (empty: keep params_file's value)"),
        DeclareLaunchArgument("device", default_value="",
                              description="model.device override: auto, cpu, cuda or cuda:N (empty: keep)"),
        DeclareLaunchArgument("variant", default_value="",
                              description="model.variant override: lite or r50 (empty: keep)"),
        DeclareLaunchArgument("attention", default_value="",
                              description="attention.enabled override: true or false (empty: keep)"),
        DeclareLaunchArgument("backend", default_value="",
                              description="model.backend override: auto, torch or onnxruntime (empty: keep)"),
        DeclareLaunchArgument("providers", default_value="",
                              description="model.providers override, e.g. tensorrt,cuda,cpu (empty: keep)"),
        DeclareLaunchArgument("lifecycle", default_value="false",
                              description="true: the managed (lifecycle) node, started unconfigured"),
        DeclareLaunchArgument("dds_profile", default_value="true",
                              description="true: the node uses config/fastdds_large_images.xml (large images over "
                                          "shared memory, UDP kept) unless FASTDDS_DEFAULT_PROFILES_FILE is set; "
                                          "false: the environment's; or a profile path"),
        DeclareLaunchArgument("log_level", default_value="info",
                              description="log level: debug, info, warn, error or fatal"),
        OpaqueFunction(function=_tracker_node, kwargs={"shipped_profile": shipped_profile}),
    ])
