"""skd-eval-bag: evaluate the saliency node on a recorded rosbag2, offline and live.

Offline: every message of ``--image-topic`` goes through the node's own processing path --
``skd_ros.node.stream.LiveSaliency`` (the node's image decoding) around ``skd_ros.runtime.SaliencyPipeline``
(the same estimator, ROI extraction, frame pairing and buffer resets on a frame_id change or time
going backwards) -- and the node's outputs (saliency, rois, attention, built by the same
``skd_ros.node.outputs.frame_outputs``) are written to a new bag, stamped like the inputs: the input's header
stamp and frame_id, recorded at the input's record time. With ground-truth maps in the bag
(``--gt-topic`` density maps, ``--fixation-topic`` binary fixation maps, matched to the images by
header stamp) the metrics of ``skd_training.metrics`` are computed per frame and averaged.

Live (``--live``): the node (``python -m skd_ros.node.saliency_node``) runs as a separate process with the same
weights, resolution, backend and ROI parameters and reliable input QoS; the bag's image messages are
published to it over DDS, byte for byte as recorded, at the recorded rate (``--rate`` multiplier;
0 = as fast as possible); its outputs are recorded into a second bag, and the report gives
end-to-end latency (p50/p99: receive time minus publish time, both taken in this process, so node
and evaluator share one clock), dropped frames (inputs without an output) and the agreement of the
node's maps with the offline ones.

A bag that fails part-way still gives an output bag (closed properly) and a summary of what was done.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from skd_ros.core.image_codec import ImageDecodeError
from skd_ros.core.postprocess import ROIParams
from skd_ros.node.outputs import frame_outputs
from skd_ros.node.stream import LiveSaliency
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline
from skd_tools.bags import OutputTopics, SaliencyBagWriter, records_from_cloud, saliency_from_msg
from skd_training import metrics
from skd_training.data.rosbag import (
    COMPRESSED_IMAGE_TYPE,
    IMAGE_TYPE,
    TYPESTORE,
    BagError,
    BagReader,
    as_map,
    decode_image,
    stamp_to_ns,
)

DEFAULT_NODE_NAME = "saliency_node"  # skd_ros.node.saliency_node.NODE_NAME (not imported: offline runs need no rclpy)
STAGES = ("read", "decode", "preprocess", "inference", "postprocess", "write")
MONO8_STEP = 1.0 / 255.0
NOT_COMPUTED_SAUC = "needs fixations of other videos as negatives; a single bag has none"
LATENCY_NOTE = (
    "receive time of ~/saliency minus publish time of its input image, both on this process's monotonic "
    "clock; node and evaluator run on the same host, so this includes DDS transport both ways"
)

AGREEMENT_NOTE = (
    "live and offline agree when every answered frame's saliency map and peak value are within the tolerance; "
    "the peak point and the ROI boxes are derived from the map and may move between cells whose values differ by "
    "less than that (float rounding of another inference backend), so they are counted but not required"
)


def spread(values_s: list[float]) -> dict[str, float]:
    """Mean, median and 99th percentile of durations given in seconds, in milliseconds."""
    if not values_s:
        return {"mean_ms": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan")}
    ms = np.asarray(values_s, dtype=np.float64) * 1e3
    return {"mean_ms": float(ms.mean()), "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def storage_of(bag: Path) -> str:
    """The storage plugin of an input bag, so that the output bag uses the same one."""
    if bag.suffix == ".mcap" or (bag.is_dir() and any(bag.glob("*.mcap*"))):
        return "mcap"
    return "sqlite3"


def default_output(bag: Path, suffix: str = "saliency") -> Path:
    return bag.with_name(f"{bag.stem if bag.is_file() else bag.name}_{suffix}")


def published_map(pixels: np.ndarray) -> np.ndarray:
    """Saliency pixels as published (uint8 or float32) -> float32 map in [0, 1], as a consumer reads it."""
    return pixels.astype(np.float32) / 255.0 if pixels.dtype == np.uint8 else pixels.astype(np.float32)


@dataclass(frozen=True)
class EvalSettings:
    """What both the offline core and the live node are configured with."""

    weights: str | None = None
    resolution: int | None = None
    device: str = "auto"
    backend: str = "auto"
    roi_params: ROIParams = ROIParams()
    saliency_encoding: str = "mono8"
    saliency_full_size: bool = False
    node_name: str = DEFAULT_NODE_NAME

    @property
    def topics(self) -> OutputTopics:
        return OutputTopics.for_node(self.node_name)


class GroundTruthScorer:
    """Pairs predictions with ground-truth maps by header stamp, in whatever order they arrive in the
    bag, and scores each complete pair with ``skd_training.metrics`` (seeded, so runs repeat)."""

    def __init__(self, density: bool, fixations: bool, seed: int = 0):
        self.wanted = [kind for kind, on in (("density", density), ("fixations", fixations)) if on]
        self.pending: dict[int, dict[str, np.ndarray]] = defaultdict(dict)
        self.scores: dict[str, list[float]] = defaultdict(list)
        self.per_frame: list[dict] = []
        self.unreadable = 0
        self.rng = np.random.default_rng(seed)

    def add(self, stamp_ns: int, kind: str, array: np.ndarray) -> None:
        entry = self.pending[stamp_ns]
        entry[kind] = array
        if "prediction" in entry and all(k in entry for k in self.wanted):
            self._score(stamp_ns, self.pending.pop(stamp_ns))

    def _score(self, stamp_ns: int, entry: dict[str, np.ndarray]) -> None:
        m, sal = metrics, entry["prediction"]
        scores = {}
        if "density" in entry:
            den = entry["density"]
            scores.update(CC=m.cc(sal, den), SIM=m.sim(sal, den), KLD=m.kld(sal, den))
        if "fixations" in entry:
            fix = entry["fixations"]
            scores.update(NSS=m.nss(sal, fix), AUC=m.auc_judd(sal, fix, rng=self.rng))
        for name, value in scores.items():
            if np.isfinite(value):  # NaN: a ground truth without fixations, unscorable (see metrics)
                self.scores[name].append(value)
        self.per_frame.append({"stamp_ns": stamp_ns, **scores})

    def summary(self) -> dict:
        unmatched_predictions = sum(1 for e in self.pending.values() if "prediction" in e)
        not_computed = {"sAUC": NOT_COMPUTED_SAUC}
        if "fixations" not in self.wanted:
            not_computed.update(NSS="needs --fixation-topic", AUC="needs --fixation-topic")
        if "density" not in self.wanted:
            not_computed.update({name: "needs --gt-topic" for name in ("CC", "SIM", "KLD")})
        return {
            "frames_scored": len(self.per_frame),
            "frames_without_ground_truth": unmatched_predictions,
            "ground_truth_without_frame": len(self.pending) - unmatched_predictions,
            "ground_truth_unreadable": self.unreadable,
            "mean": {name: float(np.mean(values)) for name, values in sorted(self.scores.items())},
            "unscorable": {
                name: len(self.per_frame) - len(values)
                for name, values in sorted(self.scores.items())
                if len(values) < len(self.per_frame)
            },
            "not_computed": not_computed,
            "per_frame": self.per_frame,
        }


@dataclass
class OfflineRun:
    """The outcome of ``evaluate_offline``. ``outputs``: per image message in record order, (published
    saliency map as float32, ROI records, attention (x, y, value)) -- what the node should publish
    for it -- or None for an image the node rejects; kept for the live comparison. ``frame_log``: per
    processed frame, its stamp and times."""

    summary: dict
    outputs: list[tuple[np.ndarray, np.ndarray, tuple[float, float, float]] | None] = field(default_factory=list)
    frame_log: list[dict] = field(default_factory=list)


def check_inputs(bag: Path, image_topic: str, ground_truth_topics: list[str], outputs: list[Path]) -> None:
    """Fail fast (BagError listing the topics, FileExistsError) before any work is done."""
    for out in outputs:
        if out.exists():
            raise FileExistsError(f"output bag {out} exists already; choose another path or remove it")
    with BagReader(bag) as reader:
        _check_topics(reader, image_topic, ground_truth_topics)


def _check_topics(reader: BagReader, image_topic: str, ground_truth_topics) -> None:
    for topic in (image_topic, *ground_truth_topics):
        reader.check_topic(topic)  # Image or CompressedImage (ground truth as lossless PNG works too)


def make_estimator(settings: EvalSettings) -> SaliencyEstimator:
    return SaliencyEstimator(settings.weights, settings.resolution, settings.device, backend=settings.backend)


def evaluate_offline(
    bag: str | Path,
    image_topic: str,
    estimator: SaliencyEstimator,
    settings: EvalSettings = EvalSettings(),
    out: str | Path | None = None,
    gt_topic: str | None = None,
    fixation_topic: str | None = None,
    storage: str | None = None,
    keep_outputs: bool = False,
    progress: bool = True,
) -> OfflineRun:
    """Run the node's processing over every message of ``image_topic`` and write its outputs to
    ``out`` (default: ``<bag>_saliency`` beside the input).

    Raises BagError when the bag cannot be opened or lacks a topic, FileExistsError when ``out``
    exists (nothing is written then). A failure part-way is not raised: the output bag keeps the
    frames done so far and the summary says ``complete: false`` with the error. Image messages the
    node would reject (bad encoding or size) are skipped and counted, as the node does."""
    bag = Path(bag)
    out = Path(out) if out else default_output(bag)
    topics = settings.topics
    pipeline = SaliencyPipeline(estimator, settings.roi_params)
    gt_kinds = {topic: kind for topic, kind in ((gt_topic, "density"), (fixation_topic, "fixations")) if topic}
    durations: dict[str, list[float]] = {stage: [] for stage in STAGES}
    run = OfflineRun(summary={})
    frame_ids, sizes, rejected = set(), set(), Counter()
    error, interrupted = None, False
    frames = paired = roi_count = frames_with_rois = 0
    weights_label = settings.weights or ("untrained" if estimator.untrained else "shipped")
    started = time.perf_counter()
    with BagReader(bag) as reader:
        _check_topics(reader, image_topic, gt_kinds)
        total = reader.count(image_topic)
        live = LiveSaliency(pipeline, compressed=reader.topics[image_topic][0] == COMPRESSED_IMAGE_TYPE)
        scorer = GroundTruthScorer(gt_topic is not None, fixation_topic is not None) if gt_kinds else None
        provenance = {
            "skd_ros.input_bag": str(bag),
            "skd_ros.image_topic": image_topic,
            "skd_ros.weights": weights_label,
            "skd_ros.resolution": str(estimator.resolution),
        }
        with SaliencyBagWriter(
            out,
            topics,
            storage or storage_of(bag),
            settings.saliency_encoding,
            settings.saliency_full_size,
            custom_data=provenance,
        ) as writer:
            messages = reader.messages([image_topic, *gt_kinds])
            bar = tqdm(total=total, desc=f"offline {image_topic}", unit="frame", disable=not progress)
            previous = None
            try:
                while True:
                    t0 = time.perf_counter()
                    try:
                        topic, log_time, msg = next(messages)
                    except StopIteration:
                        break
                    t1 = time.perf_counter()
                    stamp_ns, frame_id = stamp_to_ns(msg.header.stamp), msg.header.frame_id
                    if topic != image_topic:
                        try:
                            scorer.add(stamp_ns, gt_kinds[topic], as_map(decode_image(msg, color=None)))
                        except ValueError:
                            scorer.unreadable += 1
                        continue
                    bar.update()
                    try:
                        result, _ = live.run(msg, previous)
                    except ImageDecodeError as exc:
                        rejected[exc.kind] += 1
                        if keep_outputs:
                            run.outputs.append(None)
                        continue
                    finally:
                        previous = msg
                    t2 = time.perf_counter()
                    writer.write(result, stamp_ns, frame_id, log_time)
                    t3 = time.perf_counter()
                    durations["read"].append(t1 - t0)
                    durations["decode"].append(t2 - t1 - sum(result.timings.values()))
                    for stage, seconds in result.timings.items():
                        durations[stage].append(seconds)
                    durations["write"].append(t3 - t2)
                    run.frame_log.append({"stamp_ns": stamp_ns, "processing_s": t2 - t1, **result.timings})
                    if keep_outputs:
                        outputs = frame_outputs(result, settings.saliency_encoding, settings.saliency_full_size)
                        attention = (outputs.peak.x, outputs.peak.y, outputs.peak.value)
                        run.outputs.append((published_map(outputs.saliency), outputs.rois, attention))
                    if scorer:
                        scorer.add(stamp_ns, "prediction", result.saliency)
                    frames += 1
                    paired += result.paired_with_previous
                    roi_count += len(result.rois)
                    frames_with_rois += bool(result.rois)
                    frame_ids.add(frame_id)
                    sizes.add(f"{result.source_width}x{result.source_height}")
            except BagError as exc:
                error = str(exc)
            except KeyboardInterrupt:
                interrupted, error = True, "interrupted"
            finally:
                bar.close()
    wall = time.perf_counter() - started
    run.summary = {
        "bag": str(bag),
        "image_topic": image_topic,
        "gt_topic": gt_topic,
        "fixation_topic": fixation_topic,
        "output_bag": str(out),
        "output_topics": {"saliency": topics.saliency, "rois": topics.rois, "attention": topics.attention},
        "saliency_encoding": settings.saliency_encoding,
        "saliency_full_size": settings.saliency_full_size,
        "complete": error is None,
        "interrupted": interrupted,
        "error": error,
        "frames": frames,
        "frames_in_bag": total,
        "frames_rejected": dict(rejected),
        "resets": pipeline.buffer.resets,
        "paired_frames": paired,
        "frame_ids": sorted(frame_ids),
        "source_sizes": sorted(sizes),
        "model": {
            "weights": weights_label,
            "untrained": estimator.untrained,
            "resolution": estimator.resolution,
            "device": str(estimator.device),
            "backend": estimator.backend.name,
        },
        "roi_params": vars(settings.roi_params).copy(),
        "rois": {"mean_per_frame": roi_count / frames if frames else 0.0, "frames_with_rois": frames_with_rois},
        "timing": {
            "wall_s": wall,
            "frames_per_s": frames / wall if wall > 0 else float("nan"),
            "per_frame": {stage: spread(values) for stage, values in durations.items()},
        },
        "metrics": scorer.summary() if scorer else None,
    }
    return run


# --- live -----------------------------------------------------------------------------------------


def node_command(settings: EvalSettings, estimator: SaliencyEstimator, input_topic: str, compressed: bool) -> list:
    """The node started as ``python -m skd_ros.node.saliency_node`` with the offline run's configuration."""
    params = {
        "resolution": estimator.resolution,
        "backend": estimator.backend.name,  # the engine the offline run used, not a separately raced one
        "device": settings.device,
        "input_compressed": compressed,
        "qos_reliability": "reliable",
        "saliency_encoding": settings.saliency_encoding,
        "saliency_full_size": settings.saliency_full_size,
        "max_rois": settings.roi_params.max_rois,
        "roi_threshold": settings.roi_params.rel_threshold,
        "roi_min_contrast": settings.roi_params.min_contrast,
        "roi_merge_radius": settings.roi_params.merge_radius,
        "roi_min_score": settings.roi_params.min_score,
    }
    command = [sys.executable, "-m", "skd_ros.node.saliency_node", "--ros-args", "-r", f"__node:={settings.node_name}"]
    command += ["-r", f"image:={input_topic}"]
    if settings.weights:
        params["weights"] = str(Path(settings.weights).resolve())  # the node may run elsewhere
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
    rois_equal = same_peak = peak_value_within = rejected = 0
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
            rois_equal += records.shape == expected_records.shape and all(
                np.allclose(records[name], expected_records[name], atol=1e-3) for name in records.dtype.names
            )
        if index in attention:
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
            "same_peak_point": same_peak,
            "rois_equal": rois_equal,
            "agree": matched > 0 and within == matched and peak_value_within == matched,
            "note": AGREEMENT_NOTE,
        },
        "per_frame": latency_log,
    }


