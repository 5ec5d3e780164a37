"""The real-footage evaluation as a document: a summary against the targets, a table per metric (one row
per sequence, one column per predictor, the model that scored each sequence named), and a contact sheet
per sequence (frames with the target box, the heat map, the ROIs and the peak)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import cv2

from skd_ros.core.visualize import contact_sheet, overlay
from skd_training.data.box_sequences import BoxSequence
from skd_training.evaluate.real_footage import METRIC_TITLES, METRICS, Row
from skd_training.tables import fmt, markdown_table

TARGET_COLOUR = (0, 220, 255)  # the target box, yellow (BGR); ROIs are green, the peak white


def summary_table(rows: list[Row]) -> str:
    headers = ["predictor", "kind", "sequences scored", *(METRIC_TITLES[m] for m in METRICS)]
    body = [
        [
            f"**{row.name}**" if row.group == "SKD" else row.name,
            row.group,
            f"{sum(score is not None for score in row.per_sequence.values())} / {len(row.per_sequence)}",
            *(fmt(row.mean(metric)) for metric in METRICS),
        ]
        for row in rows
    ]
    return markdown_table(headers, body)


def metric_table(rows: list[Row], metric: str) -> str:
    """One row per sequence, one column per predictor; the best of each row in bold."""
    sequences = list(rows[0].per_sequence)
    body = []
    for sequence in sequences:
        values = [row.per_sequence[sequence].scores[metric] if row.per_sequence[sequence] else math.nan for row in rows]
        best = max((v for v in values if math.isfinite(v)), default=math.nan)
        frames = next((row.per_sequence[sequence].frames for row in rows if row.per_sequence[sequence]), 0)
        cells = [f"**{fmt(v)}**" if math.isfinite(v) and v == best else fmt(v) for v in values]
        body.append([sequence, str(frames), *cells])
    body.append(["**mean**", "", *(fmt(row.mean(metric)) for row in rows)])
    return markdown_table(["sequence", "frames", *(row.name for row in rows)], body)


def scored_by_table(rows: list[Row]) -> str:
    """Which model scored which sequence, for the SKD rows (baselines and teachers saw no real footage)."""
    models = [row for row in rows if row.group == "SKD"]
    sequences = list(rows[0].per_sequence)
    body = [[sequence, *(_scored_by(row.per_sequence[sequence]) for row in models)] for sequence in sequences]
    return markdown_table(["sequence", *(row.name for row in models)], body)


def _scored_by(score) -> str:
    return score.scored_by if score is not None else "— (every model saw it)"


def target_lines(rows: list[Row], reference: Row, baselines: list[Row], centre: Row | None) -> list[str]:
    """The issue's targets read on ``reference`` (the model every sequence was scored by without having seen it)."""
    sequences = list(reference.per_sequence)
    scored = {s: reference.per_sequence[s] for s in sequences if reference.per_sequence[s] is not None}
    lines = [
        f"Targets, read on **{reference.name}** ({len(scored)} of {len(sequences)} sequences scored by a model "
        "that never saw them):",
        "",
    ]
    mean_peak = reference.mean("peak_on_target")
    lines.append(f"- mean peak on target ≥ 0.55: {fmt(mean_peak)} — {'met' if mean_peak >= 0.55 else 'not met'}")
    if centre is not None:
        centre_rate = {s: centre.per_sequence[s].scores["peak_on_target"] for s in scored}
        below = [s for s, score in scored.items() if score.scores["peak_on_target"] < centre_rate[s]]
        lines.append(
            "- peak on target not below the centred Gaussian's on any sequence: "
            + ("met" if not below else f"not met on {', '.join(below)}")
        )
    top3 = reference.mean("top3_roi_hit")
    lines.append(f"- mean top-3-ROI hit ≥ 0.80: {fmt(top3)} — {'met' if top3 >= 0.80 else 'not met'}")
    if baselines:
        nss = reference.mean("box_nss")
        best_baseline = max(b.mean("box_nss") for b in baselines)
        lines.append(
            f"- mean box-NSS above every baseline: {fmt(nss)} vs best baseline {fmt(best_baseline)} — "
            + ("met" if nss > best_baseline else "not met")
        )
        wins = [
            s for s, score in scored.items()
            if all(score.scores["box_nss"] > b.per_sequence[s].scores["box_nss"] for b in baselines)
        ]  # fmt: skip
        lines.append(
            f"- box-NSS above all baselines on ≥ 13 of 15 sequences: {len(wins)} of {len(sequences)} — "
            + ("met" if len(wins) >= 13 else "not met")
        )
    return lines


