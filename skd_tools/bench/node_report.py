"""The node part of docs/BENCHMARKS.md: the end-to-end and transport tables, the hot-path profile, and
what they show, written with this run's numbers."""

from __future__ import annotations

import math
import os
from pathlib import Path

from skd_tools.bench.agreement import MIN_CC, Agreement
from skd_tools.bench.hot_path import HotPath
from skd_tools.bench.latencies import Latencies, Run, kind_label, rate_label
from skd_tools.bench.node_runs import SEVERAL_CAMERAS_WEIGHTS, NodeOptions
from skd_tools.bench.stage_profile import stage_meaning
from skd_tools.bench.targets import node_target_rows
from skd_tools.bench.transports import LOSS_TOLERANCE, TRANSPORT_BY_NAME
from skd_training.tables import markdown_table

DEFAULTS = "the defaults"  # the label of the node's own settings beside its variants

# below this, what the overhead leaves after the relay and the paced work is within the runs' scatter
LEFTOVER_WORTH_NAMING_MS = 0.5


def paced_text(model: dict) -> str:
    """What the model takes once a frame, as a node calls it, where the run measured it."""
    if model.get("paced_ms") is None:
        return ""
    return (
        f"; called once every 33.3 ms, the thread asleep in between as in a node at 30 FPS, the same call takes "
        f"**{model['paced_ms']:.2f} ms** (p50 of {model['paced_runs']}): a model that ran moments ago is warm, one "
        "that waited a frame period is not"
    )


