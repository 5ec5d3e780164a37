"""Planner-ready outputs of saliency_node over real DDS: bearings from CameraInfo (~/bearings and the rays in
~/rois), ROI ids across frames, ~/markers for RViz; and nothing misconfigured in silence: unknown parameters
(with the closest names; strict_parameters fails configure, also as its own process), an incompatible QoS, frames
lost before the node."""

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs ROS 2's rclpy (the ros-kilted-* wheels or a ROS install)")

from rclpy.lifecycle import TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo
from visualization_msgs.msg import Marker

from skd_ros.core.roi_record import records_from_bytes
from skd_tools.bags import render_test_frames

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 320, 240
FRAMES, CENTRES = render_test_frames(24, WIDTH, HEIGHT)  # the disc moves 10 to 20 pixels a frame
SECOND = 1_000_000_000
FX, FY, CX, CY = 300.0, 280.0, 159.5, 119.5
NEWCOMER = (290, 215)  # where a second bright disc appears halfway through


def camera_info(header) -> CameraInfo:
    info = CameraInfo(header=header, width=WIDTH, height=HEIGHT, distortion_model="plumb_bob")
    info.d = [0.0] * 5
    info.k = [FX, 0.0, CX, 0.0, FY, CY, 0.0, 0.0, 1.0]
    return info


def pinhole_ray(x: float, y: float) -> np.ndarray:
    """By hand: a point in pixel-edge coordinates is at (x - 0.5, y - 0.5) in K's pixel-centre coordinates."""
    ray = np.array([(x - 0.5 - CX) / FX, (y - 0.5 - CY) / FY, 1.0])
    return ray / np.linalg.norm(ray)


def x_axis(orientation) -> np.ndarray:
    x, y, z, w = orientation.x, orientation.y, orientation.z, orientation.w
    return np.array([1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w)])


def frame(index: int) -> np.ndarray:
    pixels = FRAMES[index].copy()
    if index >= len(FRAMES) // 2:
        cv2.circle(pixels, NEWCOMER, 17, (235, 245, 255), -1, cv2.LINE_AA)
    return pixels


def stamp_of(index: int) -> int:
    return SECOND + index * SECOND // 30


