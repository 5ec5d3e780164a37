"""One saliency_node for one camera.

    ros2 launch skd_ros saliency.launch.py image_topic:=/camera/image_raw
    ros2 launch skd_ros saliency.launch.py namespace:=cam0 image_topic:=/cam0/image_raw device:=cuda
    ros2 launch skd_ros saliency.launch.py params_file:=/path/to/my_saliency.yaml use_sim_time:=true

Outputs go to /<namespace>/saliency_node/{saliency,rois,attention,overlay}; several cameras: one launch per
camera with its own namespace, or saliency_multi_camera.launch.py. The pip-path equivalent (no launch_ros):

    skd-saliency-node --ros-args -r __ns:=/cam0 -r image:=/cam0/image_raw --params-file config/saliency.yaml
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

TRUE_STRINGS = ("true", "1", "yes", "on")


def _saliency_node(context, *args, **kwargs):
    def value(name):
        return LaunchConfiguration(name).perform(context)

    # the launch arguments override the params file; device only when given, so that the file's value stands
    overrides = {"use_sim_time": value("use_sim_time").strip().lower() in TRUE_STRINGS}
    if value("device"):
        overrides["device"] = value("device")
    return [
        Node(
            package="skd_ros",
            executable="saliency_node",
            name="saliency_node",
            namespace=value("namespace"),
            parameters=[value("params_file"), overrides],
            remappings=[("image", value("image_topic"))],
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description():
    default_params = PathJoinSubstitution([FindPackageShare("skd_ros"), "config", "saliency.yaml"])
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "namespace", default_value="", description="Namespace of the node (one per camera, e.g. cam0)"
            ),
            DeclareLaunchArgument(
                "params_file", default_value=default_params, description="Parameter file (see config/saliency.yaml)"
            ),
            DeclareLaunchArgument(
                "image_topic",
                default_value="image",
                description="Input image topic; relative names resolve inside the namespace. With "
                "input_compressed the node reads <image_topic>/compressed",
            ),
            DeclareLaunchArgument(
                "use_sim_time", default_value="false", description="Use /clock (e.g. with ros2 bag play --clock)"
            ),
            DeclareLaunchArgument(
                "device",
                default_value="",
                description="auto, cpu, cuda or cuda:N; empty keeps the params file's value",
            ),
            OpaqueFunction(function=_saliency_node),
        ]
    )
