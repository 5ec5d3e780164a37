"""The node's hot path, profiled in this process (no transport): decode -> preprocess -> infer -> ROIs ->
output messages, exactly the calls the node's worker makes for each frame."""

from __future__ import annotations

import array
import cProfile
import io
import pstats
import time
from dataclasses import dataclass

import cv2
import numpy as np

from skd_ros.core.preprocess import area_resize
from skd_ros.node.outputs import frame_outputs
from skd_ros.node.stream import LiveSaliency
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline
from skd_tools.bench.node_runs import NodeOptions
from skd_tools.bench.transports import FRAME_ID, RESOLUTIONS, camera_frames

# The output messages are ROS 2 messages; skd-bench's other sections also run where ROS is not installed
# (scripts/gpu_check.sh on a GPU machine), so a missing ROS is an error only once the profile is asked for.
try:
    from sensor_msgs.msg import Image

    from skd_ros.node.messages import ros_messages
except ModuleNotFoundError as missing:
    ROS_MISSING = f"the hot-path profile builds the node's ROS messages: {missing}"
else:
    ROS_MISSING = ""


@dataclass
class HotPath:
    resolution: str
    frames: int
    backend: str
    stage_ms: dict[str, float]  # frames back to back
    paced_stage_ms: dict[str, float]  # one frame per camera period, the node's life at 30 FPS
    paced_fps: float
    resize_ms: dict[str, float]  # one full frame to the model input: OpenCV's 2-D call vs area_resize
    top: str  # cProfile's top functions, as text


def profile_hot_path(resolution: str, frames: int, node: NodeOptions, paced_fps: float = 30.0) -> HotPath:
    """The node's per-frame calls in this process, timed twice: frames back to back, and one frame every
    1/paced_fps s with the thread asleep in between, as a node fed by a camera lives."""
    if ROS_MISSING:
        raise ModuleNotFoundError(ROS_MISSING)
    width, height = RESOLUTIONS[resolution]
    estimator = SaliencyEstimator(
        node.weights or None, node.resolution or None, "cpu", backend=node.backend, threads=node.cpu_threads or None
    )
    live = LiveSaliency(SaliencyPipeline(estimator))
    messages = []
    for i, frame in enumerate(camera_frames(width, height)):
        msg = Image(height=height, width=width, encoding="bgr8", step=width * 3)
        msg.data = array.array("B", frame.tobytes())
        msg.header.stamp.sec, msg.header.frame_id = i + 1, FRAME_ID
        messages.append(msg)
    stage_names = ("decode", "resize + normalise + pairing", "align", "inference", "ROIs + peak", "output messages")
    stages = dict.fromkeys(stage_names, 0.0)

    def one(i: int, newest, before) -> None:
        newest.header.stamp.sec = i + 1  # stamps keep increasing over the looped frames
        t0 = time.perf_counter()
        result, _ = live.run(newest, before)
        stages["decode"] += time.perf_counter() - t0 - sum(result.timings.values())
        t0 = time.perf_counter()
        dict(ros_messages(frame_outputs(result, "mono8", False), newest.header))
        stages["resize + normalise + pairing"] += result.timings["preprocess"]
        stages["align"] += result.timings["align"]
        stages["inference"] += result.timings["inference"]
        stages["ROIs + peak"] += result.timings["postprocess"]
        stages["output messages"] += time.perf_counter() - t0

    def timed(first: int, period: float) -> dict[str, float]:
        """Mean ms per stage over ``frames`` frames (without the profiler, whose per-call cost inflates
        Python code), starting at frame index ``first``, sleeping until the next tick of ``period``."""
        stages.update(dict.fromkeys(stage_names, 0.0))
        start = time.monotonic()
        for k in range(frames):
            if period and (wait := start + k * period - time.monotonic()) > 0:
                time.sleep(wait)
            one(first + k, messages[(first + k) % len(messages)], None)
        return {name: 1e3 * total / frames for name, total in stages.items()}

    for i in range(20):  # warm-up
        one(i, messages[i % len(messages)], None)
    back_to_back = timed(20, 0.0)
    paced = timed(20 + frames, 1.0 / paced_fps)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(20 + 2 * frames, 20 + 3 * frames):
        one(i, messages[i % len(messages)], None)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(12)
    lines = text.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    frame, side = camera_frames(width, height, 1)[0], estimator.resolution
    resize_ms = {
        "cv2.resize INTER_AREA (2-D)": _median_ms(
            lambda: cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA)
        ),
        "preprocess.area_resize (2x2, then two 1-D passes)": _median_ms(lambda: area_resize(frame, side, side)),
    }
    return HotPath(
        resolution=resolution,
        frames=frames,
        backend=estimator.backend.describe(),
        stage_ms=back_to_back,
        paced_stage_ms=paced,
        paced_fps=paced_fps,
        resize_ms=resize_ms,
        top="\n".join(lines[start:]),
    )


def _median_ms(call, runs: int = 30) -> float:
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))
