"""The node part of docs/BENCHMARKS.md: the end-to-end and transport tables, the hot-path profile, and
what they show, written with this run's numbers."""

from __future__ import annotations

import os
from pathlib import Path

from skd_tools.bench.hot_path import HotPath
from skd_tools.bench.latencies import MULTI_CAMERA_KINDS, Latencies, Run, kind_label, rate_label
from skd_tools.bench.node_runs import NodeOptions
from skd_tools.bench.targets import TARGETS
from skd_tools.bench.transports import LOSS_TOLERANCE, TRANSPORT_BY_NAME
from skd_training.tables import markdown_table

# below this, what the overhead leaves after the relay and the paced work is within the runs' scatter
LEFTOVER_WORTH_NAMING_MS = 0.5


def node_section(
    node: NodeOptions,
    seconds: float,
    warmup: float,
    runs_e2e: list[Run],
    runs_transport: list[Run],
    best: str,
    hot: HotPath,
    summary: dict,
    figures: list[Path | None],
    out: Path,
) -> list[str]:
    """The node end to end, the transport options and where the node's time goes, as Markdown lines;
    ``best`` is the chosen transport, ``summary`` what the targets read, ``out`` the report's path."""
    lines = [
        "## Node end to end",
        "",
        "Separate processes, one run per row: a camera publisher (bgr8 `sensor_msgs/Image`) -> `python -m "
        f"skd_ros.node.saliency_node` (backend `{node.backend}`, cpu_threads {node.cpu_threads}, model at "
        f"{node.resolution}x{node.resolution}) -> a subscriber on `~/saliency`; and, in the same run from the same "
        "publisher, an empty subscriber on the image topic (`bare`). The `relay` row puts an rclpy node that does "
        "no work in the saliency node's place (it answers each frame with a 64x64 mono8 image from its "
        "subscription callback). The `batched` and `per-camera` rows serve two cameras (the publisher sends each "
        "frame on two camera topics): one node with `cameras:=cam0,cam1`, which runs both cameras' frames in one "
        "forward pass, or a node per camera; their node columns pool both cameras' outputs (`published` counts "
        "one camera's frames), and bare is the first camera's topic. Latency = receive time - the input frame's "
        "stamp. **Overhead** = per frame, node latency - bare latency (frames both received), so load that hits "
        f"both paths cancels out. {seconds:g} s measured after {warmup:g} s of warm-up. `max`: the publisher as fast "
        "as it can; there the node's drops are its newest-frame policy (it skips frames it has no time for), "
        "not losses. Camera-side ms: JPEG encoding or resizing in the publisher, after the stamp.",
        "",
        e2e_table(runs_e2e),
        "",
        "## Transport options (1920x1080 @ 30 FPS, publisher -> empty subscriber)",
        "",
        transport_table(runs_transport),
        "",
        f"Fastest raw-image option in this run with at most {LOSS_TOLERANCE:.1%} of its frames lost: **`{best}`**"
        + (f" ({TRANSPORT_BY_NAME[best].description})." if best in TRANSPORT_BY_NAME else "."),
        "",
        "## Where the node's time goes (in-process, no transport)",
        "",
        f"{hot.frames} frames at {hot.resolution} through the node's own calls (decode, pairing, preprocess, "
        f"inference, ROIs, output messages), {hot.backend}; mean ms per frame, timed without a profiler, once "
        f"with the frames back to back and once at the camera's pace (one frame every {1e3 / hot.paced_fps:.1f} ms, "
        "the thread asleep in between, as in a node):",
        "",
        hot_path_table(hot),
        "",
        f"Top functions by own time (cProfile, {hot.frames} more frames):",
        "",
        "```",
        hot.top.rstrip(),
        "```",
        "",
        *findings(hot, runs_transport, best, summary, runs_e2e),
    ]
    return lines + [f"![{f.stem}]({os.path.relpath(f, out.parent)})\n" for f in figures if f]


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value != value else f"{value:.{digits}f}"  # NaN != NaN


def e2e_table(runs: list[Run]) -> str:
    headers = [
        "node", "transport", "resolution", "rate FPS", "published", "node dropped", "node p50 ms", "node p99 ms",
        "bare dropped", "bare p50 ms", "bare p99 ms", "overhead p50 ms", "overhead p99 ms", "camera-side ms",
    ]  # fmt: skip
    rows = []
    for r in runs:
        node = r.node or Latencies()
        rows.append(
            [kind_label(r), r.transport, r.resolution, rate_label(r.rate), r.published, node.dropped]
            + [_fmt(node.p50_ms), _fmt(node.p99_ms)]
            + [r.bare.dropped, _fmt(r.bare.p50_ms), _fmt(r.bare.p99_ms), _fmt(r.overhead_p50_ms)]
            + [_fmt(r.overhead_p99_ms), _fmt(r.camera_side_ms)]
        )
    return markdown_table(headers, rows) + _errors(runs)


