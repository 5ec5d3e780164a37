"""docs/RELIABILITY.md and its figures (docs/figures/reliability_*.png) from a ``suite.SuiteResult``: the
targets of issue #20 with what the run measured against each, then every part in detail."""

from __future__ import annotations

import datetime
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skd_tools.reliability.decoder import CRASH, HANG, MEASURED, DecoderFuzz
from skd_tools.reliability.live_session import NodeRun, PhaseResult
from skd_tools.reliability.memory import MIB
from skd_tools.reliability.suite import SuiteResult
from skd_training.tables import markdown_table

HUGE_BUDGET_S = 0.050  # issue #20: a 16000 x 16000 JPEG or 20000 x 20000 PNG costs the node < 50 ms
SMALL_ALLOCATION = MIB  # ... and no large allocation: under 1 MiB
RSS_TOLERANCE = 0.10  # resident memory back within 10 % of its baseline after any case
SOAK_WARM_UP_SHARE = 0.2  # the soak's first fifth warms the allocator up
SOAK_GROWTH_BOUND = 8 * MIB  # after it, RSS may not rise above its warm-up level by more than this
FIGURES = ("reliability_decode_time.png", "reliability_counts.png", "reliability_rss.png")


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool


def _pyplot():
    """pyplot drawing into files only (the Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- what the numbers say ---------------------------------------------------------------------------------


def phases(result: SuiteResult, name: str | None = None) -> list[tuple[NodeRun, PhaseResult]]:
    return [(run, phase) for run in result.nodes for phase in run.phases if name in (None, phase.name)]


def rss_excursion(run: NodeRun) -> float:
    """The largest |RSS after a case - baseline| / baseline over every phase after the warm-up."""
    after = [rss for phase in run.phases if phase.name != "warm-up" for rss in phase.rss_after_case if rss]
    if not after or not run.baseline_rss:
        return math.nan
    return max(abs(rss - run.baseline_rss) for rss in after) / run.baseline_rss


@dataclass(frozen=True)
class Soak:
    frames: int
    warm_up_rss: int
    max_after_rss: int
    end_rss: int
    slope_per_10k: float  # bytes per 10,000 frames, least squares after the warm-up

    @property
    def growth(self) -> int:
        return self.max_after_rss - self.warm_up_rss


def soak_of(phase: PhaseResult) -> Soak | None:
    """The soak's RSS after warm-up against the highest RSS of its warm-up (one sample per window)."""
    samples = np.array([rss for rss in phase.rss_after_case if rss], dtype=np.float64)
    if len(samples) < 10:
        return None
    cut = max(1, int(len(samples) * SOAK_WARM_UP_SHARE))
    warm, after = samples[:cut], samples[cut:]
    frames_per_sample = phase.cases / len(samples)
    slope = np.polyfit(np.arange(len(after)) * frames_per_sample, after, 1)[0] * 10_000
    return Soak(phase.cases, int(warm.max()), int(after.max()), int(after[-1]), float(slope))


def huge_cost(result: SuiteResult) -> tuple[float, int, int | None]:
    """The worst decode time, traced allocation and resident rise of one declared-huge frame."""
    stats = [s for fuzz in result.decoder.values() for family, s in fuzz.families.items() if MEASURED[0] in family]
    seconds = max((max(s.seconds) for s in stats), default=math.nan)
    traced = max((s.traced_bytes for s in stats), default=0)
    rises = [s.rss_rise_bytes for s in stats if s.rss_rise_bytes is not None]
    return seconds, traced, max(rises) if rises else None


