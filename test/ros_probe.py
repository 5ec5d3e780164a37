"""A test-side rclpy node that talks to the saliency node over DDS (``Probe``), for the ROS tests."""

from __future__ import annotations

import itertools
import os
import threading
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Log
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from skd_ros.node.messages import OUTPUT_TYPES

_probes = itertools.count()


class Recorder:
    """A test-side rclpy node named ``prefix_<pid>_<n>`` whose subscription callbacks record under ``_cond``;
    ``spin_in_background`` spins it, ``_wait`` blocks until something recorded is found."""

    def __init__(self, context, prefix: str):
        self.context = context
        self.node = rclpy.create_node(f"{prefix}_{os.getpid()}_{next(_probes)}", context=context)
        self._cond = threading.Condition()
        self._executor = None
        self._thread = None

    def spin_in_background(self, *nodes):
        """Spin this node (and ``nodes``, e.g. a saliency node in this process) in a background thread."""
        self._executor = SingleThreadedExecutor(context=self.context)
        for node in (self.node, *nodes):
            self._executor.add_node(node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def _wait(self, find, timeout: float, what):
        """``find()`` (called under the lock) once it returns something other than None; ``what()`` says what
        was looked for (and what was there) when nothing is found in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (found := find()) is None:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {what()} within {timeout} s"
                self._cond.wait(remaining)
            return found

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(timeout_sec=5.0)
            self._thread.join(5.0)
        self.node.destroy_node()


class Probe(Recorder):
    """A test-side rclpy node: publishes frames (and CameraInfo beside them) to a saliency node, records what it
    publishes, and calls its lifecycle and parameter services. Call ``spin_in_background`` (or add ``node`` to a
    running executor). ``overlay``, ``markers``: subscribe to those outputs too (the node builds them only then)."""

    OUTPUTS = tuple(OUTPUT_TYPES)

    def __init__(self, context, node_fqn: str, image_topic: str, overlay: bool = False, markers: bool = False):
        super().__init__(context, "probe")
        self.node_fqn = node_fqn
        self.messages: dict[str, list] = {name: [] for name in (*self.OUTPUTS, "diagnostics")}
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        best_effort = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
        wanted = {"overlay": overlay, "markers": markers}
        for name, msg_type in OUTPUT_TYPES.items():
            if wanted.get(name, True):
                self.node.create_subscription(msg_type, f"{node_fqn}/{name}", self._recorder(name), reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._record_diagnostics, 50)
        self.image_publishers = {
            "reliable": self.node.create_publisher(Image, image_topic, reliable),
            "best_effort": self.node.create_publisher(Image, image_topic, best_effort),
        }
        self.compressed_publisher = self.node.create_publisher(CompressedImage, f"{image_topic}/compressed", reliable)
        camera_info_topic = f"{image_topic.rsplit('/', 1)[0]}/camera_info"  # beside the image
        self.camera_info_publisher = self.node.create_publisher(CameraInfo, camera_info_topic, reliable)
        self._change_state = self.node.create_client(ChangeState, f"{node_fqn}/change_state")
        self._get_state = self.node.create_client(GetState, f"{node_fqn}/get_state")
        self._set_parameters = self.node.create_client(SetParameters, f"{node_fqn}/set_parameters")

    def _recorder(self, name):
        def record(msg):
            with self._cond:
                self.messages[name].append(msg)
                self._cond.notify_all()

        return record

    def _record_diagnostics(self, msg):
        if any(status.name.startswith(f"{self.node_fqn}:") for status in msg.status):
            self._recorder("diagnostics")(msg)

    # publishing

    def publish(self, msg, reliability: str = "reliable") -> None:
        if hasattr(msg, "format"):
            self.compressed_publisher.publish(msg)
        else:
            self.image_publishers[reliability].publish(msg)

    def wait_for_subscriber(self, timeout: float = 10.0, compressed: bool = False) -> None:
        publisher = self.compressed_publisher if compressed else self.image_publishers["reliable"]
        deadline = time.monotonic() + timeout
        while publisher.get_subscription_count() == 0:
            assert time.monotonic() < deadline, f"nothing subscribed to {publisher.topic_name} within {timeout} s"
            time.sleep(0.02)

    def wait_for(self, name: str, predicate=lambda msg: True, timeout: float = 10.0):
        """The first recorded message on output ``name`` that satisfies ``predicate``."""
        return self._wait(
            lambda: next((msg for msg in self.messages[name] if predicate(msg)), None),
            timeout,
            lambda: f"matching message on {self.node_fqn}/{name}",
        )

    def exchange(self, msg, reliability: str = "reliable", timeout: float = 10.0, resend_every: float = 1.0):
        """Publish ``msg`` until the node answers it (a ``~/saliency`` with its stamp and frame_id; resending
        covers the moment a new subscription is still being matched) -> that answer."""
        deadline = time.monotonic() + timeout
        while True:
            self.publish(msg, reliability)
            try:
                return self.wait_for("saliency", lambda out: same_header(out.header, msg.header), resend_every)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def outputs_for(self, header, timeout: float = 10.0) -> dict:
        """The saliency, rois and attention messages stamped with ``header``."""
        return {
            name: self.wait_for(name, lambda out: same_header(out.header, header), timeout)
            for name in ("saliency", "rois", "attention")
        }

    # services

    def _call(self, client, request, timeout: float = 10.0):
        assert client.wait_for_service(timeout_sec=timeout), f"service {client.srv_name} is not available"
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done():
            assert time.monotonic() < deadline, f"no answer from {client.srv_name} within {timeout} s"
            time.sleep(0.01)
        return future.result()

    def change_state(self, transition_id: int, timeout: float = 60.0) -> bool:
        """A lifecycle transition; configure and activate load the model and race the inference engines,
        which takes seconds, and tens of seconds on a loaded machine."""
        request = ChangeState.Request(transition=Transition(id=transition_id))
        return self._call(self._change_state, request, timeout).success

    def state(self) -> str:
        return self._call(self._get_state, GetState.Request()).current_state.label

    def set_parameters(self, **values):
        """Set parameters over the node's service -> list of SetParametersResult."""
        parameters = [Parameter(name, value=value).to_parameter_msg() for name, value in values.items()]
        request = SetParameters.Request(parameters=parameters)
        return self._call(self._set_parameters, request).results

    # messages

    @staticmethod
    def image_msg(pixels: np.ndarray, stamp_ns: int, frame_id: str, encoding: str = "bgr8") -> Image:
        """A sensor_msgs/Image holding ``pixels`` (H x W x C or H x W), rows packed."""
        msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, step=pixels.strides[0])
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        msg.header.frame_id = frame_id
        msg.data = np.ascontiguousarray(pixels).tobytes()
        return msg

    @staticmethod
    def compressed_msg(data: bytes, stamp_ns: int, frame_id: str, fmt: str = "jpeg") -> CompressedImage:
        msg = CompressedImage(format=fmt)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        msg.header.frame_id = frame_id
        msg.data = data
        return msg


