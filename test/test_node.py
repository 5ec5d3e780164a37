"""saliency_node over real DDS: the node and a probe node in this process, each message going through the
RMW (Fast DDS) like between processes. Frames are small aerial-like renders (a bright disc over drifting
texture); where a test asserts *where* the node looks, it loads a hand-set checkpoint whose output is known
(see conftest.detector_model), since untrained weights look nowhere in particular."""

import gc
import os
import time

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs ROS 2's rclpy (the ros-kilted-* wheels or a ROS install)")

from conftest import shipped_side
from lifecycle_msgs.msg import Transition
from rclpy.exceptions import InvalidParameterValueException
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image

from skd_ros.core import image_codec
from skd_ros.core.device import usable_cores
from skd_ros.core.image_codec import decode_output
from skd_ros.core.postprocess import ROIParams, extract_rois
from skd_ros.core.roi_record import ROI_POINT_FIELDS, ROI_POINT_STEP, records_from_bytes
from skd_tools.bags import render_test_frames

WIDTH, HEIGHT = 320, 240
FRAMES, CENTRES = render_test_frames(6, WIDTH, HEIGHT)
SECOND = 1_000_000_000
SHIPPED_SIDE = shipped_side()


def frame_msg(probe, index: int, stamp_ns: int | None = None, frame_id: str = "camera_optical"):
    return probe.image_msg(FRAMES[index], SECOND + index * SECOND // 10 if stamp_ns is None else stamp_ns, frame_id)


def read_rois(cloud):
    assert cloud.height == 1 and cloud.point_step == ROI_POINT_STEP and cloud.row_step == cloud.width * ROI_POINT_STEP
    assert not cloud.is_bigendian
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == list(ROI_POINT_FIELDS)
    records = records_from_bytes(cloud.data, cloud.point_step)
    assert len(records) == cloud.width
    return records


def assert_inside_image(records, width=WIDTH, height=HEIGHT):
    for r in records:
        assert r["width"] > 0 and r["height"] > 0
        assert r["x_offset"] + r["width"] <= width and r["y_offset"] + r["height"] <= height
        assert r["x_offset"] <= r["peak_x"] <= r["x_offset"] + r["width"]
        assert r["y_offset"] <= r["peak_y"] <= r["y_offset"] + r["height"]
        assert 0.0 < r["score"] <= 1.0


@pytest.mark.parametrize(
    "parameters,encoding,size,dtype",
    [
        ({}, "mono8", (SHIPPED_SIDE, SHIPPED_SIDE), np.uint8),
        ({"saliency_encoding": "32FC1", "saliency_full_size": True}, "32FC1", (HEIGHT, WIDTH), np.float32),
        ({"resolution": 32}, "mono8", (32, 32), np.uint8),
    ],
)
def test_outputs_carry_the_input_header_and_the_configured_geometry(
    connect, namespace, parameters, encoding, size, dtype
):
    node, probe = connect(namespace, **parameters)
    for index in range(3):
        msg = frame_msg(probe, index)
        outputs = probe.outputs_for(probe.exchange(msg).header)
        for out in outputs.values():  # exactly the input's stamp and frame_id
            assert out.header.stamp == msg.header.stamp and out.header.frame_id == msg.header.frame_id
        saliency = outputs["saliency"]
        assert saliency.encoding == encoding and (saliency.height, saliency.width) == size
        assert saliency.step == size[1] * np.dtype(dtype).itemsize
        pixels = decode_output(saliency)
        assert pixels.dtype == dtype and pixels.shape == size
        if dtype == np.float32:
            assert 0.0 <= pixels.min() and pixels.max() <= 1.0
        assert_inside_image(read_rois(outputs["rois"]))
        point = outputs["attention"].point
        assert 0 <= point.x < WIDTH and 0 <= point.y < HEIGHT and 0.0 <= point.z <= 1.0


def test_rois_follow_a_moving_bright_target(connect, namespace, brightness_weights):
    node, probe = connect(namespace, weights=brightness_weights, saliency_encoding="32FC1")
    for index, (cx, cy) in enumerate(CENTRES):
        outputs = probe.outputs_for(probe.exchange(frame_msg(probe, index)).header)
        records = read_rois(outputs["rois"])
        assert_inside_image(records)
        top = records[0]
        assert top["x_offset"] <= cx <= top["x_offset"] + top["width"], f"frame {index}: target x {cx} not in {top}"
        assert top["y_offset"] <= cy <= top["y_offset"] + top["height"], f"frame {index}: target y {cy} not in {top}"
        assert top["width"] * top["height"] < 0.1 * WIDTH * HEIGHT, "the box hugs the target, not the image"
        point = outputs["attention"].point
        assert top["x_offset"] <= point.x <= top["x_offset"] + top["width"]
        assert top["y_offset"] <= point.y <= top["y_offset"] + top["height"]
        # the boxes are exactly those of the published (32FC1, model-resolution) map
        expected = extract_rois(decode_output(outputs["saliency"]), WIDTH, HEIGHT, ROIParams())
        assert [(r["x_offset"], r["y_offset"], r["width"], r["height"]) for r in records] == [
            (r.x, r.y, r.width, r.height) for r in expected
        ]


def test_overlay_is_published_at_the_input_size_for_subscribers(connect, namespace, brightness_weights):
    node, probe = connect(namespace, overlay=True, weights=brightness_weights)
    msg = frame_msg(probe, 2)
    probe.exchange(msg)
    overlay = probe.wait_for("overlay", lambda out: out.header.stamp == msg.header.stamp)
    assert overlay.encoding == "rgb8" and (overlay.height, overlay.width) == (HEIGHT, WIDTH)
    assert overlay.header.frame_id == msg.header.frame_id
    picture = decode_output(overlay)
    cx, cy = (round(c) for c in CENTRES[2])
    assert picture[cy, cx, 0] > picture[cy, cx, 2], "the bright target is drawn hot (red) in the heat map"


def test_best_effort_and_reliable_publishers_are_both_served(connect, namespace, start_node, probe_factory):
    node, probe = connect(namespace)
    for index, reliability in enumerate(["reliable", "best_effort", "reliable"]):
        msg = frame_msg(probe, index)
        assert probe.exchange(msg, reliability=reliability).header.stamp == msg.header.stamp
    # what `ros2 topic info -v` shows: the node's input is best effort (sensor-data QoS) by default
    (info,) = probe.node.get_subscriptions_info_by_topic(f"{namespace}/image")
    assert info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT  # (DDS discovery does not carry depth)


def test_a_reliable_subscription_serves_reliable_publishers(connect, namespace):
    node, probe = connect(namespace, qos_reliability="reliable", qos_depth=2)
    (info,) = probe.node.get_subscriptions_info_by_topic(f"{namespace}/image")
    assert info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
    msg = frame_msg(probe, 0)
    assert probe.exchange(msg).header.stamp == msg.header.stamp


def bad_raw_messages(probe) -> list[tuple[str, Image]]:
    """(kind, message) for each way a raw image can be broken."""
    good = frame_msg(probe, 0)

    def variant(**changes):
        msg = Image(header=good.header, height=HEIGHT, width=WIDTH, encoding="bgr8", step=good.step, data=good.data)
        for key, value in changes.items():
            setattr(msg, key, value)
        return msg

    return [
        (image_codec.UNSUPPORTED_ENCODING, variant(encoding="yuv422")),
        (image_codec.BAD_STEP, variant(step=WIDTH * 3 - 1, data=bytes((WIDTH * 3 - 1) * HEIGHT))),
        (image_codec.SIZE_MISMATCH, variant(data=bytes(good.step * HEIGHT // 2))),  # truncated
        (image_codec.SIZE_MISMATCH, variant(data=bytes(good.step * HEIGHT + 10))),  # too long
        (image_codec.EMPTY, variant(width=0, step=0, data=b"")),
        (image_codec.EMPTY, variant(height=0, data=b"")),
    ]


def wait_until(condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_bad_raw_input_is_dropped_counted_and_the_node_keeps_serving(connect, namespace):
    node, probe = connect(namespace)
    bad = bad_raw_messages(probe)
    for index, (kind, msg) in enumerate(bad):
        rejected = node.cameras[0].stats.rejected[kind]
        probe.publish(msg)
        wait_until(
            lambda k=kind, n=rejected: node.cameras[0].stats.rejected[k] > n, what=f"rejection of a bad frame ({kind})"
        )
        good = frame_msg(probe, index % len(FRAMES), stamp_ns=10 * SECOND + index * SECOND)
        assert probe.exchange(good).header.stamp == good.header.stamp  # still serving
    expected = {kind: sum(1 for k, _ in bad if k == kind) for kind, _ in bad}
    assert node.cameras[0].stats.rejected == expected
    # /diagnostics reports them by kind, with a warning
    msg = probe.wait_for("diagnostics", lambda m: dict_of(m).get("frames dropped (bad input)") == str(len(bad)))
    values = dict_of(msg)
    for kind, count in expected.items():
        assert values[f"bad input: {kind}"] == str(count)
    assert node.cameras[0].stats.failed == 0


def test_bad_compressed_input_is_dropped_and_the_node_keeps_serving(connect, namespace):
    node, probe = connect(namespace, input_compressed=True)
    jpeg = cv2.imencode(".jpg", FRAMES[1])[1].tobytes()
    bad = [
        probe.compressed_msg(b"\xff\xd8 this is no jpeg", SECOND, "cam"),
        probe.compressed_msg(jpeg[: len(jpeg) // 8], SECOND, "cam"),
        probe.compressed_msg(b"", SECOND, "cam"),
        probe.compressed_msg(jpeg, SECOND, "cam", fmt="16UC1; compressedDepth"),
    ]
    for index, msg in enumerate(bad):
        rejected = sum(node.cameras[0].stats.rejected.values())
        probe.publish(msg)
        wait_until(
            lambda n=rejected: sum(node.cameras[0].stats.rejected.values()) > n, what=f"rejection of bad frame {index}"
        )
        good = probe.compressed_msg(jpeg, 2 * SECOND + index * SECOND, "cam")
        assert probe.exchange(good).header.stamp == good.header.stamp
    assert node.cameras[0].stats.rejected == {
        image_codec.UNDECODABLE: 2,
        image_codec.EMPTY: 1,
        image_codec.UNSUPPORTED_ENCODING: 1,
    }


def test_compressed_input_follows_the_remapped_image_topic(start_node, probe_factory, namespace, ros_context):
    node = start_node(
        namespace, input_compressed=True, cli_args=["--ros-args", "-r", f"image:={namespace}/camera/image_raw"]
    )
    probe = probe_factory(f"{namespace}/saliency_node", f"{namespace}/camera/image_raw")
    probe.spin_in_background(node)
    probe.wait_for_subscriber(compressed=True)
    assert probe.compressed_publisher.topic_name == f"{namespace}/camera/image_raw/compressed"
    msg = probe.compressed_msg(cv2.imencode(".png", FRAMES[3])[1].tobytes(), 3 * SECOND, "down_camera", "png")
    outputs = probe.outputs_for(probe.exchange(msg).header)
    assert outputs["attention"].header.frame_id == "down_camera"
    assert_inside_image(read_rois(outputs["rois"]))


def motion_frame(position: tuple[int, int]) -> np.ndarray:
    frame = np.full((HEIGHT, WIDTH, 3), 60, np.uint8)
    x, y = position
    frame[y : y + 24, x : x + 24] = 255
    return frame


def test_time_jumps_and_new_frame_ids_are_never_paired(connect, namespace, motion_weights):
    """With the motion checkpoint a frame paired with itself gives a flat map (no ROI) and a frame paired with
    a different one lights up where the square moved: the ROIs show which frames were paired."""
    node, probe = connect(namespace, weights=motion_weights)
    sequence = [  # (stamp, frame_id, square position, paired with the frame before?)
        (10.0, "cam_a", (40, 40), False),  # first frame
        (10.1, "cam_a", (120, 100), True),
        (5.0, "cam_a", (200, 60), False),  # time went backwards: a bag started over
        (5.1, "cam_a", (240, 160), True),
        (5.2, "cam_b", (60, 180), False),  # another camera's frame
        (5.3, "cam_b", (150, 40), True),
    ]
    for stamp, frame_id, (x, y), paired in sequence:
        msg = probe.image_msg(motion_frame((x, y)), round(stamp * SECOND), frame_id)
        records = read_rois(probe.outputs_for(probe.exchange(msg).header)["rois"])
        if not paired:
            assert len(records) == 0, f"{frame_id} at {stamp} s was paired with an earlier frame"
        else:
            assert any(
                r["x_offset"] <= x + 12 <= r["x_offset"] + r["width"]
                and r["y_offset"] <= y + 12 <= r["y_offset"] + r["height"]
                for r in records
            ), f"{frame_id} at {stamp} s: no ROI where the square moved to"
    status = probe.wait_for("diagnostics", lambda msg: dict_of(msg).get("pairing restarts") == "2")
    assert status is not None


def test_parameter_updates_take_effect_and_bad_ones_are_refused(connect, namespace, brightness_weights):
    node, probe = connect(namespace, weights=brightness_weights)
    two_targets = FRAMES[0].copy()
    cv2.rectangle(two_targets, (230, 150), (280, 200), (255, 255, 255), -1)
    stamps = iter(range(SECOND, 100 * SECOND, SECOND // 10))

    def rois_and_saliency():
        msg = probe.image_msg(two_targets, next(stamps), "cam")
        outputs = probe.outputs_for(probe.exchange(msg).header)
        return read_rois(outputs["rois"]), outputs["saliency"]

    rois, saliency = rois_and_saliency()
    assert len(rois) == 2 and saliency.encoding == "mono8" and saliency.width == 64
    results = probe.set_parameters(max_rois=1, saliency_encoding="32FC1", saliency_full_size=True)
    assert all(result.successful for result in results)
    rois, saliency = rois_and_saliency()
    assert len(rois) == 1 and saliency.encoding == "32FC1" and (saliency.width, saliency.height) == (WIDTH, HEIGHT)
    # invalid values are refused with the reason, read-only ones cannot change, and the node goes on as before
    (refused,) = probe.set_parameters(saliency_encoding="rgb8")
    assert not refused.successful and "saliency_encoding" in refused.reason and "mono8" in refused.reason
    (refused,) = probe.set_parameters(roi_threshold=0.0)
    assert not refused.successful and "roi_threshold" in refused.reason
    (refused,) = probe.set_parameters(resolution=32)
    assert not refused.successful and "read-only" in refused.reason
    (refused,) = probe.set_parameters(max_rois=500)
    assert not refused.successful
    rois, saliency = rois_and_saliency()
    assert len(rois) == 1 and saliency.encoding == "32FC1" and saliency.width == WIDTH
    assert node.get_parameter("max_rois").value == 1
    probe.set_parameters(max_rois=5, roi_min_score=0.9)  # no box holds 90 % of the mass here
    rois, _ = rois_and_saliency()
    assert len(rois) == 0


def test_lifecycle_deactivate_stops_outputs_and_activate_resumes(connect, namespace):
    node, probe = connect(namespace, activate=False)
    assert probe.state() == "unconfigured"
    assert probe.change_state(Transition.TRANSITION_CONFIGURE) and probe.state() == "inactive"
    assert node.model_loaded and probe.image_publishers["reliable"].get_subscription_count() == 0
    assert gc.get_freeze_count() > 0, "the objects alive once the model is loaded are out of the collector's reach"
    assert probe.change_state(Transition.TRANSITION_ACTIVATE) and probe.state() == "active"
    probe.wait_for_subscriber()
    msg = frame_msg(probe, 0)
    assert probe.exchange(msg).header.stamp == msg.header.stamp

    assert probe.change_state(Transition.TRANSITION_DEACTIVATE) and probe.state() == "inactive"
    assert not node.model_loaded, "deactivate frees the model"
    assert gc.get_freeze_count() == 0, "and lets the collector reach what it left"
    wait_until(lambda: probe.image_publishers["reliable"].get_subscription_count() == 0, what="unsubscribe")
    silent = frame_msg(probe, 1)
    probe.publish(silent)
    with pytest.raises(AssertionError, match="no matching message"):
        probe.wait_for("saliency", lambda out: out.header.stamp == silent.header.stamp, timeout=1.0)
    inactive = probe.wait_for("diagnostics", lambda msg: dict_of(msg).get("state") == "inactive")
    assert inactive.status[0].message.startswith("inactive")

    assert probe.change_state(Transition.TRANSITION_ACTIVATE) and node.model_loaded
    probe.wait_for_subscriber()
    again = frame_msg(probe, 2)
    assert probe.exchange(again).header.stamp == again.header.stamp
    assert probe.change_state(Transition.TRANSITION_DEACTIVATE)
    assert probe.change_state(Transition.TRANSITION_CLEANUP) and probe.state() == "unconfigured"


def test_one_node_per_camera_by_namespace(start_node, probe_factory, namespace, ros_context):
    nodes, probes = [], []
    for camera in ("cam0", "cam1"):
        nodes.append(start_node(f"{namespace}/{camera}"))
        probes.append(probe_factory(f"{namespace}/{camera}/saliency_node", f"{namespace}/{camera}/image"))
    probes[0].spin_in_background(*nodes, probes[1].node)
    for camera, probe in zip(("cam0", "cam1"), probes, strict=True):
        probe.wait_for_subscriber()
        for index in range(2):
            msg = frame_msg(probe, index, frame_id=f"{camera}_optical")
            assert probe.exchange(msg).header.frame_id == f"{camera}_optical"
    for camera, probe in zip(("cam0", "cam1"), probes, strict=True):
        assert {out.header.frame_id for out in probe.messages["saliency"]} == {f"{camera}_optical"}


def test_one_node_serves_several_cameras_in_one_forward_pass(start_node, probe_factory, namespace):
    """cameras:=front,down: each camera is read from <name>/image and published under ~/<name>/, and frames
    waiting from both cameras go through the model together, each map back to its own camera."""
    import threading

    node = start_node(namespace, cameras="front,down")
    batches, hold = [], threading.Event()
    infer = node._estimator.infer

    def recording_infer(previous, current, pool=None):
        batches.append(len(current))
        hold.wait(10.0)  # the first call keeps the worker busy until both cameras have a frame waiting
        return infer(previous, current, pool)

    node._estimator.infer = recording_infer
    probes = {
        camera: probe_factory(f"{namespace}/saliency_node/{camera}", f"{namespace}/{camera}/image")
        for camera in ("front", "down")
    }
    probes["front"].spin_in_background(node, probes["down"].node)
    for probe in probes.values():
        probe.wait_for_subscriber()
    first = frame_msg(probes["front"], 0, frame_id="front_optical")
    probes["front"].publish(first)
    wait_until(lambda: batches == [1], what="the first front frame in the model")
    waiting = {"front": frame_msg(probes["front"], 1, frame_id="front_optical")}
    waiting["down"] = frame_msg(probes["down"], 4, frame_id="down_optical")
    for camera, msg in waiting.items():
        probes[camera].publish(msg)
        wait_until(lambda c=camera: node.cameras[["front", "down"].index(c)].stats.received >= 1 + (c == "front"))
    hold.set()
    for camera, msg in waiting.items():
        outputs = probes[camera].outputs_for(msg.header)
        assert outputs["rois"].header.frame_id == f"{camera}_optical"
        # the map belongs to this camera's frame, paired within this camera (down: its first frame, with itself)
        previous = FRAMES[0] if camera == "front" else FRAMES[4]
        current = FRAMES[1] if camera == "front" else FRAMES[4]
        estimator = node._estimator
        previous, current = estimator.prepare(previous), estimator.prepare(current)
        expected = infer(estimator.temporal_input(previous, current), current)
        published = image_codec.decode_output(outputs["saliency"]).astype(int)
        assert np.abs(published - (expected * 255 + 0.5).astype(int)).max() <= 1
    assert batches == [1, 2], "the two cameras' waiting frames were not batched into one forward pass"

    # a camera's frame is counted after its outputs are published: wait for a report that counts both cameras'
    def both_counted(m) -> bool:
        processed = [int(dict_of_status(status).get("frames processed", 0)) for status in m.status]
        return len(processed) == 2 and processed[0] >= 2 and processed[1] >= 1

    msg = probes["down"].wait_for("diagnostics", both_counted)
    by_name = {status.name: dict_of_status(status) for status in msg.status}  # one status per camera
    assert set(by_name) == {f"{namespace}/saliency_node/{camera}: saliency" for camera in ("front", "down")}
    values = by_name[f"{namespace}/saliency_node/down: saliency"]
    assert values["input topic"] == f"{namespace}/down/image" and values["cameras served (batched)"] == "2"
    assert values["frames processed"] == "1"


def test_diagnostics_report_rates_latency_drops_and_device(connect, namespace):
    node, probe = connect(namespace)
    for index in range(4):
        probe.exchange(frame_msg(probe, index))
    msg = probe.wait_for("diagnostics", lambda m: int(dict_of(m).get("frames processed", 0)) >= 4)
    (status,) = msg.status
    values = dict_of_status(status)
    assert status.hardware_id == "cpu" and values["device"] == "cpu" and values["state"] == "active"
    assert values["input topic"] == f"{namespace}/image"
    for key in (
        "input rate (Hz)",
        "output rate (Hz)",
        "inference latency mean (ms)",
        "inference latency max (ms)",
        "frames dropped (skipped, inference behind)",
        "frames dropped (bad input)",
        "inference backend",
    ):
        assert key in values
    assert float(values["input rate (Hz)"]) >= 0.0 and int(values["frames received"]) >= 4


def test_inference_threads_never_outnumber_the_usable_cores(start_node, namespace, monkeypatch):
    node = start_node(namespace, activate=False)  # the default, two threads
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node._estimator.backend.threads == min(2, usable_cores())
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # a one-core computer
    single = start_node(f"{namespace}/b", activate=False)
    assert single.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert single._estimator.backend.threads == 1
    spread = start_node(f"{namespace}/c", activate=False, cpu_threads=0)  # 0: the engine's own default
    assert spread.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert spread._estimator.backend.threads is None


def test_invalid_start_up_parameters_fail_configure_or_construction(start_node, namespace, tmp_path):
    node = start_node(namespace, activate=False, saliency_encoding="rgb8")
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    missing = start_node(f"{namespace}/b", activate=False, weights=str(tmp_path / "missing.pt"))
    assert missing.trigger_configure() == TransitionCallbackReturn.FAILURE
    with pytest.raises(InvalidParameterValueException):
        start_node(f"{namespace}/c", activate=False, max_rois=1000)  # outside the declared range
    with pytest.raises(InvalidParameterValueException, match="must not name a camera twice"):
        start_node(f"{namespace}/d", activate=False, cameras="front,front")
    with pytest.raises(InvalidParameterValueException, match="bad: '2nd'"):
        start_node(f"{namespace}/e", activate=False, cameras="front, 2nd")


def dict_of_status(status) -> dict:
    return {kv.key: kv.value for kv in status.values}


def dict_of(msg) -> dict:
    return dict_of_status(msg.status[0])
