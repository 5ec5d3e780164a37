"""What skd-eval-bag reports besides the bags: a few lines for the terminal, the summary as strict JSON,
and a PNG of per-frame times, metrics and live latency."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skd_tools.eval_bag.offline import OfflineRun


def plot_report(run: OfflineRun, path: str | Path) -> None:
    """One PNG: per-frame processing time offline, per-frame metrics (with ground truth) and live
    latency with the dropped frames marked (after --live), against the frame's position in the bag."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = run.summary
    metrics = (summary.get("metrics") or {}).get("per_frame") or []
    live = summary.get("live")
    panels = 1 + bool(metrics) + bool(live)
    figure, axes = plt.subplots(panels, 1, figsize=(10, 2.8 * panels), squeeze=False)
    axes = list(axes[:, 0])
    ax = axes.pop(0)
    for stage in ("processing_s", "inference"):
        ax.plot(
            [entry[stage] * 1e3 for entry in run.frame_log], label="decode to ROIs" if stage != "inference" else stage
        )
    ax.set_ylabel("ms per frame")
    ax.set_title(f"offline: {summary['bag']} {summary['image_topic']} ({summary['model']['backend']})")
    ax.legend(loc="upper right")
    if metrics:
        ax = axes.pop(0)
        for name in ("AUC", "NSS", "CC", "SIM", "KLD"):
            if name in metrics[0]:
                ax.plot([entry[name] for entry in metrics], label=name)
        ax.set_ylabel("score")
        ax.set_title(f"metrics per frame against {summary['gt_topic'] or summary['fixation_topic']}")
        ax.legend(loc="upper right", ncol=5)
    if live:
        ax = axes.pop(0)
        frames = live["per_frame"]
        ax.plot([f["index"] for f in frames], [f["latency_ms"] for f in frames], ".-", label="latency")
        for name, style in (("p50_ms", "--"), ("p99_ms", ":")):
            ax.axhline(live["latency"][name], color="grey", linestyle=style, label=name.replace("_ms", ""))
        if live["dropped"]:
            ax.plot([d["index"] for d in live["dropped"]], [0] * len(live["dropped"]), "rx", label="dropped")
        ax.set_ylabel("ms, publish to receive")
        ax.set_title(
            f"live replay at rate {live['rate']:g} ({'as fast as possible' if not live['rate'] else 'x recorded'})"
        )
        ax.legend(loc="upper right")
    figure.axes[-1].set_xlabel("frame (position in the bag)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def strict_json(value):
    """The summary with NaN/inf as null, so that the JSON is strict (readable by any parser)."""
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def format_summary(summary: dict) -> str:
    """A few readable lines for the terminal (the JSON summary has everything)."""
    lines = [
        f"bag {summary['bag']} {summary['image_topic']}: {summary['frames']}/{summary['frames_in_bag']} frames"
        f" ({'complete' if summary['complete'] else 'INCOMPLETE'}), {summary['resets']} buffer resets,"
        f" {summary['paired_frames']} paired with a previous frame",
        f"output bag {summary['output_bag']}: {', '.join(summary['output_topics'].values())}",
    ]
    if summary["frames_rejected"]:
        lines.append(f"rejected like the node would: {summary['frames_rejected']}")
    model = summary["model"]
    lines.append(
        f"model: {'UNTRAINED weights' if model['untrained'] else model['weights']}, "
        f"{model['resolution']}x{model['resolution']}, {model['backend']} on {model['device']}"
    )
    timing = summary["timing"]
    stages = ", ".join(f"{stage} {t['mean_ms']:.2f}" for stage, t in timing["per_frame"].items())
    lines.append(f"timing: {timing['frames_per_s']:.1f} frames/s; mean ms per frame: {stages}")
    if summary["metrics"]:
        metrics = summary["metrics"]
        means = ", ".join(f"{name} {value:.3f}" for name, value in metrics["mean"].items())
        lines.append(f"metrics over {metrics['frames_scored']} frames with ground truth: {means or 'none scorable'}")
        if metrics["frames_without_ground_truth"] or metrics["ground_truth_without_frame"]:
            lines.append(
                f"  unmatched: {metrics['frames_without_ground_truth']} frames without ground truth, "
                f"{metrics['ground_truth_without_frame']} ground-truth stamps without a frame"
            )
    if summary.get("recovered"):
        lines.append(f"recovered: {summary['recovered']}")
    if summary["error"]:
        lines.append(f"stopped early after {summary['frames']} frames: {summary['error']}")
    live = summary.get("live")
    if live:
        latency, agreement = live["latency"], live["agreement"]
        lines += [
            f"live: {live['frames_matched']}/{live['frames_published']} frames answered, "
            f"{live['frames_dropped']} dropped; latency p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms",
            f"live vs offline: max |diff| {agreement['max_abs_diff']:.4g} (tolerance {agreement['tolerance']:.4g}), "
            f"{agreement['frames_within_tolerance']}/{live['frames_matched']} maps within tolerance, "
            f"same ROIs on {agreement['rois_equal']}, same peak point on {agreement['same_peak_point']}: "
            f"{'AGREE' if agreement['agree'] else 'DISAGREE'}",
            f"live output bag {live['output_bag']}",
        ]
    return "\n".join(lines)
