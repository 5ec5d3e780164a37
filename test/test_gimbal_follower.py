"""The planner example (skd_ros.node.gimbal_follower) driven over DDS with published ~/rois: the set-point's sign
conventions (REP 103: yaw positive left, pitch positive down), the dead band, the rate limit, following one id."""

import math
import threading
import time

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs ROS 2's rclpy (the ros-kilted-* wheels or a ROS install)")

import rclpy
from geometry_msgs.msg import Vector3Stamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2

from skd_ros.core.postprocess import ROI, Peak
from skd_ros.core.roi_record import rois_to_records
from skd_ros.node.gimbal_follower import GimbalFollower, PanTiltFollower, angles_to
from skd_ros.node.messages import rois_msg

DEAD_BAND, MAX_RATE = 0.05, 0.5  # rad, rad/s
PERIOD_S = 0.1  # between the ROI messages' stamps: a step of at most MAX_RATE * PERIOD_S = 0.05 rad


def direction(yaw: float, pitch: float) -> np.ndarray:
    """The unit ray in the camera's optical frame (x right, y down, z forward) that ``angles_to`` turns into (yaw,
    pitch): yaw positive to the left, pitch positive down."""
    return np.array([-math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])


def records(*targets):
    """ROI records of (id, score, ray) targets, best first."""
    return rois_to_records(
        [ROI(0, 0, 10, 10, score) for _, score, _ in targets],
        [Peak(5, 5, 1.0)] * len(targets),
        identities=[(ident, 1) for ident, *_ in targets],
        peak_rays=np.array([ray for *_, ray in targets]).reshape(-1, 3),
    )


def test_angles_follow_rep_103():
    yaw, pitch = angles_to(direction(0.3, -0.2))
    assert (yaw, pitch) == pytest.approx((0.3, -0.2))
    assert angles_to([0.1, 0.0, 1.0])[0] < 0  # a target right of the axis: turn right, yaw negative
    assert angles_to([0.0, 0.1, 1.0])[1] > 0  # a target below the axis (y down): tilt down, pitch positive


def test_the_law_keeps_its_target_while_it_is_there():
    law = PanTiltFollower(dead_band=0.0, max_rate=10.0)
    law.update(0.0, records((7, 0.6, direction(0.2, 0.0)), (9, 0.3, direction(-0.2, 0.0))))
    assert law.target_id == 7
    law.update(0.1, records((9, 0.6, direction(-0.2, 0.0)), (7, 0.3, direction(0.2, 0.0))))  # 9 is now the best
    assert law.target_id == 7 and law.yaw > 0
    law.update(0.2, records((9, 0.6, direction(-0.2, 0.0))))  # 7 is gone: the best one
    assert law.target_id == 9
    law.update(0.3, records((11, 0.6, [math.nan] * 3)))  # no ray (no CameraInfo): nothing to follow, hold
    assert law.target_id is None


class Planner:
    """The follower node and a test node that publishes ROIs to it and records its set-points, spinning."""

    def __init__(self, context, namespace: str):
        self.follower = GimbalFollower(
            namespace=namespace,
            context=context,
            parameter_overrides=[Parameter("dead_band", value=DEAD_BAND), Parameter("max_rate", value=MAX_RATE)],
        )
        self.node = rclpy.create_node("gimbal_test", namespace=namespace, context=context)
        self.publisher = self.node.create_publisher(PointCloud2, "rois", 10)
        self.setpoints, self._cond = [], threading.Condition()
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(Vector3Stamped, "gimbal_setpoint", self._record, reliable)
        self.executor = SingleThreadedExecutor(context=context)
        for node in (self.follower, self.node):
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10.0
        while self.publisher.get_subscription_count() == 0 or self.follower.count_publishers("rois") == 0:
            assert time.monotonic() < deadline, "the follower did not subscribe to rois"
            time.sleep(0.02)

    def _record(self, msg):
        with self._cond:
            self.setpoints.append(msg)
            self._cond.notify_all()

    def send(self, index: int, *targets) -> tuple[float, float]:
        """Publish ROIs stamped ``index`` periods in -> the (yaw, pitch) set-point published for them."""
        header = Vector3Stamped().header
        header.stamp.sec, header.stamp.nanosec = divmod(round(10e9 + index * PERIOD_S * 1e9), 1_000_000_000)
        header.frame_id = "camera_optical"
        self.publisher.publish(rois_msg(records(*targets), header))
        deadline = time.monotonic() + 10.0
        with self._cond:
            while not any(s.header.stamp == header.stamp for s in self.setpoints):
                assert self._cond.wait(max(0.0, deadline - time.monotonic())), f"no set-point for message {index}"
            (setpoint,) = [s for s in self.setpoints if s.header.stamp == header.stamp]
        assert setpoint.header.frame_id == "gimbal" and setpoint.vector.x == 0.0
        return setpoint.vector.z, setpoint.vector.y

    def close(self):
        self.executor.shutdown(timeout_sec=5.0)
        self.thread.join(5.0)
        self.follower.destroy_node()
        self.node.destroy_node()


@pytest.fixture
def planner(ros_context, namespace):
    planner = Planner(ros_context, namespace)
    yield planner
    planner.close()


def test_the_follower_steers_with_a_dead_band_and_a_rate_limit(planner):
    target = (1, 0.5, direction(-0.3, 0.0))  # 0.3 rad to the right
    assert planner.send(0, target) == (0.0, 0.0)  # the first message starts the clock
    yaw, pitch = planner.send(1, target)
    assert yaw == pytest.approx(-MAX_RATE * PERIOD_S) and pitch == 0.0  # right is negative yaw; the step is bounded
    yaw, _ = planner.send(3, target)  # two periods later: twice the step
    assert yaw == pytest.approx(-3 * MAX_RATE * PERIOD_S)
    # the camera now points 0.15 rad right: the target reads 0.03 rad further right, inside the dead band
    near = (1, 0.5, direction(-0.03, 0.04))
    assert planner.send(4, near) == pytest.approx((yaw, 0.0))
    below = (1, 0.5, direction(0.0, 0.2))  # below the axis: tilt down, pitch positive
    yaw_now, pitch = planner.send(5, below)
    assert yaw_now == pytest.approx(yaw) and pitch == pytest.approx(MAX_RATE * PERIOD_S)
    # just outside the dead band, to the left, two periods on: the whole error, within the rate limit, to the left
    left = (1, 0.5, direction(0.02 + DEAD_BAND, 0.0))
    yaw_left, _ = planner.send(7, left)
    assert yaw_left == pytest.approx(yaw + 0.02 + DEAD_BAND)
    assert planner.send(8) == pytest.approx((yaw_left, pitch))  # no ROI: the set-point holds
