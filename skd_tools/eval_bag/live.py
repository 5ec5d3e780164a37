"""The live evaluation of a bag: the node started as its own process with the offline run's
configuration, the bag's image messages replayed to it over DDS at the recorded rate, its outputs
recorded into a second bag, and latency, drops and the agreement of its outputs with the offline ones."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from skd_ros.core.checkpoint import resolve_weights
from skd_ros.core.roi_record import MAP_FIELDS
from skd_ros.runtime import SaliencyEstimator
from skd_tools.bags import OutputTopics, SaliencyBagWriter, records_from_cloud, saliency_from_msg
from skd_tools.eval_bag.offline import EvalSettings, OfflineRun, default_output, spread, storage_of
from skd_training.data.rosbag import COMPRESSED_IMAGE_TYPE, IMAGE_TYPE, TYPESTORE, BagReader, stamp_to_ns

MONO8_STEP = 1.0 / 255.0  # one grey level of a mono8 map: the default tolerance of live against offline
LATENCY_NOTE = (
    "receive time of ~/saliency minus publish time of its input image, both on this process's monotonic "
    "clock; node and evaluator run on the same host, so this includes DDS transport both ways"
)
AGREEMENT_NOTE = (
    "live and offline agree when every answered frame's saliency map and peak value are within the tolerance; "
    "the peak point and the ROI boxes are derived from the map and may move between cells whose values differ by "
    "less than that (float rounding of another inference backend), so they are counted but not required"
)


def node_command(settings: EvalSettings, estimator: SaliencyEstimator, input_topic: str, compressed: bool) -> list:
    """The node started as ``python -m skd_ros.node.saliency_node`` with the offline run's configuration."""
    params = {
        "resolution": estimator.resolution,
        "backend": estimator.backend.name,  # the engine the offline run used, not a separately raced one
        "device": settings.device,
        "input_compressed": compressed,
        "qos_reliability": "reliable",
        # the node's outputs are reliable, keep last qos_depth: a deep history keeps every output until the
        # evaluator has taken it, so a busy machine delays the comparison instead of dropping outputs from it
        "qos_depth": 100,
        "saliency_encoding": settings.saliency_encoding,
        "saliency_full_size": settings.saliency_full_size,
        "max_rois": settings.roi_params.max_rois,
        "roi_peak_floor": settings.roi_params.peak_floor,
        "roi_threshold": settings.roi_params.rel_threshold,
        "roi_min_contrast": settings.roi_params.min_contrast,
        "roi_merge_radius": settings.roi_params.merge_radius,
        "roi_min_score": settings.roi_params.min_score,
    }
    command = [sys.executable, "-m", "skd_ros.node.saliency_node", "--ros-args", "-r", f"__node:={settings.node_name}"]
    command += ["-r", f"image:={input_topic}"]
    if settings.weights:
        # a path the node finds from any working directory (a shipped file's bare name included)
        params["weights"] = str(resolve_weights(settings.weights).resolve())
    for name, value in params.items():
        command += ["-p", f"{name}:={str(value).lower() if isinstance(value, bool) else value}"]
    return command