def same_header(a, b) -> bool:
    return a.frame_id == b.frame_id and a.stamp.sec == b.stamp.sec and a.stamp.nanosec == b.stamp.nanosec


class RosoutLog(Recorder):
    """The log lines of every node in ``context``, read from /rosout rather than from the process's stderr: a
    capture of stderr (pytest's capfd) that is read while another thread writes can lose that write, and the
    node logs from its executor and worker threads. Transient-local, like rcl's /rosout publishers, so lines
    logged before this reader existed (a node's constructor) still arrive. Spins itself."""

    LEVELS = {Log.DEBUG: "DEBUG", Log.INFO: "INFO", Log.WARN: "WARN", Log.ERROR: "ERROR", Log.FATAL: "FATAL"}

    def __init__(self, context):
        super().__init__(context, "rosout_reader")
        self.lines: list[str] = []
        reliability, durability = ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL
        qos = QoSProfile(depth=1000, reliability=reliability, durability=durability)
        self.node.create_subscription(Log, "/rosout", self._record, qos)
        self.spin_in_background()

    def _record(self, msg) -> None:
        with self._cond:
            self.lines.append(f"[{self.LEVELS.get(msg.level, msg.level)}] [{msg.name}]: {msg.msg}")
            self._cond.notify_all()

    def wait_for(self, *words, timeout: float = 10.0) -> str:
        """The first line holding all of ``words``."""
        return self._wait(
            lambda: next((line for line in self.lines if all(word in line for word in words)), None),
            timeout,
            lambda: f"/rosout line with {words} in:\n" + "\n".join(self.lines) + "\n",
        )
