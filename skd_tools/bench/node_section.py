"""skd-bench, part 3: the saliency node end to end against bare ROS transport and a do-nothing relay, the
transport options a user has, where a frame's time goes inside the live node, several cameras in one node, and
whether the node's maps agree with the reference path's. Plans the runs (``node_runs`` measures each in fresh
processes), picks the fastest transport, and sums up what the targets read."""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from skd_ros.core.checkpoint import DEFAULT_WEIGHTS
from skd_ros.runtime import SaliencyEstimator
from skd_tools.bench.agreement import real_footage_agreement
from skd_tools.bench.busy_neighbour import engines_beside_a_busy_process
from skd_tools.bench.figures import plot_node_work, plot_runs
from skd_tools.bench.hot_path import profile_hot_path
from skd_tools.bench.latencies import Run, pool, run_as_dict
from skd_tools.bench.model_timing import paced_times, time_calls
from skd_tools.bench.node_report import node_section, stage_table
from skd_tools.bench.node_runs import SEVERAL_CAMERAS_WEIGHTS, NodeOptions, measure
from skd_tools.bench.transports import LOSS_TOLERANCE, TRANSPORT_BY_NAME, TRANSPORTS, Transport

MATRIX_RESOLUTIONS = ("640x480", "1280x720", "1920x1080", "3840x2160")
MATRIX_ENCODINGS = ("bgr8", "rgb8", "jpeg")
PROFILED = ("1920x1080", "bgr8")  # the node run whose live profile the report shows stage by stage
CAMERA_COUNTS = (1, 2, 4, 6)
THREADS_RESOLUTIONS = ("1920x1080", "3840x2160")  # where the node's inference threads are compared
CAMERAS_RESOLUTION = "1280x720"
CAMERA_PERIOD_S = 1 / 30
PACED_CALLS = 60


def other_thread_count(threads: int) -> int:
    """The cpu_threads a run compares the node's with: 1 against any other count, 2 against 1."""
    return 2 if threads == 1 else 1


def model_time(node: NodeOptions, budget_s: float) -> tuple[NodeOptions, dict]:
    """The model alone in this process, on the node's engine (``auto`` raced once here, so that every node of the
    run uses the same engine and starts without racing): (the options with that engine named, {backend: its
    description, resolution: the model's side, ms: p50 of one pair at it, batch 1, the numpy in and out included,
    paced_ms: the same call once every camera period, the thread asleep in between, as in a node at 30 FPS})."""
    estimator = SaliencyEstimator(
        node.weights or None, node.resolution or None, "cpu", backend=node.backend, threads=node.cpu_threads or None
    )
    rng = np.random.default_rng(0)
    side = estimator.resolution
    previous, current = (rng.standard_normal((3, side, side), dtype=np.float32) for _ in range(2))
    times = time_calls(lambda: estimator.infer(previous, current), budget_s)
    # back to back, the model stays warm; a node calls it once a frame, and then its engine's sleeping threads are
    # woken at each parallel step (ONNX Runtime on two threads: about twice as long; node_report's findings)
    paced = paced_times(lambda: estimator.infer(previous, current), PACED_CALLS, CAMERA_PERIOD_S)
    model = {
        "backend": estimator.backend.describe(), "resolution": side, "ms": 1e3 * float(np.median(times)),
        "runs": len(times), "paced_ms": 1e3 * float(np.median(paced)), "paced_runs": len(paced),
    }  # fmt: skip
    return replace(node, backend=estimator.backend.name), model