def verdicts(result: SuiteResult) -> list[Verdict]:
    """The targets of issue #20, each with what was measured and whether it was met."""
    found: list[Verdict] = []
    if result.decoder:
        cases = sum(f.cases for f in result.decoder.values())
        crashes = sum(f.count(CRASH) for f in result.decoder.values())
        hangs = sum(f.count(HANG) for f in result.decoder.values())
        wrong = sum(f.wrong for f in result.decoder.values())
        found.append(
            Verdict(
                "decoder fuzz: 0 crashes, 0 hangs, every outcome right",
                f"{cases:,} messages: {crashes} crashes, {hangs} hangs, {wrong} wrong outcomes",
                crashes == hangs == wrong == 0,
            )
        )
        seconds, traced, rise = huge_cost(result)
        found.append(
            Verdict(
                "a 16000x16000 JPEG or 20000x20000 PNG: < 50 ms, no large allocation (< 1 MiB)",
                f"worst {seconds * 1e3:.2f} ms, {traced / 1024:.0f} KiB traced, "
                + (f"{rise / 1024:.0f} KiB resident rise" if rise is not None else "resident peak not measurable"),
                seconds < HUGE_BUDGET_S and traced < SMALL_ALLOCATION and (rise or 0) < SMALL_ALLOCATION,
            )
        )
    if result.pairing:
        violations = sum(p.violation_count for p in result.pairing.values())
        exact = all(p.counted == p.expected for p in result.pairing.values())
        messages = sum(p.messages for p in result.pairing.values())
        found.append(
            Verdict(
                "pairing: never across cameras, sizes, time jumps or unreadable frames; refusals counted",
                f"{messages:,} messages: {violations} violations, refusals counted exactly: {exact}",
                violations == 0 and exact,
            )
        )
    if result.nodes:
        fuzzed = phases(result, "message fuzz") + phases(result, "declared huge")
        messages = sum(phase.cases for _, phase in fuzzed)
        crashed = any(phase.crashed for _, phase in phases(result))
        hangs = sum(phase.hangs for _, phase in phases(result))
        found.append(
            Verdict(
                "live node: never dies, never hangs",
                f"{sum(p.cases for _, p in phases(result)):,} cases ({messages:,} generated messages): "
                f"{'a crash' if crashed else '0 crashes'}, {hangs} hangs, exit codes "
                + ", ".join(str(run.exit_code) for run in result.nodes),
                not crashed and hangs == 0 and all(run.exit_code == 0 for run in result.nodes),
            )
        )
        expected = sum((phase.expected for _, phase in phases(result)), Counter())
        counted = sum((phase.counted for _, phase in phases(result)), Counter())
        refused_answers = sum(phase.details.get("outputs for refused messages", 0) for _, phase in phases(result))
        found.append(
            Verdict(
                "100 % of bad frames counted by kind in /diagnostics; no output for a refused frame",
                f"{sum(counted.values()):,} of {sum(expected.values()):,} counted "
                f"({'exactly, kind by kind' if counted == expected else 'NOT kind by kind'}); "
                f"{refused_answers} outputs for refused frames",
                counted == expected and refused_answers == 0,
            )
        )
        excursions = [rss_excursion(run) for run in result.nodes]
        found.append(
            Verdict(
                "resident memory within 10 % of its baseline after any case",
                ", ".join(
                    f"{run.input_kind}: at most {e:.1%}" for run, e in zip(result.nodes, excursions, strict=True)
                ),
                all(e <= RSS_TOLERANCE for e in excursions),
            )
        )
        for _, phase in phases(result, "soak"):
            soak = soak_of(phase)
            if soak is not None:
                found.append(
                    Verdict(
                        f"soak: RSS flat after warm-up (growth <= {SOAK_GROWTH_BOUND / MIB:.0f} MiB)",
                        f"{soak.frames:,} frames: {soak.growth / MIB:+.1f} MiB over the warm-up's peak, "
                        f"trend {soak.slope_per_10k / MIB:+.2f} MiB per 10,000 frames",
                        soak.growth <= SOAK_GROWTH_BOUND,
                    )
                )
        for name, target in (
            ("parameters", "runtime parameters: invalid ones refused with a reason, valid ones applied"),
            ("lifecycle", "lifecycle transitions in random order under traffic"),
            ("header anomalies", "header anomalies answered with their headers; restarts counted by reason"),
        ):
            ran = phases(result, name)
            if ran:
                problems = sum(phase.problem_count for _, phase in ran)
                found.append(
                    Verdict(target, f"{sum(p.cases for _, p in ran):,} cases, {problems} problems", problems == 0)
                )
        log_problems = [problem for run in result.nodes for problem in run.log_problems]
        found.append(
            Verdict(
                "no refusal without a log line; no traceback",
                "; ".join(log_problems) or "every kind counted has its warning in the node's log",
                not log_problems,
            )
        )
    if result.files is not None:
        files = result.files
        found.append(
            Verdict(
                "damaged bags, checkpoints, exported models: a clear error naming the file, results so far kept",
                f"{files.cases:,} cases, {files.problem_count} problems",
                files.problem_count == 0,
            )
        )
    return found


# --- figures ------------------------------------------------------------------------------------------------


