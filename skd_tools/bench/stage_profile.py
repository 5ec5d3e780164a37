"""Where a frame's time goes in the live node: the stage times the saliency node records under a DDS stream
(``skd_ros.node.stage_times``, switched on by skd-bench), summed up over the frames of a run's measured window."""

from __future__ import annotations

import numpy as np

from skd_ros.node.stage_times import stage_durations

# what each recorded stage is, for the report; "build <output>" and "publish <output>" are each output's message
STAGE_MEANINGS = {
    "hand-off to the worker": "from the callback's entry to the worker thread holding the frame (the mailbox, the "
    "worker's wake-up, the interpreter lock)",
    "decode": "the message's pixels as an array (a view for raw frames; the JPEG decoder for compressed ones)",
    "preprocess": "area resize to the model's size, colour order, normalisation, pairing",
    "align": "the previous frame aligned onto the current one (checkpoints trained on aligned pairs; "
    "skd_ros.core.registration)",
    "inference": "the model on the (previous, current) pair",
    "postprocess": "ROIs and the peak from the map",
    "outputs": "every output's content: map to mono8, each ROI's peak, ids, rays",
}
OUTPUT_STAGES = {
    "build": "the ROS message of ~/{}",
    "publish": "rclpy's publish of ~/{} (DDS write, the reader's wake-up)",
}


def stage_meaning(stage: str) -> str:
    """What ``stage`` is, for the report ("" for a stage nobody described)."""
    verb, _, output = stage.partition(" ")
    return STAGE_MEANINGS.get(stage) or (OUTPUT_STAGES[verb].format(output) if verb in OUTPUT_STAGES else "")


def _stats(values: list[float]) -> dict:
    array = np.asarray(values, float)
    return {
        "frames": len(values),
        "p50_ms": float(np.median(array)),
        "mean_ms": float(array.mean()),
        "p99_ms": float(np.percentile(array, 99)),
    }


def stage_profile(written: list[dict], window: list[int]) -> dict | None:
    """The stage times of one run (``written``: what each node wrote) over the frames stamped in ``window``:
    ``receive`` (stamp -> the subscription callback: transport and deserialisation), each stage in the order
    the frames passed them, and ``in node`` (the callback's entry -> the last output published); per stage the
    frames that passed it, p50, mean and p99 in ms. None when no frame of the window was recorded."""
    in_window = set(window)
    frames = [frame for node in written for frame in node["frames"] if frame["stamp_ns"] in in_window]
    if not frames:
        return None
    stages: dict[str, list[float]] = {}
    for frame in frames:
        for stage, ms in stage_durations(frame):
            stages.setdefault(stage, []).append(ms)
    return {
        "frames": len(frames),
        "receive": _stats([(frame["callback_wall_ns"] - frame["stamp_ns"]) / 1e6 for frame in frames]),
        "stages": {stage: _stats(values) for stage, values in stages.items()},
        "in node": _stats([frame["marks"][-1][1] / 1e6 for frame in frames]),
    }