def node_section(
    node: NodeOptions,
    seconds: float,
    warmup: float,
    best: str,
    model: dict,
    matrix: list[Run],
    profiled: Run | None,
    extra: list[Run],
    cameras: list[Run],
    cameras_spread: list[Run],
    cameras_light: list[Run],
    runs_transport: list[Run],
    agreement: Agreement,
    hot: HotPath,
    summary: dict,
    figures: list[Path | None],
    out: Path,
    threads_models: dict[int, dict],
    threads_runs: list[tuple[int, Run]],
    busy_rows: list[dict],
) -> list[str]:
    """The node end to end, the transport options and where the node's time goes, as Markdown lines;
    ``best`` is the chosen transport, ``model`` the model's own time in this run, ``profiled`` the run whose live
    profile is shown stage by stage, ``summary`` what the targets read, ``out`` the report's path,
    ``threads_models`` the model's own time by cpu_threads and ``threads_runs`` the runs comparing them,
    ``busy_rows`` the engines beside a busy process (``busy_neighbour``)."""
    side = model.get("resolution", 64)  # runs recorded before the model's side was: all at 64x64
    camera_variants = {"camera_threads 0": cameras_spread, f"weights {SEVERAL_CAMERAS_WEIGHTS}": cameras_light}
    lines = [
        "## Node end to end",
        "",
        "### Targets (node cost)",
        "",
        markdown_table(["target", "measured", "verdict"], [list(row) for row in node_target_rows(summary)]),
        "",
        "Separate processes, one run per row: a camera publisher -> `python -m skd_ros.node.saliency_node` "
        f"(backend `{node.backend}`, cpu_threads {node.cpu_threads}, model at {side}x{side}) -> "
        "a subscriber on `~/saliency` and `~/rois` (a frame is out when both are); and, in the same run from the "
        "same publisher, an empty subscriber on the image topic (`bare`). The `relay` runs put an rclpy node that "
        "does no work in the saliency node's place (it answers each frame with a 64x64 mono8 image from its "
        "subscription callback). Latency = receive time - the input frame's stamp. **Overhead** = per frame, node "
        "(or relay) latency - bare latency (frames both received), so load that hits both paths cancels out; "
        "**node work** = node overhead - relay overhead (p50): what the saliency node costs beyond any rclpy node "
        f"in its place. The model's own time in this run: **{model['ms']:.2f} ms** per {side}x{side} pair "
        f"({model['backend']}, p50 of {model['runs']} calls in one process, numpy in and out){paced_text(model)}. "
        f"{seconds:g} s "
        f"measured after {warmup:g} s of warm-up, transport `{best}`; raw frames are built before the publisher's "
        "loop and JPEG frames (quality 90) encoded there too, so the publisher only stamps and sends. Camera-side "
        "ms: JPEG encoding or resizing in the publisher (after the stamp only where `transport` says so).",
        "",
        "### Node, relay and bare: every size and input",
        "",
        matrix_table(matrix, model["ms"]),
        "",
        "### Other conditions",
        "",
        "`max`: the publisher as fast as it can; there the node's drops are its newest-frame policy (it skips frames "
        "it has no time for), not losses.",
        "",
        e2e_table(extra),
        "",
        "### The node's inference threads",
        "",
        f"The node as above (cpu_threads {node.cpu_threads}) and with the other choice, each size's runs one after "
        "the other with a relay's (bgr8, 30 FPS); the model's own time at each count, back to back and once a "
        "frame, measured in this process:",
        "",
        threads_table(threads_models, threads_runs),
        "",
        "### Inference beside a busy process",
        "",
        "A node shares its cores with DDS, the camera driver and other nodes. Each engine that `auto` may pick, "
        "called in this process every 10 ms (the thread asleep in between), alone and with another process keeping "
        "one core busy (`python -c 'while True: pass'`), for the node's weights and those suggested for several "
        "cameras, on a batch of one (one camera) and of four (four cameras in one forward pass). Engines marked * "
        "split each layer into fixed shares of their threads, which wait for each other at its end (OpenMP: "
        "ncnn, PyTorch): one thread that loses its core stalls the call. `auto` races "
        "them on one thread (`skd_ros.engines.backends.race_threads`), whatever `cpu_threads` says; ONNX Runtime's "
        "threads take work as they come.",
        "",
        busy_neighbour_table(busy_rows),
        "",
        f"### Several cameras in one node ({cameras[0].resolution if cameras else ''} @ 30 FPS)",
        "",
        "One node with `cameras:=cam0,...` batching the cameras' newest frames into one forward pass, one camera after "
        "the other (`camera_threads` 1, the default); the publisher sends each frame on every camera's topic, one "
        "after the other. Per camera:",
        "",
        cameras_table(cameras),
        "",
        "The same node with `camera_threads:=0` (the cameras' decoding, resize, alignment and forward passes spread "
        "over one thread per core) and, where the default weights are others, with "
        f"`weights:={SEVERAL_CAMERAS_WEIGHTS}` (the 64x64 model, suggested for several "
        "cameras in one node), in the same run, against the defaults (all cameras together: frames dropped, "
        "the slowest camera's p50 and p99):",
        "",
        camera_variants_table(cameras, camera_variants),
        "",
        batch_times_text({DEFAULTS: cameras, **camera_variants}),
        "",
        "### Where a frame's time goes in the live node",
        "",
        stage_section(profiled, matrix),
        "",
        "### Do the maps agree with the reference path? (real footage)",
        "",
        agreement_text(agreement),
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
        *findings(hot, runs_transport, best, summary, profiled),
    ]
    return lines + [f"![{f.stem}]({os.path.relpath(f, out.parent)})\n" for f in figures if f]


def matrix_table(matrix: list[Run], model_ms: float) -> str:
    """One row per size and input: bare latency, the relay's and the node's overhead, the node's work and its
    ratio to the model's own time, tails and drops."""
    headers = [
        "resolution", "input", "publish Hz", "bare p50 ms", "relay overhead p50 ms", "node overhead p50 ms",
        "node work p50 ms", "work / model", "node p99 ms", "node dropped", "relay dropped", "bare dropped",
        "in the node p50 ms: decode / preprocess / align / inference / rest",
    ]  # fmt: skip
    rows, keys = [], dict.fromkeys((r.resolution, r.encoding) for r in matrix)
    for resolution, encoding in keys:
        runs = {r.kind: r for r in matrix if (r.resolution, r.encoding) == (resolution, encoding)}
        node, relay = runs.get("node"), runs.get("relay")
        work = (node.overhead_p50_ms if node else math.nan) - (relay.overhead_p50_ms if relay else math.nan)
        first = node or relay
        rows.append(
            [resolution, encoding, _fmt(first.publish_hz, 1), _fmt(first.bare.p50_ms)]
            + [_fmt(relay.overhead_p50_ms) if relay else "-", _fmt(node.overhead_p50_ms) if node else "-"]
            + [_fmt(work), _fmt(work / model_ms), _fmt(node.node.p99_ms) if node and node.node else "-"]
            + [_dropped(node), _dropped(relay), first.bare.dropped, _stage_split(node)]
        )
    return markdown_table(headers, rows) + _errors(matrix)


