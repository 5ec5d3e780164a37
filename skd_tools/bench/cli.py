"""skd-bench: how fast the SKD model and the saliency node are, measured against the hardware and
against the paper, written to docs/BENCHMARKS.md with figures in docs/figures/bench_*.png.

Sections (each can be skipped):

1. **Model only** — every available inference backend (``skd_ros.engines.backends``) x resolution x batch x
   threads (1 and all cores): latency p50/p99 per call, frames per second (batch / p50), parameters,
   memory footprint (weights + the largest layer's working set, skd-eval's definition) and the
   achieved FLOP rate as a fraction of this machine's single-thread SGEMM rate (times the thread
   count), measured in the same run. FLOPs are counted analytically: 2 x the multiply-adds of every
   convolution and transposed convolution.
2. **Reduced-precision accuracy** — int8 / bf16 versus fp32 on a labelled validation split (NSS, CC
   via skd-eval), plus the map difference on synthetic frames.
3. **Node end to end and transport** — ``skd_tools.bench.node_section``: camera publisher -> node ->
   subscriber next to bare transport, and the transport options (QoS, Fast DDS shared memory / data
   sharing, compressed input, camera-side resize), with a cProfile of the node's hot path.

This is a benchmark, not a test: nothing is asserted; the summary table reads the numbers against the
targets of issue 7. Timings on a shared machine are noisy: the report records the load average before
and after. ``--quick`` is a smoke run (two resolutions, short budgets).

This module is the command line: it runs or reuses (``--reuse``) each section and writes the report.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

from skd_ros.core.checkpoint import default_weights_path, load_default_or, resolve_weights
from skd_ros.core.device import usable_cores
from skd_ros.engines.backends import BACKENDS
from skd_tools.bench.accuracy import run_accuracy
from skd_tools.bench.figures import plot_gpu_fps, plot_model
from skd_tools.bench.int8_portability import run_int8_portability
from skd_tools.bench.machine import cpu_name, gpu_conditions, load_average, package_version, sgemm_gflops
from skd_tools.bench.model_timing import CPU, GPU_SUFFIX, apply_sgemm, run_model_only
from skd_tools.bench.node_runs import NodeOptions
from skd_tools.bench.node_section import measure_node_section
from skd_tools.bench.report import (
    accuracy_section,
    gpu_section,
    int8_portability_section,
    model_section,
    splice_node_section,
    write_report,
)
from skd_tools.bench.saved_runs import load_reused, reused_note, write_run
from skd_tools.bench.targets import target_rows
from skd_tools.bench.transports import DEFAULT_DOMAIN_ID


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="skd-bench", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: resolutions 32 and 64, short budgets")
    parser.add_argument("--out", type=Path, default=Path("docs/BENCHMARKS.md"), help="report (Markdown)")
    parser.add_argument("--figures", type=Path, default=None, help="figure folder (default: <out dir>/figures)")
    parser.add_argument("--json", type=Path, default=None, help="also write every measured number here")
    parser.add_argument("--weights", type=Path, default=None, help="fused checkpoint (default: the shipped weights)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda[:N] for the GPU table (the CPU table is kept)")
    parser.add_argument(
        "--gpu-only",
        action="store_true",
        help="with --device cuda: time only the GPU table (the CPU table comes from --reuse, or is left out)",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        default=None,
        choices=sorted(BACKENDS),
        help="backends to time (default: all available here)",
    )
    parser.add_argument("--resolutions", nargs="+", type=int, default=None, help="default 32 64 128 256")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 64])
    parser.add_argument("--threads", nargs="+", type=int, default=None, help="default: 1 and all usable cores")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timing per row (default 1.0, quick 0.2)")
    parser.add_argument("--data", type=Path, default=None, help="labelled dataset for the NSS/CC of int8/bf16")
    parser.add_argument("--split", default="val")
    parser.add_argument("--max-frames", type=int, default=20, help="frames per video for the accuracy run")
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument(
        "--skip-emulation", action="store_true", help="measure int8 on this CPU only, not on the emulated AVX2-only one"
    )
    parser.add_argument("--skip-node", action="store_true", help="skip node end-to-end, transport and profile")
    parser.add_argument(
        "--node-only",
        action="store_true",
        help="measure only the node section (node, relay and bare runs, the live profile, cameras, map agreement, "
        "transport options) and put it in place of the node section of the existing --out report, keeping the rest",
    )
    parser.add_argument("--node-backend", default="auto", help="the node's inference backend in the node runs")
    parser.add_argument(
        "--node-threads", type=int, default=NodeOptions.cpu_threads, help="the node's cpu_threads in the node runs"
    )
    parser.add_argument("--domain-id", type=int, default=DEFAULT_DOMAIN_ID, help="ROS_DOMAIN_ID for the node runs")
    parser.add_argument("--transport-rounds", type=int, default=None, help="runs per transport option (default 2)")
    parser.add_argument("--node-seconds", type=float, default=None, help="seconds per node/transport run (default 8)")
    parser.add_argument(
        "--reuse",
        type=Path,
        nargs="+",
        default=[],
        help="--json files of earlier runs: each section not measured now (CPU model table, GPU model table, "
        "accuracy, node) is taken from the last of these files that holds it",
    )
    parser.add_argument("--note", default="", help="free text on the load conditions, copied into the report")
    args = parser.parse_args(argv)
    args.resolutions = args.resolutions or ([32, 64] if args.quick else [32, 64, 128, 256])
    args.threads = args.threads or sorted({1, usable_cores()})
    args.budget = args.budget or (0.2 if args.quick else 1.0)
    args.node_seconds = args.node_seconds or (3.0 if args.quick else 8.0)
    args.transport_rounds = args.transport_rounds or (1 if args.quick else 2)
    args.figures = args.figures or args.out.parent / "figures"
    if args.gpu_only and not args.device.startswith("cuda"):
        parser.error("--gpu-only needs --device cuda[:N]")
    if args.node_only and (args.skip_node or args.gpu_only or args.reuse):
        parser.error("--node-only measures the node section alone: no --skip-node, --gpu-only or --reuse with it")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: PyTorch sees no CUDA device here")
    return args


def main(argv=None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import onnxruntime

    started = time.monotonic()
    load_before = load_average()
    print(f"skd-bench: {cpu_name()}, {usable_cores()} cores, load {load_before}", file=sys.stderr)
    if args.node_only:
        return node_only(args, started, load_before, argv)
    sgemm_start = sgemm_gflops()
    print(f"single-thread SGEMM: {sgemm_start['gflops']:.1f} GFLOP/s", file=sys.stderr)
    model, _, meta = load_default_or(args.weights)
    weights = resolve_weights(args.weights) if args.weights else default_weights_path()  # the file the report names
    weights_text = "untrained (seed 0): no weights shipped yet" if meta.get("untrained") else str(weights)
    device = torch.device(args.device)
    backends = args.backends or [b for b in BACKENDS if b != "torch-compile" or not args.quick]
    args.figures.mkdir(parents=True, exist_ok=True)
    reused = load_reused(args.reuse)
    run_info = {
        "command": "skd-bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_before": load_before,
    }

    # Each section is measured now or taken from --reuse; `sources` holds the reused ones.
    sources: dict[str, dict] = {}
    cpu_rows, skipped = [], {}
    if not args.skip_model and not args.gpu_only:
        cpu_rows, skipped = run_model_only(
            model, backends, args.resolutions, args.batches, args.threads, CPU, args.budget
        )
    elif "cpu_model" in reused:
        sources["cpu_model"] = reused["cpu_model"]
        cpu_rows, skipped = sources["cpu_model"]["rows"], dict(sources["cpu_model"]["skipped"])
    gpu_rows, gpu_info = [], {}
    if not args.skip_model and device.type == "cuda":
        gpu_rows, gpu_skipped = run_model_only(
            model, backends, args.resolutions, args.batches, [1], device, args.budget
        )
        skipped.update({f"{k}{GPU_SUFFIX}": v for k, v in gpu_skipped.items()})
        gpu_info = gpu_conditions(device)
    elif "gpu_model" in reused:
        sources["gpu_model"] = reused["gpu_model"]
        gpu_rows, gpu_info = sources["gpu_model"]["rows"], sources["gpu_model"]["conditions"]
        skipped.update(sources["gpu_model"]["skipped"])

    accuracy, accuracy_note, portability, portability_note = [], "", [], ""
    if not args.skip_accuracy:
        accuracy, accuracy_note = run_accuracy(args.weights, 0, args.data, args.split, args.max_frames)
        portability, portability_note = run_int8_portability(args.weights, emulate=not args.skip_emulation)
    elif "accuracy" in reused:
        sources["accuracy"] = reused["accuracy"]
        accuracy, accuracy_note = sources["accuracy"]["rows"], sources["accuracy"]["note"]
        portability, portability_note = sources["accuracy"]["portability"], sources["accuracy"]["portability_note"]

    node_summary, node_lines, node_json = None, ["## Node end to end", "", "Skipped (--skip-node).", ""], {}
    if not args.skip_node:
        node_summary, node_lines, node_json = measure_node_section(args, figures_dir=args.figures)
    elif "node" in reused:
        sources["node"] = node = reused["node"]
        node_summary, node_json = node["summary"], node["json"]
        node_lines = node["lines"][:1] + ["", reused_note(node)] + node["lines"][1:]

    # The reference rate: the better of the SGEMM runs before and after (load on a shared machine only
    # ever lowers a measurement, so the higher one is closer to what the core can do).
    sgemm_end = sgemm_gflops()
    sgemm = {**sgemm_start, "start": sgemm_start["gflops"], "end": sgemm_end["gflops"]}
    sgemm["gflops"] = max(sgemm["start"], sgemm["end"])
    model_sgemm = sources["cpu_model"]["sgemm"] if "cpu_model" in sources else sgemm
    apply_sgemm(cpu_rows, model_sgemm["gflops"])
    figures = []
    if cpu_rows:
        figures = plot_model(
            cpu_rows, model_sgemm["gflops"], args.figures / "bench_model_fps.png", args.figures / "bench_vs_sgemm.png"
        )
    gpu_figure = None
    if gpu_rows:
        gpu_figure = plot_gpu_fps(gpu_rows, args.figures / "bench_gpu_fps.png")
    resolutions = sorted({r.resolution for r in cpu_rows + gpu_rows}) or args.resolutions
    gpu_note = reused_note(sources["gpu_model"]) if "gpu_model" in sources else ""
    gpu_lines = gpu_section(gpu_rows, gpu_info, gpu_note, gpu_figure, args.out)
    model_lines = model_section(cpu_rows, gpu_rows, skipped, model, figures, args.out, resolutions, gpu_lines)
    if "cpu_model" in sources:
        note = f"{reused_note(sources['cpu_model'])} Its single-thread SGEMM rate: {model_sgemm['gflops']:.1f} GFLOP/s."
        model_lines[1:1] = ["", note]

    accuracy_lines = accuracy_section(accuracy, accuracy_note) + int8_portability_section(portability, portability_note)
    if "accuracy" in sources:
        accuracy_lines[1:1] = ["", reused_note(sources["accuracy"])]

    run_info["load_after"] = load_average()
    gpu_text = "none in this run" if not gpu_rows else f"{gpu_rows[0].device} (see the GPU table)"
    if not gpu_rows:
        gpu_text += (
            "; the CUDA backends (cuda-graphs-fp16, onnxruntime on CUDA, onnxruntime-tensorrt) are written and "
            "unit-tested only where a GPU is present: their numbers are not measured here"
        )
    context = {
        **run_info,
        "minutes": (time.monotonic() - started) / 60,
        "cpu": cpu_name(),
        "cores": usable_cores(),
        "onnxruntime": onnxruntime.__version__,
        "ncnn": package_version("ncnn"),
        "note": args.note,
        "sgemm": sgemm,
        "weights": weights_text,
        "gpu": gpu_text,
        "targets": target_rows(cpu_rows, gpu_rows, accuracy),
        "model_section": model_lines,
        "accuracy_section": accuracy_lines,
        "node_section": node_lines,
    }
    write_report(args.out, context)
    if args.json:
        write_run(
            args.json,
            run_info,
            sources,
            gpu_conditions=gpu_info,
            sgemm=model_sgemm,
            model_rows=cpu_rows + gpu_rows,
            skipped=skipped,
            accuracy=accuracy,
            accuracy_note=accuracy_note,
            portability=portability,
            portability_note=portability_note,
            node_json=node_json,
            node_summary=node_summary,
            node_lines=node_lines,
            targets=context["targets"],
        )
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def node_only(args: argparse.Namespace, started: float, load_before: str, argv) -> int:
    """``--node-only``: the node section measured now, written into the existing report in place of its own."""
    command = "skd-bench " + " ".join(sys.argv[1:] if argv is None else argv)
    args.figures.mkdir(parents=True, exist_ok=True)
    summary, lines, raw = measure_node_section(args, figures_dir=args.figures)
    run_info = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M %Z"), "load_before": load_before}
    run_info["load_after"] = load_average()
    note = (
        f"*Measured by `{command}` on {run_info['date']} ({(time.monotonic() - started) / 60:.0f} min; {cpu_name()}, "
        f"{usable_cores()} cores; load average before: {load_before}, after: {run_info['load_after']})"
        + (f". {args.note}" if args.note else "")
        + "; the sections above this one come from the run named at the top.*"
    )
    splice_node_section(args.out, [lines[0], "", note, *lines[1:]])
    if args.json:
        write_run(
            args.json, run_info, {}, gpu_conditions={}, sgemm={}, model_rows=[], skipped={}, accuracy=[],
            accuracy_note="", portability=[], portability_note="", node_json=raw, node_summary=summary,
            node_lines=lines, targets=[],
        )  # fmt: skip
    print(f"wrote the node section of {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