def measure_node_section(args, figures_dir: Path) -> tuple[dict, list[str], dict]:
    """skd-bench's node section: (summary for the targets, Markdown lines, raw numbers)."""
    seconds, warmup = args.node_seconds, min(3.0, args.node_seconds)
    node = NodeOptions(backend=args.node_backend, cpu_threads=args.node_threads, weights=str(args.weights or ""))
    node, model = model_time(node, 0.5 if args.quick else 3.0)
    resolutions = ["1920x1080"] if args.quick else list(MATRIX_RESOLUTIONS)
    encodings = ["bgr8", "jpeg"] if args.quick else list(MATRIX_ENCODINGS)
    camera_counts = [1, 2] if args.quick else list(CAMERA_COUNTS)
    transport_names = ["default", "shm"] if args.quick else [t.name for t in TRANSPORTS]

    def one(kind: str, transport: Transport, resolution: str, rate: float = 30.0, **more) -> Run:
        return measure(kind, transport, resolution, rate, seconds, warmup, args.domain_id, node, **more)

    # Rounds interleave the options, so that a burst of load elsewhere does not decide the ranking alone.
    plan = [name for _ in range(args.transport_rounds) for name in transport_names]
    rounds: dict[str, list[Run]] = {name: [] for name in transport_names}
    for name in tqdm(plan, desc="transport options", unit="run"):
        rounds[name].append(one("bare", TRANSPORT_BY_NAME[name], "1920x1080"))
    runs_transport = [pool(runs) for runs in rounds.values()]
    # A single lost frame in a run happens to every shared-memory option now and then (best effort); a
    # zero-drop rule would pick among them by chance, so up to LOSS_TOLERANCE of the frames may be lost.
    complete = [
        r
        for r in runs_transport
        if not r.error and r.bare.received and r.bare.dropped <= LOSS_TOLERANCE * (r.bare.received + r.bare.dropped)
    ]
    raw = [
        r
        for r in complete
        if not TRANSPORT_BY_NAME[r.transport].compressed and not TRANSPORT_BY_NAME[r.transport].resize
    ]
    best = TRANSPORT_BY_NAME[min(raw, key=lambda r: r.bare.p50_ms).transport if raw else "default"]

    # The node and, in its place, a relay that does no work, over the chosen transport: every size and input. Every
    # node records its stage times (microseconds a frame), so that each row says where its time went.
    matrix_plan = [(kind, res, enc) for res in resolutions for enc in encodings for kind in ("node", "relay")]
    matrix = [
        one(kind, best, res, encoding=enc, stage_times=kind == "node")
        for kind, res, enc in tqdm(matrix_plan, desc="node and relay", unit="run")
    ]
    extra_plan = [("node", best, "1920x1080", 0.0)]  # the publisher as fast as it can: the node's throughput
    if not args.quick:  # what a camera-side resize saves end to end
        extra_plan.append(("node", TRANSPORT_BY_NAME["resize-320"], "1920x1080", 30.0))
    extra = [one(*plan) for plan in tqdm(extra_plan, desc="node, other conditions", unit="run")]
    # the node's inference threads against the other choice, interleaved with a relay at each size (bgr8), so
    # that the comparison is within one stretch of this machine's load
    other = replace(node, cpu_threads=other_thread_count(node.cpu_threads))
    threads_models = {node.cpu_threads: model, other.cpu_threads: model_time(other, 0.5 if args.quick else 3.0)[1]}
    threads_plan = [
        (kind, options, res)
        for res in (["1920x1080"] if args.quick else THREADS_RESOLUTIONS)
        for kind, options in (("relay", node), ("node", node), ("node", other))
    ]
    threads_runs = [
        (options.cpu_threads, measure(kind, best, res, 30.0, seconds, warmup, args.domain_id, options))
        for kind, options, res in tqdm(threads_plan, desc="node, inference threads", unit="run")
    ]
    # each count with the node's default camera_threads (one camera after the other), beside it one per core, and
    # the weights suggested for several cameras (unless they are the ones measured)
    variants = {"spread": replace(node, camera_threads=0)}
    if Path(node.weights or DEFAULT_WEIGHTS).name != SEVERAL_CAMERAS_WEIGHTS:
        variants["light"] = replace(node, weights=SEVERAL_CAMERAS_WEIGHTS)
    cameras_plan = [  # interleaved, so that a burst of load elsewhere hits all; one camera: only the default
        (count, name, options)
        for count in camera_counts
        for name, options in {"default": node, **variants}.items()
        if count > 1 or name == "default"
    ]
    cameras_runs = {name: [] for name in ("default", *variants)}
    for count, name, options in tqdm(cameras_plan, desc="cameras in one node", unit="run"):
        run = measure(
            "batched", best, CAMERAS_RESOLUTION, 30.0, seconds, warmup, args.domain_id, options, count, stage_times=True
        )
        cameras_runs[name].append(run)
    cameras, cameras_spread = cameras_runs["default"], cameras_runs["spread"]
    cameras_light = cameras_runs.get("light", [])
    agreement = real_footage_agreement(
        SaliencyEstimator(
            node.weights or None, node.resolution or None, "cpu", backend=node.backend, threads=node.cpu_threads or None
        )
    )
    hot = profile_hot_path("1920x1080", 100 if args.quick else 300, node)
    busy_weights = [node.weights or None] + ([] if args.quick else [SEVERAL_CAMERAS_WEIGHTS])
    busy_rows = [asdict(row) for row in engines_beside_a_busy_process(list(dict.fromkeys(busy_weights)), args.quick)]

    figures = [
        plot_node_work(matrix, model["ms"], figures_dir / "bench_node_work.png"),
        plot_runs(
            [r for r in matrix if r.encoding == "bgr8"] + extra + cameras,
            figures_dir / "bench_node_latency.png",
            "saliency node and relay vs bare transport (same runs)",
        ),
        plot_runs(runs_transport, figures_dir / "bench_transport.png", "transport options, 1920x1080 @ 30 FPS, bare"),
    ]
    summary = node_summary(best.name, model, matrix, cameras, agreement, hot, cameras_light)
    profiled = next((r for r in matrix if (r.kind, r.resolution, r.encoding) == ("node", *PROFILED)), None)
    if profiled is not None and profiled.stages:
        print(f"\nwhere a {PROFILED[0]} {PROFILED[1]} frame's time goes in the node:", file=sys.stderr)
        print(stage_table(profiled.stages), file=sys.stderr)
    lines = node_section(
        node, seconds, warmup, best.name, model, matrix, profiled, extra, cameras, cameras_spread, cameras_light,
        runs_transport, agreement, hot, summary, figures, args.out, threads_models, threads_runs, busy_rows,
    )  # fmt: skip
    raw_numbers = {
        "model": model,
        "matrix": [run_as_dict(r) for r in matrix],
        "e2e": [run_as_dict(r) for r in extra],
        "threads": {
            "models": {str(count): timing for count, timing in threads_models.items()},
            "runs": [{"cpu_threads": count, **run_as_dict(r)} for count, r in threads_runs],
        },
        "busy_neighbour": busy_rows,
        "cameras": [run_as_dict(r) for r in cameras],
        "cameras_spread": [run_as_dict(r) for r in cameras_spread],
        "cameras_light": [run_as_dict(r) for r in cameras_light],
        "transport": [run_as_dict(r) for r in runs_transport],
        "agreement": asdict(agreement),
        "hot_path": asdict(hot),
        "summary": summary,
    }
    return summary, lines, raw_numbers


