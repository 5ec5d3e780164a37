"""What the node reports on /diagnostics, ROS-free: one status per camera (``camera_status``: its name, level,
summary message and key/value list, from the camera's counters, the lifecycle state and the model), which the
node wraps in diagnostic_msgs types; and the device it names (``device_description``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skd_ros.node.cameras import CameraStream
from skd_ros.node.settings import NodeSettings
from skd_ros.runtime import SaliencyEstimator

# diagnostic_msgs/DiagnosticStatus levels, by name
OK = "OK"
WARN = "WARN"


@dataclass(frozen=True)
class CameraStatus:
    """The content of one camera's DiagnosticStatus."""

    name: str
    hardware_id: str
    level: str  # OK or WARN
    message: str
    values: dict[str, str]


def device_description(estimator: SaliencyEstimator | None, settings: NodeSettings | None) -> str:
    """The model's device (with the GPU's name), else the configured one, else ""."""
    device = str(estimator.device) if estimator is not None else (settings.device if settings else "")
    if estimator is not None and estimator.device.type == "cuda":
        device += f" ({torch.cuda.get_device_name(estimator.device)})"
    return device


def camera_status(
    camera: CameraStream,
    node_name: str,
    state: str,
    device: str,
    cameras: int,
    estimator: SaliencyEstimator | None,
    settings: NodeSettings | None,
) -> CameraStatus:
    """One camera's status, named after the camera's output namespace under the node's fully qualified
    ``node_name``; ``state``: the node's lifecycle state; ``cameras``: how many the node serves. Reads (and so
    starts a new period of) the camera's statistics."""
    report = camera.stats.report()
    namespace = node_name + (f"/{camera.name}" if camera.name else "")
    problems = []
    if report.rejected_in_period:
        problems.append(f"{report.rejected_in_period} bad input frames dropped")
    if estimator is not None and estimator.untrained:
        problems.append("untrained weights")
    if report.unpublished_in_period:
        problems.append(f"{report.unpublished_in_period} outputs not published")
    if report.lost_in_period:
        problems.append(f"{report.lost_in_period} frames lost before the node ({report.lost_percent:.0f} %)")
    if state == "active":
        summary = f"active: {report.input_hz:.1f} Hz in, {report.output_hz:.1f} Hz out"
    else:
        summary = f"{state}: not processing"
    values = {
        "state": state,
        "input topic": camera.input_topic,
        "device": device,
        "cameras served (batched)": str(cameras),
        "input rate (Hz)": f"{report.input_hz:.2f}",
        "output rate (Hz)": f"{report.output_hz:.2f}",
        "inference latency mean (ms)": f"{report.inference_ms_mean:.2f}",
        "inference latency max (ms)": f"{report.inference_ms_max:.2f}",
        "processing latency mean (ms)": f"{report.latency_ms_mean:.2f}",
        "processing latency max (ms)": f"{report.latency_ms_max:.2f}",
        "frames received": str(report.received),
        "frames processed": str(report.processed),
        "frames dropped (skipped, inference behind)": str(report.skipped),
        "frames dropped (bad input)": str(sum(report.rejected.values())),
        "frames lost before the node": str(report.lost),
        "frames lost before the node in period (%)": f"{report.lost_percent:.1f}",
        "camera frame period (ms)": f"{period / 1e6:.2f}" if (period := camera.gaps.period_ns) else "learning",
        "frames failed": str(report.failed),
        "camera info topic": camera.info_topic,
        "bearings": camera.calibration.status,
    }
    values.update({f"bad input: {kind}": str(count) for kind, count in sorted(report.rejected.items())})
    values.update({f"not published: {name}": str(count) for name, count in sorted(report.unpublished.items())})
    if estimator is not None:
        values["model resolution"] = str(estimator.resolution)
        values["inference backend"] = estimator.backend.describe()
        values["weights"] = "untrained" if estimator.untrained else (settings.weights or "shipped default")
    if camera.live is not None:
        buffer = camera.live.pipeline.buffer
        values["pairing restarts"] = str(buffer.resets)
        values.update({f"pairing restarts: {why}": str(n) for why, n in sorted(buffer.reset_reasons.items())})
    return CameraStatus(
        name=f"{namespace}: saliency",
        hardware_id=device,
        level=WARN if problems else OK,
        message="; ".join([summary, *problems]),
        values=values,
    )