@dataclass
class Received:
    """Outputs received from the node: per topic, (receive time on the monotonic clock ns, wall
    clock ns, CDR bytes) in arrival order."""

    by_topic: dict[str, list[tuple[int, int, bytes]]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_ns: int = 0

    def callback(self, topic: str):
        def store(data: bytes) -> None:
            now = time.monotonic_ns()
            with self.lock:
                self.by_topic[topic].append((now, time.time_ns(), data))
                self.last_ns = now

        return store

    def count(self, topic: str) -> int:
        with self.lock:
            return len(self.by_topic[topic])


def _node_log_tail(path: Path, lines: int = 20) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return "\n".join(text[-lines:]) or "(no output)"


def _stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # the node shuts down cleanly on SIGINT
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def evaluate_live(
    bag: str | Path,
    image_topic: str,
    offline: OfflineRun,
    estimator: SaliencyEstimator,
    settings: EvalSettings = EvalSettings(),
    out: str | Path | None = None,
    rate: float = 1.0,
    domain_id: int | None = None,
    tolerance: float = MONO8_STEP,
    startup_timeout: float = 120.0,
    drain_timeout: float = 5.0,
    progress: bool = True,
) -> dict:
    """Replay ``image_topic`` to a freshly started node and compare its outputs with ``offline``
    (which must have been run with ``keep_outputs``). Returns the live section of the summary.

    rate: replay speed relative to the recorded rate (2 = twice as fast; 0 = as fast as possible).
    domain_id: ROS_DOMAIN_ID for the node and this process (None: the environment's). tolerance:
    largest allowed |live - offline| on a saliency map in [0, 1] (default one mono8 step, 1/255)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    if rate < 0:
        raise ValueError(f"rate must be >= 0 (0 = as fast as possible), got {rate}")
    if not offline.outputs:
        raise ValueError("the offline run kept no outputs to compare with: run evaluate_offline with keep_outputs")
    bag = Path(bag)
    out = Path(out) if out else default_output(bag, "saliency_live")
    if out.exists():
        raise FileExistsError(f"output bag {out} exists already; choose another path or remove it")
    topics = settings.topics
    tag = f"skd_eval_{os.getpid()}"
    settings = dataclasses.replace(settings, node_name=f"{settings.node_name}_{tag}")
    node_topics = settings.topics
    input_topic = f"/{tag}/image"

    with BagReader(bag) as reader:
        reader.check_topic(image_topic)
        compressed = reader.topics[image_topic][0] == COMPRESSED_IMAGE_TYPE
        inputs = list(reader.image_cdr(image_topic))
    if not inputs:
        raise ValueError(f"topic {image_topic!r} in bag {bag} has no messages to replay")
    if len(inputs) != len(offline.outputs):
        raise ValueError(f"the offline run covered {len(offline.outputs)} images, the bag has {len(inputs)}")
    keys = []
    for _, raw in inputs:
        header = TYPESTORE.deserialize_cdr(raw, COMPRESSED_IMAGE_TYPE if compressed else IMAGE_TYPE).header
        keys.append((header.frame_id, stamp_to_ns(header.stamp)))

    env = dict(os.environ)
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    command = node_command(settings, estimator, input_topic, compressed)
    node_log = out.with_name(f"{out.name}_node.log")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    received = Received()
    publish_ns = [0] * len(inputs)
    with node_log.open("w") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    executor = SingleThreadedExecutor(context=context)
    spinner = threading.Thread(target=executor.spin, name="skd_eval_spin", daemon=True)
    try:
        node = rclpy.create_node(f"{tag}_replay", context=context)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=len(inputs) + 10,  # keep every output until taken: the evaluator must not be the one dropping
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.VOLATILE,
        )
        message_type = CompressedImage if compressed else Image
        publisher = node.create_publisher(message_type, input_topic + ("/compressed" if compressed else ""), qos)
        subscriptions = [
            node.create_subscription(msg_type, topic, received.callback(topic), qos, raw=True)
            for msg_type, topic in _output_types(node_topics)
        ]
        executor.add_node(node)
        spinner.start()
        deadline = time.monotonic() + startup_timeout
        while publisher.get_subscription_count() < 1 or any(s.get_publisher_count() < 1 for s in subscriptions):
            if process.poll() is not None:
                raise RuntimeError(
                    f"the node exited with code {process.returncode} before connecting:\n{_node_log_tail(node_log)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the node did not connect within {startup_timeout:g} s:\n{_node_log_tail(node_log)}"
                )
            time.sleep(0.05)

        started_ns = time.monotonic_ns()
        first_log = inputs[0][0]
        for index, (log_time, raw) in enumerate(tqdm(inputs, desc="live replay", unit="frame", disable=not progress)):
            if rate > 0:
                due_ns = started_ns + int((log_time - first_log) / rate)
                wait_s = (due_ns - time.monotonic_ns()) / 1e9
                if wait_s > 0:
                    time.sleep(wait_s)
            publish_ns[index] = time.monotonic_ns()
            publisher.publish(raw)
        saliency_topic = node_topics.saliency
        while received.count(saliency_topic) < len(inputs):
            idle_s = (time.monotonic_ns() - max(received.last_ns, publish_ns[-1])) / 1e9
            if idle_s > drain_timeout or process.poll() is not None:
                break
            time.sleep(0.02)
    finally:
        _stop_process(process)
        executor.shutdown()
        rclpy.try_shutdown(context=context)
        if spinner.ident is not None:
            spinner.join(5.0)

    live = _compare(offline, received, node_topics, keys, publish_ns, tolerance)
    with SaliencyBagWriter(out, topics, storage_of(bag), settings.saliency_encoding) as writer:
        renamed = {node_topics.saliency: topics.saliency, node_topics.rois: topics.rois}
        renamed[node_topics.attention] = topics.attention
        writer.write_serialized(
            (renamed[topic], wall_ns, data)
            for topic, entries in received.by_topic.items()
            for _, wall_ns, data in entries
        )
    live.update(
        output_bag=str(out),
        node_command=" ".join(command),
        node_log=str(node_log),
        node_exit_code=process.returncode,
        domain_id=env.get("ROS_DOMAIN_ID", "0 (default)"),
        rate=rate,
        latency_note=LATENCY_NOTE,
    )
    return live


def _output_types(topics: OutputTopics):
    from geometry_msgs.msg import PointStamped
    from sensor_msgs.msg import Image, PointCloud2

    return ((Image, topics.saliency), (PointCloud2, topics.rois), (PointStamped, topics.attention))


def _match(entries: list[tuple[int, int, bytes]], msgtype: str, keys: list, publish_ns: list) -> tuple[dict, int]:
    """Received outputs -> {input index: (receive ns, message)}, and the count of outputs that match
    no input. An output belongs to the input with its header (frame_id, stamp) published last before
    it arrived: a looping bag repeats stamps, and the node may skip frames."""
    inputs_by_key = defaultdict(list)
    for index, (key, sent_ns) in enumerate(zip(keys, publish_ns, strict=True)):
        inputs_by_key[key].append((sent_ns, index))
    matched, unexpected = {}, 0
    for receive_ns, _, data in entries:
        msg = TYPESTORE.deserialize_cdr(data, msgtype)
        key = (msg.header.frame_id, stamp_to_ns(msg.header.stamp))
        candidates = [(sent, i) for sent, i in inputs_by_key.get(key, ()) if sent <= receive_ns and i not in matched]
        if candidates:
            matched[max(candidates)[1]] = (receive_ns, msg)
        else:
            unexpected += 1
    return matched, unexpected


def _compare(offline: OfflineRun, received: Received, topics: OutputTopics, keys, publish_ns, tolerance) -> dict:
    saliency, unexpected = _match(received.by_topic[topics.saliency], IMAGE_TYPE, keys, publish_ns)
    rois, _ = _match(received.by_topic[topics.rois], "sensor_msgs/msg/PointCloud2", keys, publish_ns)
    attention, _ = _match(received.by_topic[topics.attention], "geometry_msgs/msg/PointStamped", keys, publish_ns)
    latencies, differences, dropped, latency_log = [], [], [], []
    rois_equal = same_peak = peak_value_within = peaks_checked = rejected = 0
    for index, ((frame_id, stamp_ns), sent_ns) in enumerate(zip(keys, publish_ns, strict=True)):
        expected = offline.outputs[index]
        if expected is None:  # the node rejects this image (bad encoding or size), offline and live alike
            rejected += 1
            continue
        if index not in saliency:
            dropped.append({"index": index, "frame_id": frame_id, "stamp_ns": stamp_ns})
            continue
        receive_ns, msg = saliency[index]
        latencies.append((receive_ns - sent_ns) / 1e9)
        latency_log.append({"index": index, "stamp_ns": stamp_ns, "latency_ms": latencies[-1] * 1e3})
        expected_map, expected_records, expected_peak = expected
        live_map = saliency_from_msg(msg)
        differences.append(
            float(np.abs(live_map - expected_map).max()) if live_map.shape == expected_map.shape else float("inf")
        )
        if index in rois:
            records = records_from_cloud(rois[index][1])
            # the fields the map decides: ids depend on the frames the node skipped, rays on its CameraInfo
            rois_equal += records.shape == expected_records.shape and all(
                np.allclose(records[name], expected_records[name], atol=1e-3) for name in MAP_FIELDS
            )
        if index in attention:
            peaks_checked += 1
            point = attention[index][1].point
            same_peak += bool(np.allclose((point.x, point.y), expected_peak[:2], atol=1e-3))
            peak_value_within += abs(point.z - expected_peak[2]) <= tolerance
    matched = len(differences)
    within = sum(d <= tolerance for d in differences)
    return {
        "frames_published": len(keys),
        "outputs_received": {topic: len(entries) for topic, entries in received.by_topic.items()},
        "frames_matched": matched,
        "frames_dropped": len(dropped),
        "frames_rejected": rejected,
        "dropped": dropped,
        "unexpected_outputs": unexpected,
        "latency": spread(latencies) | {"max_ms": max(latencies) * 1e3 if latencies else float("nan")},
        "agreement": {
            "tolerance": tolerance,
            "max_abs_diff": max(differences) if differences else float("nan"),
            "frames_within_tolerance": within,
            "peak_value_within_tolerance": peak_value_within,
            "peaks_checked": peaks_checked,
            "same_peak_point": same_peak,
            "rois_equal": rois_equal,
            "agree": matched > 0 and within == matched and peak_value_within == peaks_checked,
            "note": AGREEMENT_NOTE,
        },
        "per_frame": latency_log,
    }
