"""One saliency_node for one camera.

    ros2 launch skd_ros saliency.launch.py image_topic:=/camera/image_raw
    ros2 launch skd_ros saliency.launch.py namespace:=cam0 image_topic:=/cam0/image_raw device:=cuda
    ros2 launch skd_ros saliency.launch.py params_file:=/path/to/my_saliency.yaml use_sim_time:=true
    ros2 launch skd_ros saliency.launch.py image_topic:=/camera/image_raw rviz:=true rviz_fixed_frame:=camera_link

Outputs go to /<namespace>/saliency_node/{saliency,rois,attention,bearings,overlay,markers}; several cameras: one
launch per camera with its own namespace, or saliency_multi_camera.launch.py. The pip-path equivalent (no
launch_ros):

    skd-saliency-node --ros-args -r __ns:=/cam0 -r image:=/cam0/image_raw --params-file config/saliency.yaml

With cameras:=front,down the one node serves both cameras, batched into one forward pass: camera <name> reads
<name>/<image_topic> inside the namespace and publishes under /<namespace>/saliency_node/<name>/.

rviz:=true also starts rviz2 with config/skd_ros.rviz (the overlay, the attention rays ~/markers, TF), its topics
those of this node (with cameras, the first camera's) and its Fixed Frame rviz_fixed_frame.

Transport: by default every process this file starts (the node, rviz2) gets the Fast DDS profile
config/fastdds_shm.xml (shared memory with segments big enough for full HD frames), unless
FASTDDS_DEFAULT_PROFILES_FILE already names one. It only pays off when the camera driver uses the same profile:
export FASTDDS_DEFAULT_PROFILES_FILE=<that file> where the driver runs (without it, the node counts the frames
lost on the way and says so). They also get the glibc malloc settings of config/malloc_image_buffers.env
(keep_image_buffers:=true, the default), which stop every received frame from page-faulting a fresh buffer;
together they are the fastest configuration in docs/BENCHMARKS.md.
"""

import os
import tempfile

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from skd_ros.node.env_file import read_env_file
from skd_ros.node.rviz_config import RVIZ_CONFIG, outputs_prefix, rviz_config_for

TRUE_STRINGS = ("true", "1", "yes", "on")
FASTDDS_PROFILES = {"shm": "fastdds_shm.xml"}
PROFILE_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"
MALLOC_SETTINGS = "malloc_image_buffers.env"


def _fastdds_environment(context, choice: str) -> dict:
    """The node's Fast DDS profile: auto (the shm profile unless the environment already names one), shm,
    none (Fast DDS defaults), or the path of an XML profile."""
    choice = choice.strip()
    if choice == "none" or (choice == "auto" and os.environ.get(PROFILE_VARIABLE)):
        return {}
    path = choice
    if choice in ("auto", *FASTDDS_PROFILES):
        share = FindPackageShare("skd_ros").perform(context)
        path = os.path.join(share, "config", FASTDDS_PROFILES.get(choice, FASTDDS_PROFILES["shm"]))
    if not os.path.isfile(path):
        if choice == "auto":  # an install without the profile: Fast DDS defaults, as before
            return {}
        raise FileNotFoundError(f"fastdds_profile: {path} does not exist")
    return {PROFILE_VARIABLE: path}


def _malloc_environment(context, keep_image_buffers: str) -> dict:
    """The variables of config/malloc_image_buffers.env (KEY=VALUE lines), except those the environment
    already sets; none when keep_image_buffers is false or the file is not installed."""
    if keep_image_buffers.strip().lower() not in TRUE_STRINGS:
        return {}
    path = os.path.join(FindPackageShare("skd_ros").perform(context), "config", MALLOC_SETTINGS)
    if not os.path.isfile(path):
        return {}
    return {key: value for key, value in read_env_file(path).items() if key not in os.environ}