# --- reporting ----------------------------------------------------------------------------------------


def plot_report(run: OfflineRun, path: str | Path) -> None:
    """One PNG: per-frame processing time offline, per-frame metrics (with ground truth) and live
    latency with the dropped frames marked (after --live), against the frame's position in the bag."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = run.summary
    metrics = (summary.get("metrics") or {}).get("per_frame") or []
    live = summary.get("live")
    panels = 1 + bool(metrics) + bool(live)
    figure, axes = plt.subplots(panels, 1, figsize=(10, 2.8 * panels), squeeze=False)
    axes = list(axes[:, 0])
    ax = axes.pop(0)
    for stage in ("processing_s", "inference"):
        ax.plot(
            [entry[stage] * 1e3 for entry in run.frame_log], label="decode to ROIs" if stage != "inference" else stage
        )
    ax.set_ylabel("ms per frame")
    ax.set_title(f"offline: {summary['bag']} {summary['image_topic']} ({summary['model']['backend']})")
    ax.legend(loc="upper right")
    if metrics:
        ax = axes.pop(0)
        for name in ("AUC", "NSS", "CC", "SIM", "KLD"):
            if name in metrics[0]:
                ax.plot([entry[name] for entry in metrics], label=name)
        ax.set_ylabel("score")
        ax.set_title(f"metrics per frame against {summary['gt_topic'] or summary['fixation_topic']}")
        ax.legend(loc="upper right", ncol=5)
    if live:
        ax = axes.pop(0)
        frames = live["per_frame"]
        ax.plot([f["index"] for f in frames], [f["latency_ms"] for f in frames], ".-", label="latency")
        for name, style in (("p50_ms", "--"), ("p99_ms", ":")):
            ax.axhline(live["latency"][name], color="grey", linestyle=style, label=name.replace("_ms", ""))
        if live["dropped"]:
            ax.plot([d["index"] for d in live["dropped"]], [0] * len(live["dropped"]), "rx", label="dropped")
        ax.set_ylabel("ms, publish to receive")
        ax.set_title(
            f"live replay at rate {live['rate']:g} ({'as fast as possible' if not live['rate'] else 'x recorded'})"
        )
        ax.legend(loc="upper right")
    figure.axes[-1].set_xlabel("frame (position in the bag)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _finite(value):
    """The summary with NaN/inf as null, so that the JSON is strict (readable by any parser)."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# --- command line -----------------------------------------------------------------------------------