def _stage_split(run: Run | None) -> str:
    """A node run's live profile in four numbers (p50 of each stage; the rest: every other stage's p50 summed)."""
    if run is None or not run.stages:
        return "-"
    p50 = {stage: values["p50_ms"] for stage, values in run.stages["stages"].items()}
    main = ("decode", "preprocess", "align", "inference")
    rest = sum(ms for stage, ms in p50.items() if stage not in main)
    return " / ".join(f"{p50.get(stage, math.nan):.2f}" for stage in main) + f" / {rest:.2f}"


def _dropped(run: Run | None) -> str:
    return "-" if run is None or run.node is None else str(run.node.dropped)


def cameras_table(runs: list[Run]) -> str:
    rows = []
    for run in runs:
        for camera, seen in enumerate(run.per_camera):
            rows.append(
                [run.cameras, f"cam{camera}", run.published, seen["dropped"]]
                + [_fmt(seen["p50_ms"]), _fmt(seen["p99_ms"])]
            )
        if not run.per_camera:
            rows.append([run.cameras, "-", run.published, "-", "-", "-"])
    table = markdown_table(["cameras", "camera", "published", "dropped", "p50 ms", "p99 ms"], rows)
    return table + _errors(runs)


def camera_variants_table(default: list[Run], variants: dict[str, list[Run]]) -> str:
    """Several cameras in one node: the node's defaults against each variant (label: its runs), count by count."""

    def slowest(seen: list[dict], key: str) -> str:
        return _fmt(max((c[key] for c in seen if c[key] == c[key]), default=math.nan))  # NaN: no frame

    by_count = {label: {run.cameras: run for run in runs} for label, runs in variants.items()}
    rows = []
    for run in default:
        for label, which in (
            (DEFAULTS, run),
            *((label, runs.get(run.cameras)) for label, runs in by_count.items()),
        ):
            if which is None:
                continue
            seen = which.per_camera
            dropped = sum(c["dropped"] for c in seen) if seen else "-"
            rows.append([run.cameras, label, dropped, slowest(seen, "p50_ms"), slowest(seen, "p99_ms")])
    errors = _errors([run for runs in variants.values() for run in runs])
    return markdown_table(["cameras", "node", "dropped", "p50 ms", "p99 ms"], rows) + errors


BATCH_STAGES = ("decode", "preprocess", "align", "inference", "postprocess", "outputs")
BATCH_CAMERAS = 4


def batch_times_text(variants: dict[str, list[Run]]) -> str:
    """Where a batch of ``BATCH_CAMERAS`` cameras' time went in each variant's run, from its stage times."""
    parts = []
    for label, runs in variants.items():
        run = next((r for r in runs if r.cameras == BATCH_CAMERAS and r.stages), None)
        if run is None:
            continue
        p50 = {stage: values["p50_ms"] for stage, values in run.stages["stages"].items()}
        stages = ", ".join(f"{stage} {p50[stage]:.1f}" for stage in BATCH_STAGES if stage in p50)
        parts.append(f"{label}: {stages} (sum {sum(p50.get(stage, 0.0) for stage in BATCH_STAGES):.1f} ms)")
    if not parts:
        return f"No stage times were recorded for {BATCH_CAMERAS} cameras in this run."
    return (
        f"Where a batch of {BATCH_CAMERAS} cameras' time went in these runs (each stage's p50 in ms for the whole "
        "batch: a camera's frame records the batch's stages; decode includes decoding and resizing the skipped "
        "frames the pairing needs): " + "; ".join(parts) + f". The frame period is {1e3 / 30:.1f} ms; a node whose "
        "batch takes longer falls behind and skips frames. Finding the ROIs stays one camera after the other (its "
        "small numpy calls hold Python's lock and took longer spread over threads); the camera publisher and the "
        "readers share the machine's cores with the node."
    )


def stage_table(stages: dict) -> str:
    """The live profile of one run (``skd_tools.bench.stage_profile``) as a Markdown table."""
    rows = [["receive: stamp -> the subscription callback", "", *_stats(stages["receive"])]]
    rows += [[stage, stage_meaning(stage), *_stats(s)] for stage, s in stages["stages"].items()]
    rows.append(["**in the node: callback -> last output published**", "", *_stats(stages["in node"])])
    return markdown_table(["stage", "what", "frames", "p50 ms", "mean ms", "p99 ms"], rows)