def draw_sheet(sequence: BoxSequence, row: Row, path: Path, columns: int = 4) -> Path | None:
    """``row``'s kept frames of ``sequence``: heat map, ROIs (green, with their share of the mass), peak
    (white cross) and the target box (yellow)."""
    score = row.per_sequence.get(sequence.name)
    if score is None or not score.outcomes:
        return None
    tiles = []
    for outcome in score.outcomes:
        frame = sequence.read(outcome.index)
        tile = overlay(frame, outcome.saliency, outcome.rois, outcome.peak)
        x, y, w, h = outcome.box
        thickness = max(1, round(min(frame.shape[:2]) / 240))
        cv2.rectangle(tile, (round(x), round(y)), (round(x + w), round(y + h)), TARGET_COLOUR, thickness)
        cv2.putText(tile, f"#{outcome.index + 1}", (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
        tiles.append(tile)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), contact_sheet(tiles, columns=columns), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return path


def write_report(
    rows: list[Row],
    sequences: list[BoxSequence],
    out: Path,
    figures: Path,
    command: str,
    reference: str | None = None,
    reading: str = "",
) -> Path:
    """``out`` (Markdown), the contact sheets of the first SKD row under ``figures``, and ``out`` with
    ``.json`` holding every number; ``reading``: Markdown placed after the targets (what the numbers say)."""
    skd = [row for row in rows if row.group == "SKD"]
    baselines = [row for row in rows if row.group == "baseline"]
    centre = next((row for row in baselines if row.name.lower().startswith("centre")), None)
    sheet_row = next((row for row in skd if row.name == reference), skd[0] if skd else rows[0])
    lines = [
        "# Real drone footage: where the attention lands",
        "",
        f"Generated by `{command}`. {len(sequences)} real drone sequences with the box of the object each clip "
        "is about; a frame counts where the target is visible. The protocol (peak on target, top-1 / top-3 "
        "ROI hit, box-NSS) is in `skd_training/evaluate/real_footage.py` and docs/EVALUATION.md. SKD models run "
        "through the node's own pipeline; baselines and teachers go through the same ROI extraction.",
        "",
        summary_table(rows),
        "",
    ]
    if skd:
        reference_row = next((row for row in skd if row.name == reference), skd[0])
        lines += [*target_lines(rows, reference_row, baselines, centre), ""]
    if reading.strip():
        lines += ["## Reading", "", reading.strip(), ""]
    for metric in METRICS:
        lines += [f"## {METRIC_TITLES[metric]}", "", metric_table(rows, metric), ""]
    if skd:
        lines += ["## Which model scored which sequence", "", scored_by_table(rows), ""]
    sheets = [draw_sheet(sequence, sheet_row, figures / f"{_file_name(sequence.name)}.jpg") for sequence in sequences]
    if any(sheets):
        legend = "Target box yellow, ROIs green with their share of the saliency mass, peak as a white cross."
        lines += [f"## Contact sheets ({sheet_row.name})", "", legend, ""]
        for sequence, sheet in zip(sequences, sheets, strict=True):
            if sheet is not None:
                lines += [f"### {sequence.name}", "", f"![{sequence.name}]({os.path.relpath(sheet, out.parent)})", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(as_json(rows), indent=1))
    return out


def as_json(rows: list[Row]) -> dict:
    return {
        row.name: {
            "group": row.group,
            "mean": {metric: row.mean(metric) for metric in METRICS},
            "per_sequence": {
                name: None if score is None else {"frames": score.frames, "scored_by": score.scored_by, **score.scores}
                for name, score in row.per_sequence.items()
            },
        }
        for row in rows
    }


def _file_name(sequence: str) -> str:
    return sequence.replace("/", "_")
