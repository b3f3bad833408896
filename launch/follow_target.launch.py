"""The tracker with camera_info and depth, and the follow_target controller on its outputs.

    ros2 launch attsiammask_ros follow_target.launch.py image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info depth:=/camera/aligned_depth_to_color/image_raw cmd_vel:=/cmd_vel

The depth image must be registered to the colour image. Then call set_target (e.g. `set_target x,y,w,h`);
the robot turns toward the target and keeps `target_distance` metres, and stops when the target is lost.
"""
import os  # noqa: I001 (ruff takes `launch` for this repository's launch/ folder)

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = "attsiammask_ros"


def generate_launch_description():
    arg = LaunchConfiguration
    default_params = os.path.join(get_package_share_directory(PACKAGE), "config", "tracker.yaml")
    tracker = Node(
        package=PACKAGE, executable="tracker_node", name="attsiammask_tracker", namespace=arg("namespace"),
        parameters=[arg("params_file"), {"input.camera_info": True, "input.depth": True}],
        remappings=[("image", arg("image")), ("camera_info", arg("camera_info")), ("depth", arg("depth"))],
        output="screen", emulate_tty=True,
    )
    follow = Node(
        package=PACKAGE, executable="follow_target", name="follow_target", namespace=arg("namespace"),
        parameters=[{"target_distance": arg("target_distance"), "max_linear": arg("max_linear"),
                     "max_angular": arg("max_angular")}],
        remappings=[("cmd_vel", arg("cmd_vel"))],
        output="screen", emulate_tty=True,
    )
    return LaunchDescription([
        DeclareLaunchArgument("image", default_value="image", description="colour image topic"),
        DeclareLaunchArgument("camera_info", default_value="camera_info", description="its camera_info topic"),
        DeclareLaunchArgument("depth", default_value="depth", description="depth registered to the colour image"),
        DeclareLaunchArgument("cmd_vel", default_value="cmd_vel", description="velocity command topic"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of both nodes"),
        DeclareLaunchArgument("params_file", default_value=default_params, description="tracker parameters"),
        DeclareLaunchArgument("target_distance", default_value="1.5", description="metres to keep"),
        DeclareLaunchArgument("max_linear", default_value="0.5", description="m/s"),
        DeclareLaunchArgument("max_angular", default_value="1.0", description="rad/s"),
        tracker, follow,
    ])
