"""launch/*.launch.py with a real ROS 2 launch install (launch + launch_ros).

launch_ros is not installable from PyPI, so on the pip path these tests skip (the pip path runs the node with
the console script instead: test_node_process.py). On a ROS 2 install they load the launch files, and where
skd_ros is installed in the ament index (colcon build) they launch a node and talk to it over DDS."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "launch_ros",
    reason="launch_ros is not importable: it comes with a ROS 2 install (apt or colcon), not from PyPI",
)
from launch.actions import DeclareLaunchArgument, OpaqueFunction  # noqa: E402
from launch.launch_context import LaunchContext  # noqa: E402
from launch_ros.actions import Node  # noqa: E402

from skd_tools.bags import render_test_frames

LAUNCH_DIR = Path(__file__).resolve().parents[1] / "launch"
SINGLE = LAUNCH_DIR / "saliency.launch.py"
MULTI = LAUNCH_DIR / "saliency_multi_camera.launch.py"
PARAMS_FILE = LAUNCH_DIR.parent / "config" / "saliency.yaml"
SECOND = 1_000_000_000


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def arguments(description) -> dict:
    return {entity.name: entity for entity in description.entities if isinstance(entity, DeclareLaunchArgument)}


def test_launch_files_declare_their_arguments():
    common = {"params_file", "image_topic", "use_sim_time", "device", "fastdds_profile", "keep_image_buffers"}
    assert set(arguments(load(SINGLE))) == {"namespace", "cameras", "rviz", "rviz_fixed_frame", *common}
    assert set(arguments(load(MULTI))) == {"cameras", "one_node", *common}


def test_single_camera_launch_makes_one_saliency_node():
    description = load(SINGLE)
    context = LaunchContext()
    context.launch_configurations.update(
        namespace="cam0",
        params_file=str(PARAMS_FILE),
        image_topic="/cam0/image_raw",
        use_sim_time="true",
        device="",
        fastdds_profile="none",
        keep_image_buffers="false",
        cameras="",
        rviz="false",
        rviz_fixed_frame="base_link",
    )
    (opaque,) = [entity for entity in description.entities if isinstance(entity, OpaqueFunction)]
    (node,) = opaque.visit(context)  # no rviz2 unless asked for
    assert isinstance(node, Node)
    assert (node.node_package, node.node_executable) == ("skd_ros", "saliency_node")
    context.launch_configurations.update(cameras="front,down")  # one node for both: topics must be relative
    with pytest.raises(ValueError, match="image_topic must be relative"):
        opaque.visit(context)


def installed_executable() -> Path | None:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        executable = Path(get_package_prefix("skd_ros")) / "lib" / "skd_ros" / "saliency_node"
    except PackageNotFoundError:
        return None
    return executable if executable.is_file() else None


RUNNER = """
import sys
from launch import LaunchDescription, LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
path, *args = sys.argv[1:]
service = LaunchService(argv=args)
include = IncludeLaunchDescription(
    PythonLaunchDescriptionSource(path), launch_arguments=[tuple(arg.split(":=", 1)) for arg in args]
)
service.include_launch_description(LaunchDescription([include]))
sys.exit(service.run())
"""


def launch(path: Path, log_path: Path, *args: str) -> subprocess.Popen:
    """`ros2 launch <file> args` where the ros2 CLI exists, else the same through launch's LaunchService."""
    ros2 = shutil.which("ros2")
    command = [ros2, "launch", str(path), *args] if ros2 else [sys.executable, "-c", RUNNER, str(path), *args]
    return subprocess.Popen(
        command,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=os.environ.copy(),
        start_new_session=True,  # SIGINT to the whole launch, as Ctrl-C in a terminal does
    )


def shut_down(process: subprocess.Popen, timeout: float = 30.0) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


needs_installed_package = pytest.mark.skipif(
    installed_executable() is None,
    reason="skd_ros is not installed in the ament index (build it with colcon and source install/setup.bash)",
)


@needs_installed_package
@pytest.mark.parametrize(
    "launch_file, one_node", [(SINGLE, False), (MULTI, False), (MULTI, True)], ids=["single", "multi", "one_node"]
)
def test_launched_nodes_answer_each_camera(launch_file, one_node, probe_factory, namespace, tmp_path):
    cameras = [f"{namespace.strip('/')}_front", f"{namespace.strip('/')}_down"]
    if launch_file == SINGLE:
        cameras = cameras[:1]
        args = [f"namespace:={cameras[0]}", f"image_topic:=/{cameras[0]}/image_raw", "device:=cpu"]
    else:
        args = [f"cameras:={','.join(cameras)}", "image_topic:=image_raw", "device:=cpu", f"one_node:={one_node}"]
    log_path = tmp_path / "launch.log"
    process = launch(launch_file, log_path, *args)
    try:
        outputs_of = {
            camera: f"/saliency_node/{camera}" if one_node else f"/{camera}/saliency_node" for camera in cameras
        }
        probes = [probe_factory(outputs_of[camera], f"/{camera}/image_raw") for camera in cameras]
        for probe in probes:
            probe.spin_in_background()
        frames, _ = render_test_frames(2, 320, 240)
        for camera, probe in zip(cameras, probes, strict=True):
            probe.wait_for_subscriber(timeout=60.0)
            for index, frame in enumerate(frames):
                msg = probe.image_msg(frame, SECOND + index * SECOND // 10, f"{camera}_optical")
                outputs = probe.outputs_for(probe.exchange(msg, timeout=30.0).header)
                assert outputs["rois"].header.frame_id == f"{camera}_optical"
                assert outputs["saliency"].header.stamp == msg.header.stamp
        assert process.poll() is None, log_path.read_text()
    finally:
        code = shut_down(process)
    assert code == 0, log_path.read_text()
