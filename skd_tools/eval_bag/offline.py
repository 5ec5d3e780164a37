"""The offline evaluation of a bag: every image message through the node's own processing path, the
node's outputs written to a new bag stamped like the inputs, with times per stage and, where the bag
holds ground truth, metrics (``ground_truth``). Also what the live replay shares with it: the settings
both are configured with and where their output bags go."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from skd_ros.core.image_codec import ImageDecodeError
from skd_ros.core.postprocess import ROIParams
from skd_ros.node.outputs import frame_outputs
from skd_ros.node.stream import LiveSaliency
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline
from skd_tools.bags import OutputTopics, SaliencyBagWriter
from skd_tools.eval_bag.ground_truth import GroundTruthScorer
from skd_training.data.rosbag import COMPRESSED_IMAGE_TYPE, BagError, BagReader, as_map, decode_image, stamp_to_ns

log = logging.getLogger(__name__)
DEFAULT_NODE_NAME = "saliency_node"  # skd_ros.node.saliency_node.NODE_NAME (not imported: offline runs need no rclpy)
STAGES = ("read", "decode", "preprocess", "align", "inference", "postprocess", "write")


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
        if reader.recovered:  # an mcap bag cut short: what was recorded before the cut is evaluated
            log.warning(reader.recovered)
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
        "recovered": reader.recovered,
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
