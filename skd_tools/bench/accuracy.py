"""What reduced precision costs in accuracy: int8 / bf16 maps against eager fp32 on synthetic frames,
and NSS / CC on a labelled validation split (through skd-eval) where trained weights and data are given."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skd_ros.core.checkpoint import input_side, load_default_or
from skd_ros.engines.backends import BACKENDS, create_backend
from skd_ros.engines.probe import synthetic_pairs
from skd_ros.runtime import SaliencyEstimator
from skd_tools.bench.model_timing import CPU
from skd_training.data.layouts import open_source
from skd_training.evaluate import evaluate, fused_predictor


@dataclass
class AccuracyRow:
    backend: str
    precision: str
    max_abs_diff: float  # versus eager fp32, synthetic frames
    mean_abs_diff: float
    nss: float = math.nan
    cc: float = math.nan
    d_nss: float = math.nan  # versus fp32
    d_cc: float = math.nan
    frames: int = 0


def run_accuracy(
    weights: Path | None, resolution: int, data: Path | None, split: str, max_frames: int | None
) -> tuple[list[AccuracyRow], str]:
    """Map differences on synthetic pairs always; NSS/CC on ``data`` when trained weights and a
    labelled dataset are there. Returns the rows and a note on what was (not) measured."""
    model, trained_resolution, meta = load_default_or(weights)
    resolution = resolution or input_side(trained_resolution, meta)
    pairs = synthetic_pairs(resolution, count=32, seed=11)
    reference = create_backend("eager", model, resolution)(*pairs)
    names = ["eager"] + [n for n in ("onnxruntime-int8", "torch-bf16") if not BACKENDS[n].unavailable_reason(CPU)]
    rows = []
    for name in names:
        maps = create_backend(name, model, resolution)(*pairs)
        diff = np.abs(maps - reference)
        rows.append(AccuracyRow(name, BACKENDS[name].precision, float(diff.max()), float(diff.mean())))
    if meta.get("untrained"):
        return rows, "no trained weights: NSS/CC not measured (an untrained model's scores mean nothing)"
    if data is None:
        return rows, "no labelled dataset given (--data): NSS/CC not measured"

    predictors = [
        fused_predictor(SaliencyEstimator(weights, resolution, "cpu", backend=row.backend), name=row.backend)
        for row in rows
    ]
    result = evaluate(
        predictors, open_source(data), split, max_frames_per_video=max_frames, profile=False, n_examples=0
    )
    fp32 = result.overall_of("eager")
    for row in rows:
        scores = result.overall_of(row.backend)
        row.nss, row.cc, row.frames = scores["NSS"], scores["CC"], scores["frames"]
        row.d_nss, row.d_cc = row.nss - fp32["NSS"], row.cc - fp32["CC"]
    return rows, f"NSS/CC on {data}, split {split!r}, {rows[0].frames} frames (at most {max_frames} per video)"
