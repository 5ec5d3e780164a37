"""The reproduction report: our numbers next to the paper's, with plain verdicts on its findings.

``write_reproduction_report`` turns a ``Reproduction`` (``skd_tools.reproduction.findings``: one evaluation of every
trained variant and baseline, see ``skd_tools.reproduction.run``) into ``docs/REPRODUCTION.md`` with figures:
each of our tables, every row as the mean +- standard deviation over its seeds, next to the paper's
(``skd_tools.reproduction.paper``), in the cells and formats of skd-eval's report (``skd_training.evaluate.report``).
A metric that could not be computed shows as ``n/a``, with the reason under the table. The tables are
``skd_tools.reproduction.tables``, the figures of our own ``skd_tools.reproduction.figures``; here the document.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from skd_tools.reproduction.figures import plot_ablation, plot_lambda, plot_resolution
from skd_tools.reproduction.findings import FAILS, HOLDS, OPEN, Reproduction, findings, seed_noise
from skd_tools.reproduction.recipe import SHARED_DEPARTURES, recipe_differences
from skd_tools.reproduction.tables import (
    ablation_table,
    category_table,
    lambda_table,
    overall_stats_table,
    paper_table_i,
    paper_teacher_table,
    resolution_table,
    teacher_table,
    training_table,
)
from skd_training.evaluate.report import busy_note, plot_examples, plot_roc, unavailable_note
from skd_training.tables import fmt, markdown_table


def _setting(value) -> str:
    """A config value in a table cell: sources by file name, mappings and lists in YAML's flow style."""
    if isinstance(value, list) and all(isinstance(v, dict) and "path" in v for v in value):
        return ", ".join(Path(v["path"]).name for v in value) if value else "none"
    return f"`{yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip().removesuffix('...').strip()}`"


def recipe_lines(rep: Reproduction) -> list[str]:
    """Where config default's recipe differs from the paper's (config paper), and where both depart from it."""
    used = rep.setup.get("config")
    body = [[f"`{d.key}`", _setting(d.default), _setting(d.paper), d.reason] for d in recipe_differences()]
    return [
        "## The recipe: config `default` and the paper",
        "",
        "Config `paper` (`skd_training/configs/paper.yaml`, `skd-train --config paper`, `skd-reproduce --config "
        "paper`) is the paper as published: normalised L2 soft and hard losses (Eqs. 3-4), lambda = 0.5, Adam, "
        "the two steps, students at R from teachers at their own higher resolution, the fusion head from a "
        "truncated normal, Step 2 on the hard loss alone (Eq. 5). Config `default`, the shipped model's, differs "
        "in these settings:",
        "",
        markdown_table(["setting", "config default", "config paper", "why default differs"], body),
        "",
        "Both configs depart from the paper here:",
        "",
        *[f"* {line}" for line in SHARED_DEPARTURES],
        "",
        f"**This run's recipe: config `{used}`**"
        + (
            " with the paper's Step 2 (fuse.lam=0, so that the lambda sweep varies Step 1 alone); its remaining "
            "differences from the paper are the losses and the shared departures above."
            if used == "default"
            else "."
        ),
        "",
    ]


def summary_lines(found) -> list[str]:
    """Which of the paper's claims hold here, which do not, which the spread cannot decide."""
    lines = []
    for status, title in ((HOLDS, "Hold"), (FAILS, "Do not hold"), (OPEN, "Undecided or only partly decided")):
        claims = [f.claim if status != OPEN else f"{f.claim} — {f.verdict}" for f in found if f.status == status]
        lines.append(f"* **{title}:** " + ("; ".join(claims) if claims else "none") + ".")
    return lines


# --------------------------------------------------------------------------------------------------
# The document


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _with_na(table: str, rep: Reproduction) -> list[str]:
    note = unavailable_note(rep.evaluation)
    return [table, "", note, ""] if note else [table, ""]


