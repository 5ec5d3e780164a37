"""The node under test as its own process (``python -m skd_ros.node.saliency_node``, the code this package was
imported from, its output in a log file) and this process's DDS link to it: a publisher of its input, subscribers
of its outputs and /diagnostics, clients of its lifecycle and parameter services, waits bounded by the watchdog."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage as RosCompressedImage
from sensor_msgs.msg import Image as RosImage
from sensor_msgs.msg import PointCloud2

import skd_ros
from skd_ros.node.stream import header_of
from skd_tools.reliability.memory import rss_bytes
from skd_tools.reliability.messages import SECOND, CompressedImage
from skd_tools.reliability.parameters import NODE_RESOLUTION

PACKAGE_ROOT = Path(skd_ros.__file__).resolve().parents[1]  # the node runs the code this driver imported
NODE_PARAMETERS = {
    "backend": "eager", "qos_reliability": "reliable", "diagnostics_period": 0.2, "resolution": NODE_RESOLUTION,
}  # fmt: skip
WATCHDOG_S = 10.0
OUTPUT_TYPES = {"saliency": RosImage, "rois": PointCloud2, "attention": PointStamped}
TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE,
    "cleanup": Transition.TRANSITION_CLEANUP,
    "activate": Transition.TRANSITION_ACTIVATE,
    "deactivate": Transition.TRANSITION_DEACTIVATE,
}


def key_of(message) -> tuple[str, int]:
    """(frame_id, stamp in ns): how an output is matched to the input it answers."""
    stamp_ns, frame_id = header_of(message)
    return frame_id, stamp_ns


def to_ros(message):
    """A ``messages.RawImage`` / ``CompressedImage`` as the rclpy message with the same fields."""
    if isinstance(message, CompressedImage):
        ros = RosCompressedImage(format=message.format)
    else:
        fields = ("height", "width", "encoding", "is_bigendian", "step")
        ros = RosImage(**{name: getattr(message, name) for name in fields})
    ros.data = message.data
    ros.header.stamp.sec, ros.header.stamp.nanosec = message.header.stamp.sec, message.header.stamp.nanosec
    ros.header.frame_id = message.header.frame_id
    return ros


class NodeProcess:
    """The node under test: ``python -m skd_ros.node.saliency_node`` in ``namespace``, its output in a log file."""

    def __init__(self, namespace: str, log_path: Path, compressed: bool):
        parameters = {**NODE_PARAMETERS, "input_compressed": compressed}
        self.command = [sys.executable, "-m", "skd_ros.node.saliency_node", "--ros-args", "-r", f"__ns:={namespace}"]
        for name, value in parameters.items():
            self.command += ["-p", f"{name}:={str(value).lower() if isinstance(value, bool) else value}"]
        self.log_path = log_path
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                self.command, cwd=PACKAGE_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss(self) -> int:
        """Resident memory in bytes; 0 once the process is gone."""
        try:
            return rss_bytes(self.pid)
        except (OSError, KeyError):
            return 0

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT, as Ctrl-C; the exit code (killed after ``timeout``: -9)."""
        if self.alive():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class NodeLink:
    """This process's side of the link to the node: a publisher of its input, subscribers of its outputs and
    /diagnostics, and clients of its lifecycle and parameter services, spun in a background thread."""

    def __init__(self, context, namespace: str, compressed: bool):
        self.fqn = f"{namespace}/saliency_node"
        self.context = context
        self.node = rclpy.create_node(f"skd_reliability_{os.getpid()}", context=context)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
        topic = f"{namespace}/image" + ("/compressed" if compressed else "")
        self.publisher = self.node.create_publisher(RosCompressedImage if compressed else RosImage, topic, qos)
        self._cond = threading.Condition()
        self.outputs: Counter = Counter()  # (output, frame_id, stamp_ns) -> messages received
        self.saliency_shapes: dict[tuple[str, int], tuple[str, int, int]] = {}  # key -> (encoding, width, height)
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_received = 0
        for name, msg_type in OUTPUT_TYPES.items():
            self.node.create_subscription(msg_type, f"{self.fqn}/{name}", functools.partial(self._record, name), qos)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._record_diagnostics, 50)
        self._change_state = self.node.create_client(ChangeState, f"{self.fqn}/change_state")
        self._get_state = self.node.create_client(GetState, f"{self.fqn}/get_state")
        self._set_parameters = self.node.create_client(SetParameters, f"{self.fqn}/set_parameters")
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, name="skd_reliability_spin", daemon=True)
        self._thread.start()

    def _record(self, name: str, msg) -> None:
        key = (msg.header.frame_id, msg.header.stamp.sec * SECOND + msg.header.stamp.nanosec)
        with self._cond:
            self.outputs[(name, *key)] += 1
            if name == "saliency":
                self.saliency_shapes[key] = (msg.encoding, msg.width, msg.height)
            self._cond.notify_all()

    def _record_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name == f"{self.fqn}: saliency":
                with self._cond:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}
                    self.diagnostics_received += 1
                    self._cond.notify_all()

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=5.0)
        self._thread.join(5.0)
        self.node.destroy_node()

    def connected(self) -> bool:
        return self.publisher.get_subscription_count() > 0

    def publish(self, message) -> None:
        self.publisher.publish(to_ros(message))

    def answers(self, key: tuple[str, int]) -> int:
        with self._cond:
            return self.outputs[("saliency", *key)]

    def wait_for_answer(self, key: tuple[str, int], count: int = 1, timeout: float = WATCHDOG_S) -> bool:
        """Whether ``~/saliency`` answered ``key`` ``count`` times within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: self.outputs[("saliency", *key)] >= count, timeout)

    def fresh_diagnostics(self, timeout: float = WATCHDOG_S) -> dict[str, str] | None:
        """The values of a /diagnostics message the node sent after everything it published so far (the
        second one to arrive from now: the first may have been on its way already)."""
        with self._cond:
            wanted = self.diagnostics_received + 2
            if not self._cond.wait_for(lambda: self.diagnostics_received >= wanted, timeout):
                return None
            return dict(self.diagnostics)

    def _call(self, client, request, timeout: float):
        """The service's response, or None when it did not come within ``timeout``."""
        if not client.wait_for_service(timeout_sec=timeout):
            return None
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        return future.result() if done.wait(timeout) else None

    def change_state(self, transition: str, timeout: float = WATCHDOG_S) -> bool | None:
        request = ChangeState.Request(transition=Transition(id=TRANSITIONS[transition]))
        response = self._call(self._change_state, request, timeout)
        return None if response is None else response.success

    def state(self, timeout: float = WATCHDOG_S) -> str | None:
        response = self._call(self._get_state, GetState.Request(), timeout)
        return None if response is None else response.current_state.label

    def set_parameter(self, name: str, value, timeout: float = WATCHDOG_S):
        """The node's SetParametersResult for one parameter, or None on timeout."""
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        response = self._call(self._set_parameters, request, timeout)
        return None if response is None else response.results[0]
