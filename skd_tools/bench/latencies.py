"""What a node or transport run measured, and how runs are pooled.

* **Latency** = the subscriber's receive time - the input frame's ``header.stamp``. The publisher
  stamps each frame with the wall clock at "capture", before any camera-side work (JPEG encoding, a
  resize), so that work is counted. The node stamps its outputs with the input header, so the same
  difference is stamp-to-output for ``~/saliency``.
* **Bare transport**: the same publisher into an empty subscriber on the image topic, in the same run
  as the node (both subscribe to the same frames). **Node overhead** = per frame, node latency - bare
  latency, over the frames both received: load from elsewhere on the machine hits both and cancels.
* **Dropped** = frames published in the measured window (after a warm-up) that never came out.
  The node deliberately skips frames when it is slower than the camera (it works on the newest frame),
  so at "as fast as possible" rates drops measure that policy, not losses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

MULTI_CAMERA_KINDS = ("batched", "per-camera")  # one node for all cameras, a node each
NODE_KINDS = ("node", *MULTI_CAMERA_KINDS)  # runs with saliency nodes in them


@dataclass
class Latencies:
    """What one subscriber saw of the frames published in the measured window."""

    received: int = 0
    dropped: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    mean_ms: float = float("nan")
    by_stamp: dict[int, float] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, window: list[int], received: list[tuple[int, int]]) -> Latencies:
        in_window = set(window)
        by_stamp = {stamp: (now - stamp) / 1e6 for stamp, now in received if stamp in in_window}
        return cls.from_latencies(by_stamp, dropped=len(window) - len(by_stamp))

    @classmethod
    def from_latencies(cls, by_stamp: dict[int, float], dropped: int) -> Latencies:
        result = cls(received=len(by_stamp), dropped=dropped, by_stamp=by_stamp)
        if by_stamp:
            values = np.fromiter(by_stamp.values(), float)
            result.p50_ms, result.p99_ms = float(np.median(values)), float(np.percentile(values, 99))
            result.mean_ms = float(values.mean())
        return result


@dataclass
class Run:
    """One measurement: the camera publisher -> an empty subscriber on the image topic (``bare``), and
    for ``kind == "node"`` at the same time -> the node -> a subscriber on ``~/saliency``; for ``kind ==
    "relay"`` the node is replaced by ``relay_main``, an rclpy node that does no work (``node`` then
    holds the relay's latencies). With ``cameras`` > 1 the publisher sends each frame to that many camera
    topics, served by one node (``kind == "batched"``, the ``cameras`` parameter) or by a node per camera
    (``"per-camera"``); ``node`` then pools every camera's outputs, and ``bare`` is the first camera's."""

    kind: str  # "bare", "node", "relay", "batched" or "per-camera"
    transport: str
    resolution: str
    rate: float  # Hz; 0 = as fast as possible
    cameras: int = 1
    encoding: str = "bgr8"  # what the camera sent: bgr8 or rgb8 Images, or jpeg CompressedImages
    published: int = 0
    publish_hz: float = float("nan")
    camera_side_ms: float = float("nan")  # JPEG encode / resize time per frame in the publisher
    bare: Latencies = field(default_factory=Latencies)
    node: Latencies | None = None
    overhead_p50_ms: float = float("nan")  # per frame: node latency - bare latency, frames both received
    overhead_p99_ms: float = float("nan")
    per_camera: list[dict] = field(default_factory=list)  # ``camera_summary`` of each camera's outputs
    stages: dict | None = None  # with stage times on: ``skd_tools.bench.stage_profile.stage_profile``
    error: str = ""


def pool(runs: list[Run]) -> Run:
    """Several runs of one configuration as one: frames and drops added up, percentiles over all frames."""
    first = runs[0]
    ok = [r for r in runs if not r.error]
    merged = Run(kind=first.kind, transport=first.transport, resolution=first.resolution, rate=first.rate)
    merged.error = "; ".join(r.error for r in runs if r.error)
    if not ok:
        return merged
    merged.published = sum(r.published for r in ok)
    merged.publish_hz = float(np.mean([r.publish_hz for r in ok]))
    merged.camera_side_ms = float(np.mean([r.camera_side_ms for r in ok]))
    by_stamp = {stamp: ms for r in ok for stamp, ms in r.bare.by_stamp.items()}
    merged.bare = Latencies.from_latencies(by_stamp, dropped=sum(r.bare.dropped for r in ok))
    return merged


def pooled_cameras(per_camera: list[Latencies]) -> Latencies:
    """Several cameras' latencies as one (frames keyed by (camera, stamp)): drops added up."""
    by_frame = {(camera, stamp): ms for camera, lat in enumerate(per_camera) for stamp, ms in lat.by_stamp.items()}
    return Latencies.from_latencies(by_frame, dropped=sum(lat.dropped for lat in per_camera))


def camera_summary(latencies: Latencies) -> dict:
    """One camera's outputs in a run, without the per-frame latencies."""
    return {key: value for key, value in asdict(latencies).items() if key != "by_stamp"}


def run_as_dict(run: Run) -> dict:
    """The run as JSON-ready numbers, without the per-frame latencies."""
    out = asdict(run)
    for side in ("bare", "node"):
        if out[side] is not None:
            out[side].pop("by_stamp")
    return out


def rate_label(rate: float) -> str:
    return "max" if rate == 0 else f"{rate:g}"


def kind_label(run: Run) -> str:
    if run.kind not in MULTI_CAMERA_KINDS:
        return run.kind
    return f"{run.kind}, {run.cameras} camera{'s' if run.cameras > 1 else ''}"