def wait_until(condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_bearings_ids_and_markers_follow_the_target(connect, namespace, brightness_weights):
    node, probe = connect(namespace, markers=True, weights=brightness_weights, marker_length=2.5)
    # without CameraInfo: ids, but NaN rays and no ~/bearings
    first = probe.image_msg(frame(0), stamp_of(0), "camera_optical")
    (disc,) = records_from_bytes(probe.outputs_for(probe.exchange(first).header)["rois"].data)
    assert disc["id"] >= 1 and disc["age"] == 1 and math.isnan(disc["ray_x"])
    disc_id, newcomer_id = int(disc["id"]), None
    wait_until(lambda: probe.camera_info_publisher.get_subscription_count() > 0, what="the CameraInfo subscription")
    for index in range(1, len(FRAMES)):
        msg = probe.image_msg(frame(index), stamp_of(index), "camera_optical")
        probe.camera_info_publisher.publish(camera_info(msg.header))  # as a camera does, with every frame
        answer = probe.exchange(msg)
        if index == 1:  # the frame and its CameraInfo race; from the next frame on, the calibration is known
            continue
        bearings = probe.wait_for("bearings", lambda out, m=msg: out.header == m.header)
        records = records_from_bytes(probe.wait_for("rois", lambda out, m=msg: out.header == m.header).data)
        assert answer.header.frame_id == bearings.header.frame_id == "camera_optical"
        assert len(bearings.poses) == len(records) >= 1
        for record, pose in zip(records, bearings.poses, strict=True):
            ray = np.array([record["ray_x"], record["ray_y"], record["ray_z"]])
            np.testing.assert_allclose(ray, pinhole_ray(record["peak_x"], record["peak_y"]), atol=1e-6)
            np.testing.assert_allclose(x_axis(pose.orientation), ray, atol=1e-6)
            assert (pose.position.x, pose.position.y, pose.position.z) == (0.0, 0.0, 0.0)
            centre = pinhole_ray(record["x_offset"] + record["width"] / 2, record["y_offset"] + record["height"] / 2)
            np.testing.assert_allclose([record[f"centre_ray_{a}"] for a in "xyz"], centre, atol=1e-6)
        ids = {}  # (id, age) of the ROI on the moving disc and of the one on the newcomer
        for record in records:
            x, y = CENTRES[index]
            inside = record["x_offset"] <= x <= record["x_offset"] + record["width"]
            inside &= record["y_offset"] <= y <= record["y_offset"] + record["height"]
            ids["disc" if inside else "newcomer"] = (int(record["id"]), int(record["age"]))
        assert ids["disc"] == (disc_id, index + 1), f"frame {index}: the moving disc changed its id"
        assert ("newcomer" in ids) == (index >= len(FRAMES) // 2)
        if "newcomer" in ids:
            newcomer_id = newcomer_id or ids["newcomer"][0]
            assert ids["newcomer"][0] == newcomer_id != disc_id, "a new region gets a new id, and keeps it"
        # ~/markers: old ones cleared, then an arrow along each ROI's ray and a label with its id and score
        markers = probe.wait_for("markers", lambda out, m=msg: out.markers and out.markers[0].header == m.header)
        clear, *drawn = markers.markers
        assert clear.action == Marker.DELETEALL and all(m.action == Marker.ADD for m in drawn)
        arrows = [m for m in drawn if m.type == Marker.ARROW]
        labels = [m for m in drawn if m.type == Marker.TEXT_VIEW_FACING]
        assert len(arrows) == len(labels) == len(records)
        for record, arrow, label in zip(records, arrows, labels, strict=True):
            assert arrow.header.frame_id == label.header.frame_id == "camera_optical"
            origin, tip = arrow.points
            assert (origin.x, origin.y, origin.z) == (0.0, 0.0, 0.0)
            np.testing.assert_allclose(
                [tip.x, tip.y, tip.z], 2.5 * pinhole_ray(record["peak_x"], record["peak_y"]), atol=1e-5
            )
            assert label.text == f"#{record['id']} {record['score']:.2f}"
            np.testing.assert_allclose([label.pose.position.x, label.pose.position.y], [tip.x, tip.y])
    assert not any(out.header == first.header for out in probe.messages["bearings"]), "bearings without CameraInfo"
    status = probe.wait_for("diagnostics", lambda m: dict_of(m).get("bearings") == "published (plumb_bob)")
    assert dict_of(status)["camera info topic"] == f"{namespace}/camera_info"


def dict_of(msg) -> dict:
    return {kv.key: kv.value for kv in msg.status[0].values}


# --- no silent misconfiguration --------------------------------------------------------------------------------


def test_unknown_parameters_are_named_with_the_closest_declared_ones(start_node, namespace, rosout_log):
    node = start_node(namespace, activate=False, cli_args=["--ros-args", "-p", "reliability:=reliable"])
    line = rosout_log.wait_for("'reliability'")
    assert "WARN" in line and "ignored" in line and "did you mean qos_reliability?" in line
    assert node.unknown_parameters == ["reliability"]
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS  # reported, not fatal
    strict = start_node(f"{namespace}/strict", activate=False, strict_parameters=True, max_roi=3)
    assert strict.unknown_parameters == ["max_roi"]
    assert strict.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert "max_roi" in rosout_log.wait_for("configure failed", "strict_parameters")
    assert not strict.model_loaded


def test_strict_parameters_stop_the_node_process_with_the_suggestion(tmp_path):
    """The node as its own process (this worktree's module, not an installed console script)."""
    result = subprocess.run(
        [sys.executable, "-m", "skd_ros.node.saliency_node", "--ros-args"]
        + ["-r", "__ns:=/skd_strict_test", "-p", "strict_parameters:=true", "-p", "reliability:=reliable"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "did you mean qos_reliability?" in result.stderr and "strict_parameters" in result.stderr


def test_an_incompatible_camera_qos_is_reported_with_both_sides_and_the_fix(connect, namespace, rosout_log):
    node, probe = connect(namespace, qos_reliability="reliable")  # the probe has a best-effort image publisher too
    line = rosout_log.wait_for(f"{namespace}/image:", "cannot accept")
    assert "RELIABILITY" in line and "requests reliability reliable (qos_reliability: reliable)" in line
    assert "reliability best_effort" in line and "qos_reliability: best_effort" in line
    assert probe.node.get_name() in line  # the publisher it means


def publish_and_count(node, probe, indices, frame_id="camera_optical"):
    """Publish the frames ``indices`` of a 30 Hz stamp sequence, each once, waiting until the node received it."""
    pixels = np.full((24, 32, 3), 90, np.uint8)
    for index in indices:
        received = node.cameras[0].stats.received
        probe.publish(probe.image_msg(pixels, stamp_of(index), frame_id))
        wait_until(lambda n=received: node.cameras[0].stats.received > n, what=f"frame {index} at the node")


def test_a_publisher_that_sends_every_third_frame_is_reported_as_losing_two_thirds(connect, namespace, rosout_log):
    node, probe = connect(namespace)
    publish_and_count(node, probe, range(10))  # the stream at its full 30 Hz: the node learns the period
    assert node.cameras[0].stats.lost == 0
    sent = range(12, 90, 3)  # then the publisher sends only every third frame, stamps advancing
    publish_and_count(node, probe, sent)
    lost = node.cameras[0].stats.lost
    assert lost == 2 * len(sent) and lost / (lost + len(sent)) == pytest.approx(2 / 3)
    line = rosout_log.wait_for("frames lost before the node")
    assert "config/fastdds_shm.xml" in line and "Inference backends and transport" in line
    status = probe.wait_for("diagnostics", lambda m: dict_of(m).get("frames lost before the node") == str(lost))
    values = dict_of(status)
    assert float(values["camera frame period (ms)"]) == pytest.approx(1000 / 30, rel=0.01)
    assert values["frames dropped (skipped, inference behind)"] == str(node.cameras[0].stats.skipped)


def test_a_given_camera_frame_rate_counts_loss_from_the_first_frame(connect, namespace):
    node, probe = connect(namespace, camera_frame_rate=30.0)
    sent = range(0, 60, 3)
    publish_and_count(node, probe, sent)
    lost = node.cameras[0].stats.lost
    assert lost == 2 * (len(sent) - 1)
    assert lost / (lost + len(sent)) == pytest.approx(2 / 3, abs=0.02)