def _stats(stats: dict) -> list:
    return [stats["frames"], f"{stats['p50_ms']:.3f}", f"{stats['mean_ms']:.3f}", f"{stats['p99_ms']:.3f}"]


def stage_section(profiled: Run | None, matrix: list[Run]) -> str:
    if profiled is None or not profiled.stages:
        return "No stage times were recorded in this run (see the failed runs above)."
    relay = next(
        (r for r in matrix if (r.kind, r.resolution, r.encoding) == ("relay", profiled.resolution, profiled.encoding)),
        None,
    )
    stages = profiled.stages
    return (
        "Every node of the table above recorded, for each frame, the moment it passed each stage "
        "(`SKD_NODE_STAGE_TIMES`: `skd_ros.node.stage_times`; unset, as in a deployment, it costs one empty call per "
        f"stage; the table's last column sums it up); here the {profiled.resolution} {profiled.encoding} node stage by "
        f"stage, {stages['frames']} frames of the measured window. A stage's time runs from the end of the one before "
        "it, so the means add up to the last row. For comparison in the same run: bare "
        f"receive p50 {_fmt(profiled.bare.p50_ms)} ms, node overhead p50 {_fmt(profiled.overhead_p50_ms)} ms"
        + (f", relay overhead p50 {_fmt(relay.overhead_p50_ms)} ms" if relay else "")
        + ".\n\n"
        + stage_table(stages)
    )


def agreement_text(agreement: Agreement) -> str:
    if agreement.skipped:
        return f"Not compared: {agreement.skipped}."
    rows = [
        [kind, agreement.frames, f"{agreement.min_cc[kind]:.5f}", f"{agreement.mean_cc[kind]:.5f}"]
        + [f"{agreement.max_abs_diff[kind]:.4f}", "yes" if agreement.met(kind) else "**no**"]
        for kind in agreement.min_cc
    ]
    return (
        f"`{agreement.source}`: every frame sent to the node's path (`LiveSaliency`, as the node's worker runs it) as "
        "a bgr8 or rgb8 Image or a JPEG CompressedImage (quality 90, decoded at reduced size as the node does), and "
        "run through the reference path (`SaliencyPipeline.step` on the decoded frame, skd-eval's path), same weights "
        f"and engine; Pearson CC of the two maps per frame (target: at least {MIN_CC} on every frame).\n\n"
        + markdown_table(
            ["input", "frames", "lowest CC", "mean CC", "largest abs difference", "every frame >= 0.99"], rows
        )
    )


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


def threads_table(models: dict[int, dict], runs: list[tuple[int, Run]]) -> str:
    headers = [
        "resolution", "cpu_threads", "model ms: back to back / once a frame", "node overhead p50 ms",
        "relay overhead p50 ms", "node work p50 ms", "node p99 ms", "node dropped",
    ]  # fmt: skip
    relays = {r.resolution: r for _, r in runs if r.kind == "relay"}
    rows = []
    for count, r in runs:
        if r.kind != "node":
            continue
        relay = relays.get(r.resolution)
        relay_ms = relay.overhead_p50_ms if relay else float("nan")
        model = models.get(count, {})
        model_ms = f"{_fmt(model.get('ms', float('nan')))} / {_fmt(model.get('paced_ms', float('nan')))}"
        node = r.node or Latencies()
        rows.append(
            [r.resolution, count, model_ms, _fmt(r.overhead_p50_ms), _fmt(relay_ms)]
            + [_fmt(r.overhead_p50_ms - relay_ms), _fmt(node.p99_ms), node.dropped]
        )
    return markdown_table(headers, rows) + _errors([r for _, r in runs])