def plot_decode_times(decoder: dict[str, DecoderFuzz], path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(decoder), figsize=(7 * len(decoder), 7), squeeze=False)
    for ax, (kind, fuzz) in zip(axes[0], decoder.items(), strict=True):
        names = sorted(fuzz.families)
        data = [np.maximum(np.array(fuzz.families[n].seconds) * 1e3, 1e-4) for n in names]
        ax.boxplot(data, vert=False, whis=(0, 100), widths=0.6)
        ax.set_yticks(range(1, len(names) + 1), names, fontsize=8)
        ax.axvline(HUGE_BUDGET_S * 1e3, color="red", linestyle="--", label="50 ms budget (declared huge)")
        ax.set(xscale="log", xlabel="decode or refusal time per message (ms, log)", title=f"decoder fuzz, {kind}")
        ax.grid(True, axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_counts(result: SuiteResult, path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(result.nodes), figsize=(6 * len(result.nodes), 4), squeeze=False)
    for ax, run in zip(axes[0], result.nodes, strict=True):
        expected = sum((phase.expected for phase in run.phases), Counter())
        counted = sum((phase.counted for phase in run.phases), Counter())
        kinds = sorted(set(expected) | set(counted))
        x = np.arange(len(kinds))
        ax.bar(x - 0.2, [expected[k] for k in kinds], 0.4, label="refused by this process's decoding (expected)")
        ax.bar(x + 0.2, [counted[k] for k in kinds], 0.4, label="counted by the node in /diagnostics")
        ax.set_xticks(x, kinds, rotation=20, ha="right", fontsize=8)
        ax.set(ylabel="frames", title=f"live node, {run.input_kind} input: bad frames by kind")
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_rss(result: SuiteResult, path: Path) -> None:
    plt = _pyplot()
    soak_phases = phases(result, "soak")
    fig, axes = plt.subplots(1, 1 + len(soak_phases), figsize=(7 * (1 + len(soak_phases)), 4.5), squeeze=False)
    ax = axes[0][0]
    for run in result.nodes:
        samples = [sample for sample in run.rss if sample[2] != "start"]  # from the warm-up on: start-up is no case
        if not samples:
            continue
        t, rss, _ = zip(*samples, strict=True)
        line = ax.plot(t, np.array(rss) / MIB, label=f"{run.input_kind} input", linewidth=0.8)[0]
        if run.baseline_rss:
            band = run.baseline_rss * np.array([1 - RSS_TOLERANCE, 1 + RSS_TOLERANCE]) / MIB
            ax.axhspan(*band, color=line.get_color(), alpha=0.08)
            ax.set_ylim(run.baseline_rss * (1 - 1.5 * RSS_TOLERANCE) / MIB, run.baseline_rss * 1.2 / MIB)
        marks = [(time_s, label) for (time_s, _, label), (_, _, before) in zip(samples[1:], samples, strict=False)
                 if label != before]  # fmt: skip
        for time_s, label in [(samples[0][0], samples[0][2]), *marks]:
            ax.axvline(time_s, color=line.get_color(), alpha=0.3, linewidth=0.6)
            ax.text(time_s, ax.get_ylim()[1], f" {label}", rotation=90, fontsize=6, va="top", color=line.get_color())
    ax.set(xlabel="seconds since the node started", ylabel="node RSS (MiB)", title="node RSS over all phases")
    ax.legend(fontsize=8, title="band: baseline +-10 %", title_fontsize=7)
    ax.grid(True, alpha=0.3)
    for ax, (run, phase) in zip(axes[0][1:], soak_phases, strict=True):
        samples = np.array(phase.rss_after_case, dtype=np.float64) / MIB
        frames = np.arange(1, len(samples) + 1) * phase.cases / len(samples)
        ax.plot(frames, samples, linewidth=0.8)
        soak = soak_of(phase)
        if soak is not None:
            ax.axvspan(0, frames[int(len(samples) * SOAK_WARM_UP_SHARE) - 1], color="grey", alpha=0.15, label="warm-up")
            ax.axhline((soak.warm_up_rss + SOAK_GROWTH_BOUND) / MIB, color="red", linestyle="--", label="bound")
        ax.set(xlabel="frames sent", ylabel="node RSS (MiB)", title=f"soak, {run.input_kind} input")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- the document ---------------------------------------------------------------------------------------


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1e3, q)) if values else math.nan


