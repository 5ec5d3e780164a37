"""skd-bench, part 3: the saliency node end to end against bare ROS transport, the transport options a
user has, and a profile of the node's hot path. Plans the runs (``node_runs`` measures each in fresh
processes), picks the fastest transport, and sums up what the targets read."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from skd_tools.bench.figures import plot_runs
from skd_tools.bench.hot_path import profile_hot_path
from skd_tools.bench.latencies import MULTI_CAMERA_KINDS, Run, pool, run_as_dict
from skd_tools.bench.node_report import node_section
from skd_tools.bench.node_runs import NodeOptions, measure
from skd_tools.bench.transports import LOSS_TOLERANCE, RESOLUTIONS, TRANSPORT_BY_NAME, TRANSPORTS, Transport


def measure_node_section(args, figures_dir: Path) -> tuple[dict, list[str], dict]:
    """skd-bench's node section: (summary for the targets, Markdown lines, raw numbers)."""
    seconds, warmup = args.node_seconds, min(3.0, args.node_seconds)
    node = NodeOptions(backend=args.node_backend, cpu_threads=args.node_threads, weights=str(args.weights or ""))
    resolutions = ["1920x1080"] if args.quick else list(RESOLUTIONS)
    rates = [30.0] if args.quick else [30.0, 0.0]
    transport_names = ["default", "shm"] if args.quick else [t.name for t in TRANSPORTS]

    def one(kind: str, transport: Transport, resolution: str, rate: float, cameras: int = 1) -> Run:
        return measure(kind, transport, resolution, rate, seconds, warmup, args.domain_id, node, cameras)

    # Rounds interleave the options, so that a burst of load elsewhere does not decide the ranking alone.
    plan = [name for _ in range(args.transport_rounds) for name in transport_names]
    rounds: dict[str, list[Run]] = {name: [] for name in transport_names}
    for name in tqdm(plan, desc="transport options", unit="run"):
        rounds[name].append(one("bare", TRANSPORT_BY_NAME[name], "1920x1080", 30.0))
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
    best = min(raw, key=lambda r: r.bare.p50_ms).transport if raw else "default"

    e2e_plan = [
        (TRANSPORT_BY_NAME[t], res, rate)
        for t in dict.fromkeys(["default", best])
        for res in resolutions
        for rate in rates
    ]
    if not args.quick:  # what the camera-side options cost or save end to end
        e2e_plan += [(TRANSPORT_BY_NAME[t], "1920x1080", 30.0) for t in ("resize-320", "jpeg")]
    runs_e2e = [one("node", *plan) for plan in tqdm(e2e_plan, desc="node end to end", unit="run")]
    # The same path with a node that does no work: what any rclpy node in between adds.
    relay_run = one("relay", TRANSPORT_BY_NAME[best], "1920x1080", 30.0)
    runs_e2e.append(relay_run)
    if not args.quick:  # several cameras: one node batching them, or a node each
        runs_e2e += [one(kind, TRANSPORT_BY_NAME[best], "640x480", 30.0, cameras=2) for kind in MULTI_CAMERA_KINDS]
    hot = profile_hot_path("1920x1080", 100 if args.quick else 300, node)

    figures = [
        plot_runs(runs_e2e, figures_dir / "bench_node_latency.png", "saliency node vs bare transport (same runs)"),
        plot_runs(runs_transport, figures_dir / "bench_transport.png", "transport options, 1920x1080 @ 30 FPS, bare"),
    ]
    target_run = next((r for r in runs_e2e if (r.transport, r.resolution, r.rate) == (best, "1920x1080", 30.0)), None)
    # the node's own work per frame, without transport: a lower bound on what it adds to a frame's latency
    summary = {
        "transport": best,
        "work_ms_1080p": sum(hot.stage_ms.values()),
        "paced_work_ms_1080p": sum(hot.paced_stage_ms.values()),
    }
    if (
        target_run is not None
        and target_run.node is not None
        and target_run.overhead_p50_ms == target_run.overhead_p50_ms
    ):
        summary |= {"overhead_p50_ms_1080p": target_run.overhead_p50_ms, "drops_30fps_1080p": target_run.node.dropped}
    if relay_run.overhead_p50_ms == relay_run.overhead_p50_ms:
        summary["relay_overhead_p50_ms_1080p"] = relay_run.overhead_p50_ms
    lines = node_section(node, seconds, warmup, runs_e2e, runs_transport, best, hot, summary, figures, args.out)
    raw_numbers = {
        "e2e": [run_as_dict(r) for r in runs_e2e],
        "transport": [run_as_dict(r) for r in runs_transport],
        "hot_path": asdict(hot),
        "summary": summary,
    }
    return summary, lines, raw_numbers
