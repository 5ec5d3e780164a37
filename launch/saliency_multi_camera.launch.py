"""One saliency_node per camera, each in the camera's namespace.

    ros2 launch skd_ros saliency_multi_camera.launch.py cameras:=front,down
    ros2 launch skd_ros saliency_multi_camera.launch.py cameras:=cam0,cam1 image_topic:=camera/image_raw device:=cuda

Camera ``front`` is read from /front/<image_topic> (its CameraInfo from camera_info beside it) and gets
/front/saliency_node/{saliency,rois,attention,bearings,overlay,markers}; frames of different cameras are never
mixed. All nodes share one params file. No rviz2 here (it would be one per camera): saliency.launch.py rviz:=true.

    ros2 launch skd_ros saliency_multi_camera.launch.py cameras:=front,down one_node:=true

runs one node for all cameras instead, their frames batched into one forward pass: it reads the same topics
and publishes /saliency_node/front/{saliency,...} and /saliency_node/down/{...}.
"""

from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

FORWARDED = ("params_file", "use_sim_time", "device", "fastdds_profile", "keep_image_buffers")


def _one_node_per_camera(context, *args, **kwargs):
    cameras = [name.strip().strip("/") for name in LaunchConfiguration("cameras").perform(context).split(",")]
    cameras = [name for name in cameras if name]
    if not cameras:
        raise ValueError("cameras must name at least one camera namespace, e.g. cameras:=front,down")
    single = PathJoinSubstitution([FindPackageShare("skd_ros"), "launch", "saliency.launch.py"])
    image_topic = LaunchConfiguration("image_topic").perform(context)
    forwarded = {name: LaunchConfiguration(name) for name in FORWARDED}
    if LaunchConfiguration("one_node").perform(context).strip().lower() in ("true", "1", "yes", "on"):
        arguments = {"namespace": "", "cameras": ",".join(cameras), "image_topic": image_topic, **forwarded}
        return [IncludeLaunchDescription(PythonLaunchDescriptionSource(single), launch_arguments=arguments.items())]
    return [
        GroupAction(
            [
                IncludeLaunchDescription(
                    PythonLaunchDescriptionSource(single),
                    launch_arguments={
                        "namespace": camera,
                        "image_topic": image_topic,
                        "cameras": "",  # this launch's own `cameras` would otherwise reach the included file
                        "rviz": "false",  # not one rviz2 per camera: saliency.launch.py rviz:=true shows one
                        **forwarded,
                    }.items(),
                )
            ]
        )
        for camera in cameras
    ]


def generate_launch_description():
    default_params = PathJoinSubstitution([FindPackageShare("skd_ros"), "config", "saliency.yaml"])
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "cameras", default_value="cam0,cam1", description="Comma-separated camera namespaces"
            ),
            DeclareLaunchArgument(
                "image_topic",
                default_value="image_raw",
                description="Each camera's image topic, relative to its namespace",
            ),
            DeclareLaunchArgument(
                "one_node",
                default_value="false",
                description="true: one node serves all cameras, batched into one forward pass; false: a node each",
            ),
            DeclareLaunchArgument("params_file", default_value=default_params, description="Shared parameter file"),
            DeclareLaunchArgument("use_sim_time", default_value="false", description="Use /clock"),
            DeclareLaunchArgument("device", default_value="", description="auto, cpu, cuda, cuda:N; empty: file's"),
            DeclareLaunchArgument(
                "fastdds_profile",
                default_value="auto",
                description="Fast DDS profile: auto, shm, none or an XML path (see saliency.launch.py)",
            ),
            DeclareLaunchArgument(
                "keep_image_buffers",
                default_value="true",
                description="glibc malloc settings of config/malloc_image_buffers.env (see saliency.launch.py)",
            ),
            OpaqueFunction(function=_one_node_per_camera),
        ]
    )