def decoder_section(result: SuiteResult) -> list[str]:
    lines = ["## The decoder fuzz", ""]
    lines.append(
        "Every generated message through the node's own decoding (`LiveSaliency.decode` over "
        "`skd_ros.core.image_codec`, default `max_input_pixels`, the JPEG reduction the 64 x 64 model asks for), "
        "in one process, each under a 10 s watchdog. *Right* means: the outcome is one the family allows, a "
        "lossless valid frame decodes to exactly the pixels sent, and a decoded frame has the declared size (or a "
        "JPEG reduction of it). Times include the refusal; the declared-huge and at-the-limit families were also "
        "measured for allocation (tracemalloc peak; resident peak above the RSS before, via `VmHWM`)."
    )
    for kind, fuzz in result.decoder.items():
        rows = []
        for name in sorted(fuzz.families):
            stats = fuzz.families[name]
            outcomes = ", ".join(f"{o} {n:,}" for o, n in stats.outcomes.most_common())
            measured = (
                f"{stats.traced_bytes / 1024:.0f} KiB / "
                + (f"{stats.rss_rise_bytes / 1024:.0f} KiB" if stats.rss_rise_bytes is not None else "—")
                if stats.measured
                else "—"
            )
            rows.append(
                [name, stats.cases, outcomes, stats.wrong, _ms(stats.seconds, 50), _ms(stats.seconds, 99),
                 max(stats.seconds) * 1e3, measured]
            )  # fmt: skip
        lines += ["", f"### {kind} ({fuzz.cases:,} messages)", ""]
        headers = ["family", "cases", "outcomes", "wrong", "median ms", "p99 ms", "max ms", "traced / RSS rise"]
        lines += [markdown_table(headers, rows), ""]
        lines += [f"- wrong: {family}: {outcome}: {problem}" for family, outcome, problem in fuzz.examples]
    lines += ["", "![decode times](figures/reliability_decode_time.png)", ""]
    return lines


def pairing_section(result: SuiteResult) -> list[str]:
    lines = ["## The pairing fuzz", ""]
    lines.append(
        "One topic carrying three frame_ids, three sizes and (raw input) every encoding, runs of each with "
        "switches, stamps going backwards, repeated, zero and at 2^31 - 1 s, and a tenth bad frames, through "
        "`NewestPairMailbox` and `LiveSaliency.run` with a worker that falls behind at random (about half the "
        "frames skipped, their predecessors decoded). A recording estimator reads each frame's identity from its "
        "pixels and checks every pair against the rule of docs/NODE.md: paired with the frame received just "
        "before it when that one was readable, of the same frame_id, size and encoding and not later; else with "
        "itself. Refusals must be counted as the node counts them (the newest frame's own; a skipped "
        "predecessor's when the newest is readable)."
    )
    rows = []
    for kind, p in result.pairing.items():
        rows.append(
            [kind, p.messages, p.processed, p.skipped, p.paired,
             ", ".join(f"{k} {n}" for k, n in sorted(p.anomalies.items())),
             ", ".join(f"{k} {n}" for k, n in sorted(p.restarts.items())),
             f"{sum(p.counted.values())} / {sum(p.expected.values())}", p.violation_count]
        )  # fmt: skip
    headers = ["input", "messages", "run", "skipped", "paired", "stamp anomalies", "restarts by reason",
               "refusals counted / expected", "violations"]  # fmt: skip
    lines += ["", markdown_table(headers, rows), ""]
    for p in result.pairing.values():
        lines += [f"- violation: {rule}: {details}" for rule, details in p.violations]
    return lines