def matrix_cell(matrix: list[Run], resolution: str, encoding: str) -> dict:
    """One size and input of the matrix: the node's and the relay's overhead over bare (p50), their difference (the
    node's work), drops, and the rate the publisher reached; NaN where a run measured nothing."""
    runs = {r.kind: r for r in matrix if (r.resolution, r.encoding) == (resolution, encoding)}
    node, relay = runs.get("node"), runs.get("relay")
    nan = float("nan")
    cell = {
        "node_overhead_p50_ms": node.overhead_p50_ms if node else nan,
        "relay_overhead_p50_ms": relay.overhead_p50_ms if relay else nan,
        "node_dropped": node.node.dropped if node and node.node else None,
        "relay_dropped": relay.node.dropped if relay and relay.node else None,
        "publish_hz": node.publish_hz if node else nan,
    }
    cell["work_p50_ms"] = cell["node_overhead_p50_ms"] - cell["relay_overhead_p50_ms"]
    return cell


def cameras_summary(runs: list[Run]) -> dict:
    """Per count of cameras: every camera's drops added up, the slowest camera's p99, and the run's error."""
    return {
        str(run.cameras): {
            "dropped": sum(c["dropped"] for c in run.per_camera) if run.per_camera else None,
            "p99_ms": max((c["p99_ms"] for c in run.per_camera), default=float("nan")),
            "error": run.error,
        }
        for run in runs
    }


def node_summary(transport: str, model: dict, matrix, cameras, agreement, hot, cameras_light=()) -> dict:
    """What the targets read, as plain numbers (also what --reuse keeps). ``cameras_light``: the runs of several
    cameras with ``SEVERAL_CAMERAS_WEIGHTS``."""
    cells = {
        f"{res} {enc}": matrix_cell(matrix, res, enc)
        for res, enc in dict.fromkeys((r.resolution, r.encoding) for r in matrix)
    }
    full_hd = cells.get("1920x1080 bgr8", {})
    summary = {
        "transport": transport,
        "model_backend": model["backend"],
        "model_ms": model["ms"],
        "model_paced_ms": model.get("paced_ms"),  # absent from runs before it was measured
        "matrix": cells,
        "cameras": cameras_summary(cameras),
        "agreement": {
            "frames": agreement.frames,
            "min_cc": agreement.min_cc,
            "skipped": agreement.skipped,
        },
        # the earlier node target's numbers (1920x1080 bgr8 at 30 FPS)
        "work_ms_1080p": sum(hot.stage_ms.values()),
        "paced_work_ms_1080p": sum(hot.paced_stage_ms.values()),
    }
    if cameras_light:
        summary["cameras_light"] = {"weights": SEVERAL_CAMERAS_WEIGHTS, **cameras_summary(cameras_light)}
    if full_hd and full_hd["node_overhead_p50_ms"] == full_hd["node_overhead_p50_ms"]:
        summary["overhead_p50_ms_1080p"] = full_hd["node_overhead_p50_ms"]
        summary["drops_30fps_1080p"] = full_hd["node_dropped"]
    if full_hd and full_hd["relay_overhead_p50_ms"] == full_hd["relay_overhead_p50_ms"]:
        summary["relay_overhead_p50_ms_1080p"] = full_hd["relay_overhead_p50_ms"]
    return summary
