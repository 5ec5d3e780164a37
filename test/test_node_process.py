"""The installed console script ``skd-saliency-node`` as its own process, with the shipped params file, talking
to a probe in this process over DDS: what a user gets from the pip path."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs ROS 2's rclpy (the ros-kilted-* wheels or a ROS install)")

from conftest import shipped_side
from lifecycle_msgs.msg import Transition
from sensor_msgs.msg import Image

from skd_ros.core.image_codec import decode_output
from skd_ros.core.roi_record import records_from_bytes
from skd_tools.bags import render_test_frames

REPO = Path(__file__).resolve().parents[1]
PARAMS_FILE = REPO / "config" / "saliency.yaml"
SCRIPT = Path(sys.executable).parent / "skd-saliency-node"
WIDTH, HEIGHT = 320, 240
SECOND = 1_000_000_000
SHIPPED_SIDE = shipped_side()


@pytest.fixture
def console_script():
    if not SCRIPT.is_file():
        pytest.fail(
            f"{SCRIPT} is missing: setup.py must declare the console script "
            "'skd-saliency-node = skd_ros.node.saliency_node:main' (then reinstall: pip install -e .)"
        )
    return str(SCRIPT)


def start(console_script, log_path: Path, *ros_args: str) -> subprocess.Popen:
    log = log_path.open("w")
    return subprocess.Popen(
        [console_script, "--ros-args", *ros_args],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=os.environ.copy(),  # ROS_DOMAIN_ID and discovery range set by conftest
    )


def stop(process: subprocess.Popen, timeout: float = 20.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def test_console_script_serves_frames_and_survives_malformed_ones(console_script, probe_factory, namespace, tmp_path):
    log_path = tmp_path / "node.log"
    node = start(
        console_script,
        log_path,
        "-r",
        f"__ns:={namespace}",
        "-r",
        f"image:={namespace}/camera/image_raw",
        "--params-file",
        str(PARAMS_FILE),
        "-p",
        "diagnostics_period:=0.5",
    )
    try:
        probe = probe_factory(f"{namespace}/saliency_node", f"{namespace}/camera/image_raw")
        probe.spin_in_background()
        probe.wait_for_subscriber(timeout=60.0)  # the process imports torch and races inference backends first
        frames, _ = render_test_frames(3, WIDTH, HEIGHT)
        for index, frame in enumerate(frames):
            msg = probe.image_msg(frame, SECOND + index * SECOND // 10, "down_camera_optical")
            outputs = probe.outputs_for(probe.exchange(msg, timeout=30.0).header)
            for out in outputs.values():
                assert out.header.stamp == msg.header.stamp and out.header.frame_id == "down_camera_optical"
            saliency = outputs["saliency"]
            side = SHIPPED_SIDE  # the params file's resolution 0: the checkpoint's own
            assert (saliency.encoding, saliency.width, saliency.height) == ("mono8", side, side)
            assert decode_output(saliency).shape == (side, side)
            for r in records_from_bytes(outputs["rois"].data):
                assert r["x_offset"] + r["width"] <= WIDTH and r["y_offset"] + r["height"] <= HEIGHT
        truncated = Image(height=HEIGHT, width=WIDTH, encoding="rgb8", step=WIDTH * 3, data=bytes(100))
        bayer = Image(height=HEIGHT, width=WIDTH, encoding="bayer_rggb8", step=WIDTH, data=bytes(WIDTH * HEIGHT))
        for count, bad in enumerate((truncated, bayer), start=1):
            bad.header.frame_id = "down_camera_optical"
            probe.publish(bad)
            diagnostics = probe.wait_for("diagnostics", lambda m, n=count: bad_input_count(m) == n, timeout=30.0)
            after = probe.image_msg(np.asarray(frames[count]), (5 + count) * SECOND, "down_camera_optical")
            assert probe.exchange(after, timeout=30.0).header.stamp == after.header.stamp  # still serving
        assert diagnostics.status[0].hardware_id == "cpu"
        assert diagnostic_values(diagnostics)["weights"] == "shipped default"  # the params file's weights: ""
        assert node.poll() is None, "the node died"
    finally:
        code = stop(node)
    log = log_path.read_text()
    assert code == 0, f"exit code {code}; log:\n{log}"
    assert "Traceback" not in log, log
    assert "data is truncated" in log and "unsupported encoding 'bayer_rggb8'" in log, log
    assert "UNTRAINED" not in log, log


def diagnostic_values(diagnostics) -> dict[str, str]:
    return {kv.key: kv.value for kv in diagnostics.status[0].values}


def bad_input_count(diagnostics) -> int:
    return int(diagnostic_values(diagnostics)["frames dropped (bad input)"])


def test_console_script_refuses_bad_parameters_with_a_clear_message(console_script, namespace, tmp_path):
    log_path = tmp_path / "node.log"
    node = start(
        console_script,
        log_path,
        "-r",
        f"__ns:={namespace}",
        "--params-file",
        str(PARAMS_FILE),
        "-p",
        "saliency_encoding:=rgb8",
    )
    try:
        code = node.wait(60.0)
    finally:
        stop(node)
    log = log_path.read_text()
    assert code == 1, log
    assert "saliency_encoding must be one of mono8, 32FC1, got 'rgb8'" in log, log
    assert "Traceback" not in log, log


@pytest.mark.parametrize(
    "transitions,state,sig",
    [
        ([], "unconfigured", signal.SIGTERM),
        ([Transition.TRANSITION_CONFIGURE], "inactive", signal.SIGINT),
        (
            [
                Transition.TRANSITION_CONFIGURE,
                Transition.TRANSITION_ACTIVATE,
                Transition.TRANSITION_DEACTIVATE,
                Transition.TRANSITION_CLEANUP,
                Transition.TRANSITION_CONFIGURE,
                Transition.TRANSITION_ACTIVATE,
                Transition.TRANSITION_ACTIVE_SHUTDOWN,
            ],
            "finalized",
            signal.SIGINT,
        ),
    ],
    ids=["unconfigured-SIGTERM", "inactive-SIGINT", "finalized-after-a-round-trip-SIGINT"],
)
def test_diagnostics_report_every_state_and_the_node_exits_on_a_signal(
    console_script, probe_factory, namespace, tmp_path, transitions, state, sig
):
    """/diagnostics keeps coming in every lifecycle state (on the steady clock: use_sim_time with no /clock
    here), saying the state, and the node ends promptly on SIGINT or SIGTERM from that state."""
    log_path = tmp_path / "node.log"
    node = start(
        console_script,
        log_path,
        "-r",
        f"__ns:={namespace}",
        "--params-file",
        str(PARAMS_FILE),
        "-p",
        "auto_start:=false",
        "-p",
        "use_sim_time:=true",
        "-p",
        "diagnostics_period:=0.2",
    )
    try:
        probe = probe_factory(f"{namespace}/saliency_node", f"{namespace}/image")
        probe.spin_in_background()
        probe.wait_for("diagnostics", timeout=60.0)
        for transition in transitions:
            assert probe.change_state(transition), f"transition {transition} failed"
        probe.messages["diagnostics"].clear()
        diagnostics = probe.wait_for("diagnostics", lambda m: diagnostic_values(m)["state"] == state, timeout=30.0)
        assert diagnostics.status[0].message.startswith(state)
        node.send_signal(sig)
        code = node.wait(15.0)
    finally:
        stop(node)
    log = log_path.read_text()
    assert code == 0, f"exit code {code} after {sig.name} in state {state}; log:\n{log}"
    assert "Traceback" not in log, log