def format_summary(summary: dict) -> str:
    """A few readable lines for the terminal (the JSON summary has everything)."""
    lines = [
        f"bag {summary['bag']} {summary['image_topic']}: {summary['frames']}/{summary['frames_in_bag']} frames"
        f" ({'complete' if summary['complete'] else 'INCOMPLETE'}), {summary['resets']} buffer resets,"
        f" {summary['paired_frames']} paired with a previous frame",
        f"output bag {summary['output_bag']}: {', '.join(summary['output_topics'].values())}",
    ]
    if summary["frames_rejected"]:
        lines.append(f"rejected like the node would: {summary['frames_rejected']}")
    model = summary["model"]
    lines.append(
        f"model: {'UNTRAINED weights' if model['untrained'] else model['weights']}, "
        f"{model['resolution']}x{model['resolution']}, {model['backend']} on {model['device']}"
    )
    timing = summary["timing"]
    stages = ", ".join(f"{stage} {t['mean_ms']:.2f}" for stage, t in timing["per_frame"].items())
    lines.append(f"timing: {timing['frames_per_s']:.1f} frames/s; mean ms per frame: {stages}")
    if summary["metrics"]:
        metrics = summary["metrics"]
        means = ", ".join(f"{name} {value:.3f}" for name, value in metrics["mean"].items())
        lines.append(f"metrics over {metrics['frames_scored']} frames with ground truth: {means or 'none scorable'}")
        if metrics["frames_without_ground_truth"] or metrics["ground_truth_without_frame"]:
            lines.append(
                f"  unmatched: {metrics['frames_without_ground_truth']} frames without ground truth, "
                f"{metrics['ground_truth_without_frame']} ground-truth stamps without a frame"
            )
    if summary["error"]:
        lines.append(f"stopped early after {summary['frames']} frames: {summary['error']}")
    live = summary.get("live")
    if live:
        latency, agreement = live["latency"], live["agreement"]
        lines += [
            f"live: {live['frames_matched']}/{live['frames_published']} frames answered, "
            f"{live['frames_dropped']} dropped; latency p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms",
            f"live vs offline: max |diff| {agreement['max_abs_diff']:.4g} (tolerance {agreement['tolerance']:.4g}), "
            f"{agreement['frames_within_tolerance']}/{live['frames_matched']} maps within tolerance, "
            f"same ROIs on {agreement['rois_equal']}, same peak point on {agreement['same_peak_point']}: "
            f"{'AGREE' if agreement['agree'] else 'DISAGREE'}",
            f"live output bag {live['output_bag']}",
        ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skd-eval-bag",
        description="Run the SKD saliency node's processing over a rosbag2 (sqlite3 or mcap), write its outputs "
        "to a new bag and score them against ground-truth maps in the bag; --live also replays the bag to a "
        "running node and compares latency, drops and outputs.",
    )
    parser.add_argument("bag", help="rosbag2 directory (or a .db3/.mcap file)")
    parser.add_argument("--image-topic", required=True, help="sensor_msgs/Image or CompressedImage topic")
    parser.add_argument("--gt-topic", help="ground-truth density maps (images with the same header stamps)")
    parser.add_argument("--fixation-topic", help="ground-truth binary fixation maps (images), for NSS and AUC")
    parser.add_argument("--out", help="output bag (default: <bag>_saliency beside the input; must not exist)")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), help="output storage (default: the input's)")
    parser.add_argument("--summary", help="write the summary as JSON to this file")
    parser.add_argument("--plot", help="write a PNG of per-frame times, metrics and live latency")
    model = parser.add_argument_group("model and outputs (the node's parameters of the same names)")
    model.add_argument("--weights", help="fused-model checkpoint (default: the shipped weights)")
    model.add_argument("--resolution", type=int, help="model input size (default: the checkpoint's)")
    model.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    model.add_argument("--backend", default="auto", help="inference backend (default: %(default)s, the fastest)")
    model.add_argument("--saliency-encoding", choices=("mono8", "32FC1"), default="mono8")
    model.add_argument("--saliency-full-size", action="store_true", help="saliency at the input size")
    model.add_argument("--max-rois", type=int, default=ROIParams.max_rois)
    model.add_argument("--roi-threshold", type=float, default=ROIParams.rel_threshold)
    model.add_argument("--roi-min-contrast", type=float, default=ROIParams.min_contrast)
    model.add_argument("--roi-merge-radius", type=int, default=ROIParams.merge_radius)
    model.add_argument("--roi-min-score", type=float, default=ROIParams.min_score)
    model.add_argument("--node-name", default=DEFAULT_NODE_NAME, help="output topics are /<node-name>/...")
    live = parser.add_argument_group("live replay")
    live.add_argument("--live", action="store_true", help="also replay the bag to the node and compare")
    live.add_argument("--rate", type=float, default=1.0, help="replay speed x recorded (0: as fast as possible)")
    live.add_argument("--live-out", help="bag for the node's outputs (default: <out>_live)")
    live.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID for the replay (default: the environment's)")
    live.add_argument("--tolerance", type=float, default=MONO8_STEP, help="max |live - offline| (default: 1/255)")
    live.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for the node")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        settings = EvalSettings(
            weights=args.weights,
            resolution=args.resolution,
            device=args.device,
            backend=args.backend,
            roi_params=ROIParams(
                max_rois=args.max_rois,
                rel_threshold=args.roi_threshold,
                min_contrast=args.roi_min_contrast,
                merge_radius=args.roi_merge_radius,
                min_score=args.roi_min_score,
            ),
            saliency_encoding=args.saliency_encoding,
            saliency_full_size=args.saliency_full_size,
            node_name=args.node_name,
        )
        bag = Path(args.bag)
        outputs = [Path(args.out) if args.out else default_output(bag)]
        if args.live:
            outputs.append(Path(args.live_out) if args.live_out else outputs[0].with_name(f"{outputs[0].name}_live"))
        check_inputs(bag, args.image_topic, [t for t in (args.gt_topic, args.fixation_topic) if t], outputs)
        estimator = make_estimator(settings)  # after the checks: loading the model and racing backends takes a while
        run = evaluate_offline(
            args.bag, args.image_topic, estimator, settings, out=args.out, gt_topic=args.gt_topic,
            fixation_topic=args.fixation_topic, storage=args.storage, keep_outputs=args.live,
        )  # fmt: skip
        summary = run.summary
        if args.live and summary["complete"]:
            summary["live"] = evaluate_live(
                args.bag, args.image_topic, run, estimator, settings, out=outputs[1], rate=args.rate,
                domain_id=args.domain_id, tolerance=args.tolerance, startup_timeout=args.startup_timeout,
            )  # fmt: skip
    except (BagError, FileExistsError, ValueError, RuntimeError) as exc:
        print(f"skd-eval-bag: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("skd-eval-bag: interrupted during the live replay (the node was stopped)", file=sys.stderr)
        return 130
    print(format_summary(summary))
    if args.summary:
        Path(args.summary).write_text(json.dumps(_finite(summary), indent=2))
        print(f"summary written to {args.summary}")
    if args.plot:
        plot_report(run, args.plot)
        print(f"plot written to {args.plot}")
    if summary["interrupted"]:
        return 130
    if not summary["complete"] or (summary.get("live") and not summary["live"]["agreement"]["agree"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