def node_section(result: SuiteResult) -> list[str]:
    lines = ["## The live node", ""]
    lines.append(
        "The node as its own process (`python -m skd_ros.node.saliency_node`, rclpy from the pip wheels, "
        "`backend:=eager`, `qos_reliability:=reliable`, `diagnostics_period:=0.2`, otherwise the defaults), one "
        "for raw `Image` input and one for `CompressedImage`, driven over DDS from the tool's process. Every bad "
        "message is followed by a good *sentinel* frame whose answer is awaited (10 s watchdog): the node either "
        "refuses the bad frame as its newest or decodes it as the sentinel's skipped predecessor, so the "
        "`bad input: <kind>` counters of /diagnostics must equal, kind by kind, what the same decoding refuses in "
        "the tool's process. The soak sends windows of four frames back to back (the node skips some), the third "
        "bad in a quarter of the windows, the fourth a sentinel. RSS is `VmRSS` of the node process after every "
        "case; the baseline is the RSS after the warm-up."
    )
    for run in result.nodes:
        lines += ["", f"### {run.input_kind} input", "", f"`{run.command}`", ""]
        rows = []
        for phase in run.phases:
            rss = [r for r in phase.rss_after_case if r]
            rows.append(
                [phase.name, phase.cases, phase.hangs, "yes" if phase.crashed else "no",
                 f"{sum(phase.counted.values())} / {sum(phase.expected.values())}",
                 "yes" if phase.counted == phase.expected else "NO", phase.problem_count,
                 _ms(phase.round_trips_s, 50), _ms(phase.round_trips_s, 99),
                 f"{max(rss) / MIB:.1f}" if rss else "—", phase.seconds]
            )  # fmt: skip
        headers = ["phase", "cases", "hangs", "crash", "bad counted / expected", "kind by kind", "problems",
                   "answer median ms", "answer p99 ms", "max RSS MiB", "seconds"]  # fmt: skip
        lines.append(markdown_table(headers, rows))
        lines += ["", f"Baseline RSS {run.baseline_rss / MIB:.1f} MiB; after any case at most "
                  f"{rss_excursion(run):.1%} away from it. Exit code on SIGINT: {run.exit_code}."]  # fmt: skip
        for phase in run.phases:
            for key, value in phase.details.items():
                lines.append(f"- {phase.name}, {key}: {value}")
            lines += [f"- {phase.name}, problem: {problem}" for problem in phase.problems]
        lines += [f"- log: {problem}" for problem in run.log_problems]
    lines += ["", "![bad frames counted](figures/reliability_counts.png)", "",
              "![node RSS](figures/reliability_rss.png)", ""]  # fmt: skip
    return lines


def files_section(result: SuiteResult) -> list[str]:
    files = result.files
    lines = ["## Damaged files", ""]
    lines.append(
        "Bags (sqlite3 with raw images, mcap with PNG images) through the bag reader, `skd-bag info` and "
        "`skd-eval-bag` (which must keep the frames it wrote before the damage); fused-model checkpoints through "
        "`load_fused`; exported ONNX, TorchScript and ncnn files through `skd_ros.engines.export`'s verify (and "
        "so ncnn's load). *Read fine* is right when the damage left the file meaning the same (a flip in a zip's "
        "padding, a weight's last bits under the export tolerance); a checkpoint that loads must hold exactly the "
        "weights saved. Each case under a 60 s watchdog."
    )
    rows = [[kind, damage, outcome, n] for (kind, damage, outcome), n in sorted(files.outcomes.items())]
    lines += ["", markdown_table(["file", "damage", "outcome", "cases"], rows), ""]
    lines += [f"- problem: {problem}" for problem in files.problems]
    return [*lines, ""]


DEFECTS = """## Defects the suite found, and their fixes

1. **A PNG whose chunk length lies cost 1 GiB and 3 s.** One flipped bit in the length field of an IDAT chunk
   (a 1.2 KB message) made OpenCV 4.13's PNG reader allocate and zero-fill the declared 1 GiB before reading,
   for 3 s, in the node's worker. `image_codec.png_chunk_overrun` now walks the chunk lengths before decoding
   (one step per chunk) and refuses a chunk that declares more bytes than are left (`undecodable compressed
   data`). Regression: `test/test_image_codec.py`.
2. **A JPEG header maze cost seconds of Python.** The frame-header walk took one Python step per fill byte or
   empty segment: 4 MB of them cost 0.6 s per message. The walk is now bounded at 4,096 markers and fill bytes
   (encoders write a few dozen before the frame header) and refuses beyond. Regression: `test/test_image_codec.py`.
3. **A flipped bit in a checkpoint loaded as wrong weights.** `torch.load` does not check the CRC-32 that
   `torch.save` stores with each record; 99 of 100 bit-flipped checkpoints loaded without a word.
   `checkpoint.read_checkpoint` now checks every record's CRC first. Regression: `test/test_core.py`.
4. **Some damaged checkpoints raised the wrong error.** An unreadable resolution or meta raised
   `ValueError`/`TypeError`, and noise in place of a checkpoint made torch's unpickler raise `IndexError` or
   `UnicodeDecodeError`, instead of a `CheckpointError` naming the file. Regression: `test/test_core.py`.
5. **Verifying a damaged or foreign exported model raised the runtime's own exception** (onnxruntime's
   `InvalidProtobuf`/`InvalidArgument`, torch's `RuntimeError` without the file's name), which `skd-export`
   does not catch. `export.verify_*` now raise `ExportError` naming the file. Regression: `test/test_export.py`.
"""