def transport_table(runs: list[Run]) -> str:
    rows = [
        [r.transport, TRANSPORT_BY_NAME[r.transport].description, r.published, r.bare.dropped]
        + [_fmt(r.bare.p50_ms), _fmt(r.bare.p99_ms), _fmt(r.camera_side_ms)]
        for r in runs
    ]
    return markdown_table(
        ["option", "what", "published", "dropped", "p50 ms", "p99 ms", "camera-side ms"], rows
    ) + _errors(runs)


def _errors(runs: list[Run]) -> str:
    failed = [
        f"- {kind_label(r)} `{r.transport}` {r.resolution} @ {rate_label(r.rate)}: {r.error}" for r in runs if r.error
    ]
    return "\n\nFailed runs:\n\n" + "\n".join(failed) if failed else ""


def hot_path_table(hot: HotPath) -> str:
    rows = ["| stage | back to back | " + f"{hot.paced_fps:g} FPS |", "|---|---|---|"]
    rows += [f"| {stage} | {ms:.3f} | {hot.paced_stage_ms[stage]:.3f} |" for stage, ms in hot.stage_ms.items()]
    rows.append(f"| **total** | **{sum(hot.stage_ms.values()):.2f}** | **{sum(hot.paced_stage_ms.values()):.2f}** |")
    return "\n".join(rows)