def busy_neighbour_table(rows: list[dict]) -> str:
    """``skd_tools.bench.busy_neighbour``'s rows (as dicts, so that a reused run's JSON renders too)."""
    if not rows:
        return "Not measured in this run."
    headers = [
        "weights", "side", "engine", "threads", "batch", "alone ms p50 / p90",
        "beside a busy process ms p50 / p90", "p90 beside / alone",
    ]  # fmt: skip
    body = [
        [
            r["weights"],
            r["resolution"],
            r["backend"] + (" *" if r["fixed_shares"] else ""),
            r["threads"],
            r["batch"],
            f"{_fmt(r['alone_p50_ms'])} / {_fmt(r['alone_p90_ms'])}",
            f"{_fmt(r['busy_p50_ms'])} / {_fmt(r['busy_p90_ms'])}",
            f"{r['busy_p90_ms'] / r['alone_p90_ms']:.1f}x",
        ]  # fmt: skip
        for r in rows
    ]
    return markdown_table(headers, body)


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
    hot: HotPath, runs_transport: list[Run], best: str, summary: dict, profiled: Run | None = None
) -> list[str]:
    """What the profile and the runs show, with this run's numbers (``summary``: what the targets read)."""
    (slow_name, slow), (fast_name, fast) = hot.resize_ms.items()
    by_name = {r.transport: r for r in runs_transport}
    lines = [
        "### What the profile showed, and what was done",
        "",
        f"- **Resizing the camera frame was the largest cost in the node.** `{slow_name}` takes {slow:.2f} ms for one "
        "1920x1080 frame: where the frame's side is not a whole multiple of the model's (1080 of 64, 96 or 128), "
        "OpenCV takes its general area path over the whole frame. `skd_ros.core.preprocess.area_resize` first halves "
        "the frame with OpenCV's 2x2 fast path (0.5 ms for the whole frame), then, area averaging being separable, "
        "runs a whole-number axis where there is one (960/64 = 15) as a 1-D pass over the half frame and the "
        f"fractional rest on a small image: {fast:.2f} ms here. The 2x2 step moves a fractional block edge by up to "
        "half a source pixel: on camera frames the result stays within 1-3 grey levels of the 2-D call, mean "
        "difference about 0.2 (test_backends.py checks several sizes). The node, skd-eval, skd-demo and the training "
        "caches all resize with it, so they see the same pixels. The 2x2 step starts at 6x the model's side on both "
        "axes: 1280x720 -> 96x96 has no whole-number factor on either axis (13.3, 7.5) and took the general path over "
        "the whole frame; halved first it takes about a third of that time (2.6 -> 0.9 ms, measured during "
        "development), within 2 grey levels of the 2-D call.",
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
    if profiled is not None and profiled.stages:
        lines += live_findings(profiled, summary)
    lines.append("")
    return lines


def live_findings(profiled: Run, summary: dict) -> list[str]:
    """What the live profile shows and what was done about it, with this run's numbers."""
    stages = {name: values["p50_ms"] for name, values in profiled.stages["stages"].items()}
    publish = sum(ms for name, ms in stages.items() if name.startswith(("build ", "publish ")))
    around = sum(ms for name, ms in stages.items() if name != "inference")
    model, relay = summary["model_ms"], summary.get("relay_overhead_p50_ms_1080p", math.nan)
    paced = summary.get("model_paced_ms")
    alone = f"{model:.3f} ms back to back" + (f", {paced:.3f} ms once a frame" if paced is not None else "")

    def ms(stage: str) -> str:
        return f"{stages.get(stage, math.nan):.3f} ms"

    # a checkpoint trained on aligned pairs costs the node a registration per frame (skd_ros.core.registration)
    aligned = f"the alignment of the previous frame {ms('align')}, " if stages.get("align", 0.0) > 0.1 else ""

    lines = [
        f"- **The live profile** ({profiled.resolution} {profiled.encoding}, p50 per stage): the hand-off from the "
        f"subscription callback to the worker {ms('hand-off to the worker')}, decoding {ms('decode')}, the resize "
        f"and normalisation {ms('preprocess')}, {aligned}inference {ms('inference')} (the model alone in this run: "
        f"{alone}), ROIs and peak {ms('postprocess')}, the outputs' content {ms('outputs')}, building and "
        f"publishing the messages {publish:.3f} ms; everything but inference {around:.2f} ms. An rclpy node that does "
        f"no work costs {_fmt(relay)} ms p50 in the same place (`relay`): its own receive, callback and publish, "
        "which the node's overhead also contains.",
        "- **A model called once a frame runs cold.** Called back to back, the model keeps this machine's caches "
        "warm and ONNX Runtime's second intra-op thread awake; in a node it runs once every 33 ms, and that "
        "thread, which sleeps between steps instead of spinning, has to be woken at each of the network's "
        "parallel steps. Measured during development on this 2-core VM (the default weights at 128x128, ONNX "
        "Runtime on 2 threads, p50): 2.4 ms back to back, 4.3 ms once a frame. With spinning allowed "
        "(`session.intra_op.allow_spinning` 1): 2.1 and 2.5 ms, but the idle thread then spins through the whole "
        "frame period (36 ms of CPU per 36-ms frame) and, beside a busy process, the once-a-frame call took 8.1 "
        "ms against 4.4 ms; with spinning stopped after each call (`session.force_spinning_stop` 1) once a frame "
        "took 2.8-5.1 ms (p90 8 ms), 6.6-8.2 ms beside a busy process. So the threads sleep, and the node's "
        "inference stage is that cold call, not extra work of the node's; on one thread, which wakes nothing, the "
        "once-a-frame call costs 1.1x its back-to-back time (the threads table). The work targets read the warm "
        "time, as the issue defines them; the targets table also gives the work against the paced time.",
        "- **Hand-off.** rclpy's executor spends a few hundred microseconds of Python after each callback preparing "
        "its next wait (measured during development on the loaded 2-core machine: at least 0.27 ms per `spin_once` "
        "of this node, which has a dozen services, a timer and two subscriptions), holding the interpreter lock; a "
        "worker woken by the callback had to wait for it. The callback now waits, without the lock, until an idle "
        "worker holds the frame (`NewestPairMailbox.put`, at most 5 ms), so the worker starts at once and the "
        "executor's Python runs beside the worker's resize, which releases the lock (so does ncnn's inference). In a "
        "two-thread model of it (0.3 ms of executor Python after each put) the median hand-off went from 0.36 ms to "
        "0.08 ms. The GIL switch interval is left at 5 ms: nothing in the node holds the lock that long. rclpy's "
        "C++ `EventsExecutor` (Kilted, experimental) was tried during development and hung with this lifecycle "
        "node; it is not used.",
        "- **Only what someone reads is computed.** Each output's subscriber count is read per frame: ROIs are not "
        "extracted while none of `~/rois`, `~/bearings`, `~/markers`, `~/overlay` has a reader, the ROI records "
        "(ids, rays) only for those, and no message is built for an output nobody reads. The runs above read "
        "`~/saliency` and `~/rois`, so they pay for the ROIs, as a planner's node does.",
        "- **Less interpreter work per frame.** ROI extraction makes fewer numpy calls (no `np.r_`, the mask as a "
        "view, one sort), the `~/rois` records are built in one call instead of one per field, and the ROI tracker "
        "computes each box's half diagonal once instead of once per pair; same boxes, scores, ids and records bit "
        "for bit (test_core.py, test_node_live.py). Counted with callgrind during development (instructions do not "
        "depend on the machine's load): ROIs and peak 695k -> 458k instructions a frame, the outputs' content "
        "750k -> 620k.",
        "- **The resize in two halves, at once.** OpenCV's general area path runs on one thread. With a helper "
        "thread (`SaliencyEstimator.resize_helper`, where the process has a second core; with several cameras and a "
        "camera pool the pool's threads take the cameras instead) `area_resize` resizes the frame's top half while "
        "the helper resizes the bottom half: where both heights are even each output row averages source rows of one "
        "half only, so the input is the same to the bit (test_core.py). 1920x1080 -> 128x128 in process during "
        "development: 2.9 -> 1.9 ms for the preprocess stage; in the node's live profile it went from 3.64 ms (run "
        "node31) to about 3 ms (the second core is also the bare subscriber's and the publisher's, busy with the "
        "same frame). Two more exact savings: the normalisation is a lookup table per uint8 level (0.35 -> 0.06 ms "
        "at 128x128, the same float32 values) and the alignment warps the previous frame plane by plane (no "
        "HxWx3 copies, about 0.1 ms less). Not used: repeated 2x2 halving down to about twice the model's side (tried "
        "twice during development): at 128 it would cut the resize to about half again (2.6 -> 1.4 ms), but it "
        "moves the input by up to 24 grey levels from the exact area average on sharp aerial imagery (DOTA tiles, "
        "mean 1.25), against 6 now. The colour order is swapped in the lookup, on the small image; JPEG frames are "
        "decoded at 1/2 to 1/8 size by the decoder itself.",
    ]
    return lines