def _rviz_config(context, namespace: str, camera: str, fixed_frame: str) -> str:
    """A copy of config/skd_ros.rviz showing this node's outputs (of ``camera``, with cameras) in ``fixed_frame``;
    its path."""
    with open(os.path.join(FindPackageShare("skd_ros").perform(context), "config", RVIZ_CONFIG)) as template:
        text = rviz_config_for(template.read(), outputs_prefix(namespace, camera), fixed_frame)
    with tempfile.NamedTemporaryFile("w", prefix="skd_ros_", suffix=".rviz", delete=False) as config:
        config.write(text)
    return config.name


def _saliency_node(context, *args, **kwargs):
    def value(name):
        return LaunchConfiguration(name).perform(context)

    # the launch arguments override the params file; device only when given, so that the file's value stands
    overrides = {"use_sim_time": value("use_sim_time").strip().lower() in TRUE_STRINGS}
    if value("device"):
        overrides["device"] = value("device")
    cameras = [name.strip() for name in value("cameras").split(",") if name.strip()]
    image_topic = value("image_topic")
    remappings = [("image", image_topic)]
    if cameras:  # the node checks the names
        if image_topic.startswith("/"):
            raise ValueError(
                f"with cameras, image_topic must be relative (camera <name> reads <name>/<image_topic>), "
                f"got {image_topic!r}"
            )
        overrides["cameras"] = ",".join(cameras)
        remappings = [(f"{camera}/image", f"{camera}/{image_topic}") for camera in cameras]
    # the same transport for every process started here: rviz2 receives the full-size overlay
    transport = {
        **_fastdds_environment(context, value("fastdds_profile")),
        **_malloc_environment(context, value("keep_image_buffers")),
    }
    processes = [
        Node(
            package="skd_ros",
            executable="saliency_node",
            name="saliency_node",
            namespace=value("namespace"),
            parameters=[value("params_file"), overrides],
            remappings=remappings,
            additional_env=transport,
            output="screen",
            emulate_tty=True,
        )
    ]
    if value("rviz").strip().lower() in TRUE_STRINGS:
        config = _rviz_config(context, value("namespace"), cameras[0] if cameras else "", value("rviz_fixed_frame"))
        processes.append(
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                namespace=value("namespace"),
                arguments=["-d", config],
                additional_env=transport,
                output="screen",
            )
        )
    return processes


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
                "cameras",
                default_value="",
                description="Several cameras in this one node, batched into one forward pass (front,down): camera "
                "<name> reads <name>/<image_topic>; empty: one camera on image_topic",
            ),
            DeclareLaunchArgument(
                "use_sim_time", default_value="false", description="Use /clock (e.g. with ros2 bag play --clock)"
            ),
            DeclareLaunchArgument(
                "device",
                default_value="",
                description="auto, cpu, cuda or cuda:N; empty keeps the params file's value",
            ),
            DeclareLaunchArgument(
                "fastdds_profile",
                default_value="auto",
                description="Fast DDS profile for the node (and rviz2): auto (config/fastdds_shm.xml unless "
                "FASTDDS_DEFAULT_PROFILES_FILE is set), shm, none (Fast DDS defaults) or an XML file path",
            ),
            DeclareLaunchArgument(
                "keep_image_buffers",
                default_value="true",
                description="Give the node (and rviz2) the glibc malloc settings of config/malloc_image_buffers.env "
                "(freed image buffers stay in the heap: full HD frames arrive sooner)",
            ),
            DeclareLaunchArgument(
                "rviz",
                default_value="false",
                description="Also start rviz2 with config/skd_ros.rviz: the overlay, the attention rays (~/markers) "
                "and TF",
            ),
            DeclareLaunchArgument(
                "rviz_fixed_frame",
                default_value="base_link",
                description="RViz's Fixed Frame (with rviz:=true): a frame TF connects to the camera's, or the "
                "camera's own frame_id when there is no TF",
            ),
            OpaqueFunction(function=_saliency_node),
        ]
    )