LEFT_ALONE = """## Noticed and left alone

- **A JPEG whose image data ends early is taken.** libjpeg fills the missing blocks in grey and OpenCV returns
  the frame (with `Corrupt JPEG data: premature end of data segment` on stderr); a bit flip in JPEG entropy
  data likewise decodes to wrong pixels. JPEG has no checksum, so the node cannot tell; the `jpeg bit flips`
  and `jpeg declared at the limit` rows show how often.
- **A lie within `max_input_pixels` costs what an honest frame of that size costs.** A 1 KB JPEG declaring
  7680 x 4320 is decoded at 1/8 (a few ms, about 7 MiB); with an `~/overlay` subscriber, at full size (about
  0.3 s and 190 MiB). Lower `max_input_pixels` to the camera's size to bound this.
- **libpng and libjpeg write to stderr for every damaged frame** (`libpng error: ...`, `Corrupt JPEG data:
  ...`, OpenCV's `[ WARN ...]`), outside the node's throttled warnings: a stream of damaged frames fills the
  log with one line per frame. ncnn, loading damaged weights in `verify_ncnn`, prints `FATAL ERROR! pool
  allocator destroyed too early`; it is not fatal (the verification fails with an `ExportError` and the
  process goes on).
- **A skipped frame that is never decoded is counted as skipped, not as bad.** The node decodes the newest
  frame and, when the newest is readable, the skipped frame just before it; older skipped frames, and the
  predecessor of an unreadable newest frame, are counted only under `frames dropped (skipped, inference
  behind)`. The suite's sentinels make every bad frame one that is decoded.
- **A truncated sqlite3 bag cannot be read at all**, not even up to the cut (SQLite needs the pages the cut
  took): `skd-eval-bag` says so, naming the bag, and writes nothing (the `sqlite3` shell's `.recover` may
  rebuild one). A truncated mcap bag, the default storage since ROS 2 Iron and what a recorder that died
  leaves, is read record by record up to the cut (`skd_training.data.rosbag.TruncatedMcap`): every message
  before it is evaluated and kept, and the run ends with exit 1 naming where the bag was cut; the messages
  of a chunk that the cut went through are lost with it.
"""


def write_report(result: SuiteResult, doc: Path, figures: Path, command: str) -> list[Path]:
    """Write ``doc`` and the figures it shows into ``figures``; returns the files written."""
    figures.mkdir(parents=True, exist_ok=True)
    written = [doc]
    if result.decoder:
        plot_decode_times(result.decoder, figures / FIGURES[0])
        written.append(figures / FIGURES[0])
    if result.nodes:
        plot_counts(result, figures / FIGURES[1])
        plot_rss(result, figures / FIGURES[2])
        written += [figures / FIGURES[1], figures / FIGURES[2]]
    found = verdicts(result)
    lines = [
        "# Reliability: the fuzz and fault suite",
        "",
        'What the node and the tools do with bad input (issue #20, "nothing brings the node down"): generated '
        "damaged and hostile image messages, header anomalies, runtime parameter changes and lifecycle "
        "transitions against a live node, a soak with its resident memory sampled, and damaged bags, "
        "checkpoints and exported models. Written by `skd-reliability` (`skd_tools/reliability/`); the tests "
        "(`test/test_reliability.py`, `test/test_reliability_node.py`) run the same code at smaller sizes.",
        "",
        f"This run: `{command}`, {datetime.date.today().isoformat()}, "
        f"{result.seconds / 60:.1f} minutes, seed {result.seed}, on "
        + ", ".join(f"{k} {v}" for k, v in result.machine.items())
        + ".",
        "",
        "## Targets",
        "",
        markdown_table(
            ["target", "measured", "met"], [[v.target, v.measured, "yes" if v.met else "**NO**"] for v in found]
        ),
        "",
    ]
    if result.decoder:
        lines += decoder_section(result)
    if result.pairing:
        lines += pairing_section(result)
    if result.nodes:
        lines += node_section(result)
    if result.files is not None:
        lines += files_section(result)
    lines += [DEFECTS, LEFT_ALONE]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("\n".join(lines))
    return written


def headline(result: SuiteResult) -> str:
    return "\n".join(f"[{'ok' if v.met else 'FAILED'}] {v.target}: {v.measured}" for v in verdicts(result))