def findings(
    hot: HotPath, runs_transport: list[Run], best: str, summary: dict, runs_e2e: tuple[Run, ...] = ()
) -> list[str]:
    """What the profile and the runs show, with this run's numbers (``summary``: what the targets read)."""
    (slow_name, slow), (fast_name, fast) = hot.resize_ms.items()
    by_name = {r.transport: r for r in runs_transport}
    lines = [
        "### What the profile showed, and what was done",
        "",
        f"- **Resizing the camera frame was the largest cost in the node.** `{slow_name}` takes {slow:.2f} ms for one "
        "1920x1080 frame: the vertical factor 1080/64 = 16.875 is not a whole number, which sends OpenCV down its "
        "general area path. `skd_ros.core.preprocess.area_resize` first halves the frame with OpenCV's 2x2 fast path "
        "(0.5 ms for the whole frame), then, area averaging being separable, runs two 1-D passes: the "
        "whole-number axis (960/64 = 15) over the half frame, then the fractional one on a 64-pixel-wide image: "
        f"{fast:.2f} ms here. The 2x2 step moves a fractional block edge by up to half a source pixel: on camera "
        "frames the result stays within 1-3 grey levels of the 2-D call, mean difference about 0.2 "
        "(test_backends.py checks several sizes). The node, skd-eval, skd-demo and the training caches all "
        "resize with it, so they see the same pixels.",
        "- Decoding costs nothing measurable for bgr8/rgb8: `skd_ros.core.image_codec` returns a view of the message "
        f"buffer ({hot.stage_ms['decode']:.3f} ms per frame), so the resize is the only pass over the full frame.",
        f"- Inference ({hot.stage_ms['inference']:.2f} ms with {hot.backend}) is the other large item; the model-only "
        "table above shows how far each backend is from this machine's limit. Idle inference threads sleep instead "
        "of spinning (ONNX Runtime: `session.intra_op.allow_spinning=0`, ncnn: `openmp_blocktime=0`) so they do "
        "not take CPU from DDS.",
        f"- ROI extraction ({hot.stage_ms['ROIs + peak']:.3f} ms) and building the three output messages "
        f"({hot.stage_ms['output messages']:.3f} ms, one memcpy each through `array.array`) are small.",
    ]
    default, chosen = by_name.get("default"), by_name.get(best)
    if default is not None and chosen is not None and best != "default":
        lines.append(
            f"- **Transport dominates at full HD.** With Fast DDS defaults a 6.2 MB frame does not fit the 512 KB "
            f"shared-memory segments and goes over UDP loopback in ~100 fragments: {default.bare.dropped} of "
            f"{default.published} frames were lost best-effort (p50 {_fmt(default.bare.p50_ms)} ms for those that "
            f"arrived). `{best}` moved the same frames with {chosen.bare.dropped} lost at p50 "
            f"{_fmt(chosen.bare.p50_ms)} ms. launch/saliency.launch.py gives the node config/fastdds_shm.xml by "
            "default (argument `fastdds_profile`); the camera driver must use the same profile "
            "(`export FASTDDS_DEFAULT_PROFILES_FILE=...`), since the writer's segment has to hold the frame."
        )
    plain, heap = by_name.get("shm-sync"), by_name.get("shm-sync-heap")
    if plain is not None and heap is not None and plain.bare.received and heap.bare.received:
        lines.append(
            f"- **Receiving a full-HD frame meant page-faulting a fresh buffer.** Each message needs a new 6.2 MB "
            "buffer in the receiving process; glibc returns buffers that large to the kernel when they are "
            "freed, so the next frame's buffer is faulted in page by page again (slow inside a VM). With "
            "config/malloc_image_buffers.env (`MALLOC_MMAP_THRESHOLD_` 32 MB, `MALLOC_TRIM_THRESHOLD_` 256 MB) "
            f"freed buffers stay in the heap: `shm-sync` p50 {_fmt(plain.bare.p50_ms)} ms, `shm-sync-heap` p50 "
            f"{_fmt(heap.bare.p50_ms)} ms for the same frames. It is the receiver's setting that counts (tried "
            "during development: publisher only, no gain; subscriber only, all of it); launch/saliency.launch.py "
            "gives it to the node by default (argument `keep_image_buffers`), and other subscribers of raw "
            "frames gain the same from it."
        )
    if "overhead_p50_ms_1080p" in summary:
        work, overhead = summary["work_ms_1080p"], summary["overhead_p50_ms_1080p"]
        reading = (
            f"- **Reading the overhead column.** The node's own work per 1920x1080 frame is {work:.2f} ms in "
            f"process (the stages above); end to end, `{best}` at 30 FPS gave {overhead:+.2f} ms p50 over the bare "
            "subscriber. "
        )
        relay, target = summary.get("relay_overhead_p50_ms_1080p"), TARGETS["node_overhead_ms"]
        if overhead >= work and relay is not None:
            paced = summary["paced_work_ms_1080p"]
            reading += (
                f"An rclpy node that does no work in its place (`relay`) adds {relay:+.2f} ms p50: the second "
                "process, one more DDS hop for a small message, rclpy's executor. The remaining "
                f"{overhead - relay:.2f} ms is the node's work as it runs live. At the camera's pace the same calls "
                f"take {paced:.2f} ms in process instead of {work:.2f} back to back, with no other process involved: "
                "every stage slows, inference on a 64x64 pair included, because each frame starts on a core whose "
                "caches and clock went cold while the thread slept (this VM's cores; a busy-wait in place of the "
                "sleep recovered only about a third of it, tried during development). "
                + (
                    f"That leaves {rest:.1f} ms for scheduling the node's threads next to the publisher and the "
                    "subscribers on two cores"
                    if (rest := overhead - relay - paced) >= LEFTOVER_WORTH_NAMING_MS
                    else "Relay and paced work account for the whole overhead, within the runs' scatter"
                )
                + "; the parallel bare subscriber is not what costs it (the node measured alone, against bare "
                "transport in a separate run, gave +4.9 and +5.8 ms p50 during development). "
                "Doing the work in the subscription callback instead of the node's worker thread made no difference "
                f"(also tried then). Meeting the {target:g} ms target therefore needs the node's work at 30 FPS to "
                f"shrink to about {target - relay:.1f} ms."
            )
        elif overhead >= work:
            reading += (
                "The rest is what a second process adds: the node's outputs cross DDS once more to their "
                "subscriber, and the node, both subscribers and the publisher share two cores."
            )
        else:
            reading += (
                "Both receivers are Python processes that deserialise the full image on a 2-core machine also "
                "running the publisher, so the per-frame difference of their latencies scatters by milliseconds; "
                "an overhead below the in-process work says that work is inside the scatter, not that it is free."
            )
        lines.append(reading + " The targets table reads the larger of the two.")
    several = {r.kind: r for r in runs_e2e if r.kind in MULTI_CAMERA_KINDS and r.node is not None and r.node.received}
    if len(several) == len(MULTI_CAMERA_KINDS):
        batched, each = several["batched"], several["per-camera"]
        faster = "one node per camera" if each.node.p50_ms < batched.node.p50_ms else "the batching node"
        lines.append(
            f"- **Several cameras** ({batched.cameras} at {batched.resolution}, {rate_label(batched.rate)} FPS): "
            f"from stamp to map p50 {batched.node.p50_ms:.2f} ms with one node batching the cameras' frames into "
            f"one forward pass, {each.node.p50_ms:.2f} ms with a node per camera; {faster} was faster here. On a "
            "CPU batching saves no arithmetic, and the batching node resizes the cameras' frames one after the other "
            "in one process while a node per camera can use another core; batching pays where a call has a large fixed "
            "cost, on a GPU (see docs/NODE.md)."
        )
    lines.append("")
    return lines
