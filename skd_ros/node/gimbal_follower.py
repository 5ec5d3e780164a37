"""gimbal_follower: an example planner that points a gimbal at what the saliency node finds salient.

Copy it as the start of your own. It subscribes to the saliency node's ``~/rois`` (remap ``rois``), takes the
ray towards the peak of the ROI it follows (the rays need the camera's CameraInfo, see docs/NODE.md) and
publishes a pan/tilt set-point on ``gimbal_setpoint``::

    skd-gimbal-example --ros-args -r rois:=/cam0/saliency_node/rois -p max_rate:=0.5
    ros2 run skd_ros gimbal_follower --ros-args -r rois:=/cam0/saliency_node/rois

Which ROI. The one it follows while that id is still among the ROIs (ids persist while a region stays salient,
so the gimbal does not hop between two regions of similar score), otherwise the best one (the first);
ROIs below ``min_score`` and without a ray are ignored.

The set-point (geometry_msgs/Vector3Stamped, stamped with the ROIs' stamp, frame_id ``gimbal_frame``) holds the
gimbal's pan and tilt in radians, REP 103 angles as in roll/pitch/yaw: ``vector.z`` yaw, positive turns left
(counter-clockwise seen from above); ``vector.y`` pitch, positive tilts down; ``vector.x`` roll, always 0. It
starts at (0, 0) and moves towards the target by the angle between the camera's axis and the target's ray:

* dead band: an axis whose error is within ``dead_band`` radians holds still, so the gimbal does not chase
  the ROI's jitter of a model cell;
* rate limit: an axis moves at most ``max_rate`` radians per second of header stamps since the previous ROIs
  (so the first message only starts the clock), so that a jump of the target is followed smoothly;
* no target: the set-point holds.

The controller assumes the gimbal reaches its set-points (the camera rides on the gimbal, so the error is
measured from where it points now). A real gimbal adds its limits and its own feedback; this example leaves
them out to stay short.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import rclpy
from geometry_msgs.msg import Vector3Stamped
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2

from skd_ros.core.roi_record import records_from_bytes

NODE_NAME = "gimbal_follower"
# a longer pause between ROI messages (a paused bag, a stalled node) allows no bigger step than this
MAX_STEP_INTERVAL_S = 0.5


def angles_to(ray) -> tuple[float, float]:
    """A unit ray in the camera's optical frame (x right, y down, z forward) -> (yaw, pitch) that turn the camera's
    axis onto it: yaw positive to the left, pitch positive down (REP 103)."""
    x, y, z = (float(value) for value in ray)
    return -math.atan2(x, z), math.atan2(y, math.hypot(x, z))


@dataclass
class PanTiltFollower:
    """The control law, ROS-free: ``update`` with each ROI message's records -> the new (yaw, pitch) set-point."""

    dead_band: float
    max_rate: float
    min_score: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    target_id: int | None = None
    _last_stamp_s: float | None = None

    def choose(self, records: np.ndarray):
        """The record to follow: the current target while it is there, else the best usable one (None: none)."""
        # (the rays are NaN while the saliency node has no CameraInfo)
        usable = [r for r in records if r["score"] >= self.min_score and math.isfinite(r["ray_z"])]
        current = [r for r in usable if r["id"] == self.target_id]
        target = (current or usable or [None])[0]
        self.target_id = None if target is None else int(target["id"])
        return target

    def update(self, stamp_s: float, records: np.ndarray) -> tuple[float, float]:
        since_last = 0.0 if self._last_stamp_s is None else stamp_s - self._last_stamp_s
        elapsed = min(max(since_last, 0.0), MAX_STEP_INTERVAL_S)
        self._last_stamp_s = stamp_s
        target = self.choose(records)
        if target is not None:
            yaw_error, pitch_error = angles_to((target["ray_x"], target["ray_y"], target["ray_z"]))
            self.yaw += self._step(yaw_error, elapsed)
            self.pitch += self._step(pitch_error, elapsed)
        return self.yaw, self.pitch

    def _step(self, error: float, elapsed: float) -> float:
        if abs(error) <= self.dead_band:
            return 0.0
        limit = self.max_rate * elapsed
        return min(max(error, -limit), limit)


class GimbalFollower(Node):
    """The ROS shell around ``PanTiltFollower``: parameters, the ROI subscription, the set-point publisher."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self.declare_parameter("dead_band", 0.02)  # rad, about a degree
        self.declare_parameter("max_rate", 1.0)  # rad/s
        self.declare_parameter("min_score", 0.05)  # a ROI's share of the saliency mass
        self.declare_parameter("gimbal_frame", "gimbal")
        self.law = PanTiltFollower(dead_band=0.0, max_rate=0.0)  # the parameters' values come with each message
        self._publisher = self.create_publisher(Vector3Stamped, "gimbal_setpoint", 10)
        self.create_subscription(PointCloud2, "rois", self._on_rois, 10)

    def _on_rois(self, cloud: PointCloud2) -> None:
        try:
            records = records_from_bytes(cloud.data, cloud.point_step)
        except ValueError as exc:  # another layout than this skd_ros's: say so instead of steering by garbage
            self.get_logger().error(f"cannot read the ROIs: {exc}", throttle_duration_sec=5.0)
            return
        law, stamp = self.law, cloud.header.stamp
        # read with every message, so that `ros2 param set` takes effect at once
        law.dead_band, law.max_rate, law.min_score = (
            self.get_parameter(name).value for name in ("dead_band", "max_rate", "min_score")
        )
        yaw, pitch = self.law.update(stamp.sec + stamp.nanosec * 1e-9, records)
        setpoint = Vector3Stamped()
        setpoint.header.stamp = stamp
        setpoint.header.frame_id = self.get_parameter("gimbal_frame").value
        setpoint.vector.y, setpoint.vector.z = pitch, yaw
        self._publisher.publish(setpoint)


def main(args=None) -> int:
    """Console script ``skd-gimbal-example`` / ``ros2 run skd_ros gimbal_follower``."""
    rclpy.init(args=args)
    node = GimbalFollower()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