def write_reproduction_report(rep: Reproduction, report_path: str | Path, figures_dir: str | Path) -> Path:
    """Write the Markdown report and its figures (``reproduction_*.png`` in ``figures_dir``)."""
    report_path, figures_dir = Path(report_path), Path(figures_dir)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    here = report_path.parent
    setup = rep.setup
    ev = rep.evaluation
    first_seed = [names[0] for _, _, names in rep.table1_rows]
    figs = {
        "roc": plot_roc(
            ev,
            figures_dir / "reproduction_roc.png",
            "Mean ROC (AUC-Judd), Table I models, first seed",
            names=first_seed,
        ),
        "examples": plot_examples(ev, figures_dir / "reproduction_examples.png", names=first_seed),
        "resolution": plot_resolution(rep, figures_dir / "reproduction_resolution.png"),
        "ablation": plot_ablation(rep, figures_dir / "reproduction_ablation.png") if rep.ablation_models else None,
        "lambda": plot_lambda(rep, figures_dir / "reproduction_lambda.png") if rep.lambda_models else None,
    }
    link = {k: _rel(v, here) for k, v in figs.items() if v is not None}
    synthetic = setup.get("synthetic", False)
    found = findings(rep)
    noise = seed_noise(rep)

    lines = [
        "# Reproducing the SKD paper's experiments",
        "",
        f"Written by `{setup.get('command', 'skd-reproduce')}`"
        + (f" on {setup['date']}" if setup.get("date") else "")
        + (f", commit `{setup['git_commit'][:10]}`" if setup.get("git_commit") else "")
        + (f", in {setup['wall_time_s'] / 60:.1f} min" if setup.get("wall_time_s") else "")
        + ". Regenerate it with the command at the end.",
        "",
        "## What was run, and on what",
        "",
    ]
    if synthetic:
        lines += [
            f"* **Data: synthetic.** `{setup.get('data_path')}`: {setup.get('data_description')}, procedurally "
            "generated (`skd-make-synthetic`; rendered top-down scenes with moving vehicles, people and boats; "
            "ground truth from *simulated* observers' gaze, not from human eye tracking). It stands in for AVS1K, "
            "which is not redistributable. Absolute numbers are therefore **not comparable** with the paper's; "
            "what can be compared is the *direction* of each finding.",
        ]
    else:
        lines += [f"* **Data:** `{setup.get('data_path')}`: {setup.get('data_description')}."]
    lines += [
        "* **The paper's numbers** (quoted next to ours) are on the AVS1K test set, with DVA as spatial teacher "
        "(SalNet and SSNet too in Table III) and TSNet as temporal teacher. **Ours** use this repository's built-in "
        "teachers (`skd_training.teachers`: U-Net-style spatial networks and a two-stream temporal network), "
        "trained here.",
        f"* Split evaluated: **{ev.info['split']}**, {ev.info['videos']} videos, {ev.info['frames']} frames"
        + (
            f" (at most {ev.info['max_frames_per_video']} per video, evenly spaced)"
            if ev.info["max_frames_per_video"]
            else ""
        )
        + ". Metrics: the MIT saliency benchmark's definitions (`skd_training/metrics.py`), at the ground truth's "
        "resolution, means over videos; NSS is the primary metric, as in the paper. Fixations: "
        + {
            "recorded": "every test video has fixation maps, so every metric is computed.",
            "sampled": f"none recorded; {ev.info.get('sampled_fixations')} per frame sampled from the density maps "
            "(labelled in every table).",
            "mixed": "some sampled from the density maps (labelled in every table).",
            "partial": "only some videos have fixation maps (see the notes).",
            "none": "none: AUC, sAUC and NSS are n/a (see the notes).",
        }.get(ev.info.get("fixations"), "see the notes."),
        f"* Training: preset `{setup.get('preset')}` — {setup.get('preset_description', '')}. Recipe: config "
        f"`{setup.get('config')}`"
        + (f" with `{' '.join(setup['overrides'])}`" if setup.get("overrides") else "")
        + (
            f"; training on every {setup['frame_steps'][0]}th frame, validation on every {setup['frame_steps'][1]}th"
            if setup.get("frame_steps", (1, 1)) != (1, 1)
            else ""
        )
        + f"; base model R={rep.base_resolution}, lambda={rep.base_lambda:g}. Every row is trained with seeds "
        f"{setup.get('seeds', '0')} (students and fused model; the teachers once, with the first seed), and each "
        "table shows the mean ± the sample standard deviation over the seeds.",
        f"* Teachers label every frame at **{rep.teacher_resolution} px**, one resolution for every R: each R's soft "
        "labels are the teachers' maps degraded to R (never upsampled), as the paper degrades its high-resolution "
        "teachers' maps; the soft-label manifests record it, and a run asking for another resolution is refused.",
        f"* Speed and memory measured on {setup.get('device', 'this machine')}; the paper used a GTX 1080Ti and one "
        "core of a 3.4 GHz CPU.",
    ]
    lines += [f"* Note: {n}" for n in ev.info.get("notes", [])]
    for metric, reason in ev.info.get("unavailable", {}).items():
        lines.append(f"* Note: {metric} is n/a: {reason}.")
    for name, reason in rep.unavailable_teachers.items():
        lines.append(f"* Note: spatial teacher {name} is n/a: {reason}.")
    lines += [f"* Note: {n}" for n in setup.get("notes", [])]
    lines += [
        "",
        "## Findings at a glance",
        "",
        "Each claim of the paper, checked on our data. NSS decides. **A difference counts only where it exceeds "
        "the spread**: one row beats another when their means differ by more than the sum of their standard "
        "deviations over seeds; anything closer is *within the spread*, and a claim resting only on such "
        "differences is *undecided*."
        + ("" if rep.seeds > 1 else " With one seed there is no spread: every difference counts, however small."),
        "",
        markdown_table(
            ["Paper's finding", "Paper (AVS1K)", "Ours (mean ± std over seeds)", "Verdict"],
            [[f.claim, f.paper, f.ours, f"**{f.verdict}**"] for f in found],
        ),
        "",
        *summary_lines(found),
        "",
        f"Seed-to-seed spread of NSS (the largest std of any SKD row): {fmt(noise)}."
        if noise
        else "Every model was trained once (one seed): run with `--repeats 3` to measure the spread.",
        "",
    ]

    lines += recipe_lines(rep)
    lines += [
        "## Table I — models and baselines",
        "",
        "Ours (mean ± std over seeds; best mean per column in bold; KLD: lower is better; costs of the first "
        "seed's network, the same architecture for every seed):",
        "",
        *_with_na(overall_stats_table(rep), rep),
        "Memory = weights + the largest layer's activations at batch 1 (the paper's memory footprint, "
        "Table V, behaves like the activation part alone: it grows 4x per doubling of R). FPS (model): the "
        "network alone at batch 1; ms/frame (end-to-end): the predictor on original frames, preprocessing "
        "included. The students are the Ablation-S/T rows (a student in the fused model's format computes "
        "exactly the student's function)." + busy_note(ev),
        "",
        "The paper (AVS1K):",
        "",
        paper_table_i(),
        "",
    ]
    if link.get("roc"):
        lines += [f"![mean ROC curves]({link['roc']})", ""]
    if link.get("examples"):
        lines += [
            "Example frames (ground truth: density, fixations in red; then each model's map, first seed):",
            "",
            f"![examples]({link['examples']})",
            "",
        ]

    lines += [
        "## Table II — per category",
        "",
        f"{rep.base_name} per category (mean ± std over seeds), with the paper's SKD-DVA-64:",
        "",
        *_with_na(category_table(rep), rep),
    ]

    lines += [
        "## Table III (and V) — input resolution and spatial teacher",
        "",
        "### Resolution",
        "",
        f"The same teachers' soft labels ({rep.teacher_resolution} px, degraded to each R); students and fused "
        f"model trained at each R (base R={rep.base_resolution}); the paper's columns are SKD-DVA-R (Tables III "
        "and V).",
        "",
        *_with_na(resolution_table(rep), rep),
        f"![resolution sweep]({link['resolution']})",
        "",
        "### Spatial teacher",
        "",
        f"At R={rep.base_resolution}, one spatial teacher per row, the temporal teacher fixed (the base run's, as "
        "the paper fixes TSNet); each row's spatial student and fused model distilled from that teacher. The teachers "
        "are `skd_tools/reproduction/spatial_teachers.yaml`'s entries: a pretrained teacher, a TorchScript or ONNX "
        "file takes part with one more entry.",
        "",
        *_with_na(teacher_table(rep), rep),
        "The paper's teacher half at R=64 (its teachers are other networks than ours):",
        "",
        paper_teacher_table(),
        "",
    ]

    if rep.ablation_models:
        lines += [
            "## Table IV — ablations",
            "",
            "S / T: only the spatial / temporal student, distilled from its teacher, without the joint "
            "spatiotemporal step; O: the fused model trained from scratch on the ground truth, without "
            "teachers or students.",
            "",
            *_with_na(ablation_table(rep), rep),
            f"![ablations]({link['ablation']})",
            "",
        ]

    if rep.lambda_models:
        lines += [
            "## Fig. 8 — the soft/hard loss weight lambda",
            "",
            "lambda weighs the teacher's soft labels against the ground truth in Step 1 (lambda = 0: ground "
            "truth only, 1: teacher only). The paper gives the curve only as a figure: NSS above 2.08 for "
            "lambda in [0, 0.6], best at 0.5, dropping sharply above 0.6 (the mean over three tests).",
            "",
            *_with_na(lambda_table(rep), rep),
            f"![lambda sweep]({link['lambda']})",
            "",
        ]

    if rep.training:
        lines += ["## Training runs", "", training_table(rep), ""]
    lines += [
        "## Reproduce",
        "",
        "```",
        setup.get("command", "skd-reproduce"),
        "```",
        "",
        f"Per-video and per-frame scores of every model: `{setup.get('eval_dir', '')}`.",
        "",
    ]
    report_path.write_text("\n".join(lines))
    return report_path
