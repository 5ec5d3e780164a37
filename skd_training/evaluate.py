"""skd-eval: score saliency predictors on a dataset split with the MIT benchmark's metrics.

Predictors — the fused SKD model, the students, the teachers and the baselines — all take the same
input, a pair of consecutive original frames (H x W x 3 uint8 BGR; the first frame of a video is
paired with itself, as ``skd_ros.core.preprocess.FramePairBuffer`` does) and give a 2-D non-negative map
for the newer frame, at any size. The metrics (``skd_training.metrics``) resize every map to the
ground truth's original resolution. The fused model runs through ``skd_ros.runtime.SaliencyEstimator``
(the node's preprocessing and model code), so the node, the bag evaluator and this evaluator give the
same numbers for the same frames.

What comes out (``write_report``): per-video, per-category (AVS1K's Building/Human/Vehicle/Others)
and overall AUC-Judd, sAUC, NSS, SIM, CC and KLD; per network its parameters, memory footprint
(weights + the largest layer's activations at batch 1, measured with forward hooks) and model-only
speed at batch 1; per predictor the end-to-end time per frame. Markdown + CSV + figures (mean ROC
curves, a grid of frames with the ground truth and every predictor's map).

Averaging: a video's score is the mean over its evaluated frames; category and overall scores are
means over videos (each video counts once, however long). Frames whose ground truth cannot score a
metric (no fixations, an all-zero density map) are left out of that metric and counted.

sAUC negatives: for each frame, the union of the fixations of ``n_other_frames`` (10) frames drawn at
random from *other* videos of the evaluated set (the DHF1K protocol), mapped to this frame's size by
relative position. A set with a single video falls back to other frames of the same video, and the
report says so.

Randomness (AUC-Judd's jitter, sAUC's draws) comes from generators seeded by (seed, video, frame):
reruns give identical numbers, and every predictor sees the same draws on the same frame.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from skd_ros.core.model import Student, count_parameters
from skd_ros.core.preprocess import preprocess
from skd_ros.runtime import SaliencyEstimator
from skd_training import metrics
from skd_training.baselines import CentreBias, FlowMagnitude, SpectralResidual
from skd_training.data.dataset import SaliencyVideoDataset
from skd_training.data.layouts import CATEGORIES, UNKNOWN_CATEGORY, DatasetError, Source, open_source
from skd_training.tables import fmt, markdown_table

log = logging.getLogger("skd_eval")

GROUPS = ("SKD", "student", "teacher", "baseline")
ROC_GRID = np.linspace(0.0, 1.0, 101)
BASELINE_CHOICES = {"centre": CentreBias, "spectral": SpectralResidual, "flow": FlowMagnitude}
MB = 1024.0 * 1024.0


# --------------------------------------------------------------------------------------------------
# Predictors


PredictFn = Callable[[np.ndarray, np.ndarray, str, int], np.ndarray]


@dataclass
class Predictor:
    """Something to evaluate.

    predict(previous_bgr, current_bgr, video, index) -> 2-D non-negative map for the current frame
    (``video``/``index`` name the frame, for predictors that look maps up rather than compute them).
    network / example_inputs: the torch module and batch-1 inputs at its working resolution, for the
    parameter count, memory footprint and model-only speed; None for heuristics."""

    name: str
    predict: PredictFn
    group: str = "baseline"
    network: nn.Module | None = None
    example_inputs: tuple[torch.Tensor, ...] | None = None
    resolution: int | None = None

    def __post_init__(self):
        if self.group not in GROUPS:
            raise ValueError(f"predictor group must be one of {GROUPS}, got {self.group!r}")

    @property
    def parameters(self) -> int | None:
        return None if self.network is None else count_parameters(self.network)


def baseline_predictor(baseline: Callable[[np.ndarray, np.ndarray], np.ndarray], name: str | None = None) -> Predictor:
    """A ``(previous_bgr, current_bgr) -> map`` callable (``skd_training.baselines``) as a Predictor."""
    return Predictor(
        name=name or getattr(baseline, "name", type(baseline).__name__),
        predict=lambda previous, current, video, index: baseline(previous, current),
        group="baseline",
    )


def fused_predictor(estimator: SaliencyEstimator, name: str | None = None) -> Predictor:
    """The fused model through the runtime core: ``estimator.prepare`` on both frames, ``infer``."""

    def predict(previous, current, video, index):
        return estimator.infer(estimator.prepare(previous), estimator.prepare(current))

    resolution = estimator.resolution
    example = torch.zeros(1, 3, resolution, resolution, device=estimator.device)
    return Predictor(
        name=name or f"SKD-{resolution}",
        predict=predict,
        group="SKD",
        network=estimator.model,
        example_inputs=(example, example.clone()),
        resolution=resolution,
    )


def student_predictor(student: Student, resolution: int, name: str | None = None, device: str = "cpu") -> Predictor:
    """A spatial (current frame) or temporal (previous + current) student at ``resolution``."""
    dev = torch.device(device)
    student = student.to(dev).eval()

    @torch.inference_mode()
    def predict(previous, current, video, index):
        cur = torch.from_numpy(preprocess(current, resolution))[None].to(dev)
        if student.kind == "spatial":
            x = cur
        else:
            x = torch.cat([torch.from_numpy(preprocess(previous, resolution))[None].to(dev), cur], dim=1)
        return student(x)[0, 0].float().cpu().numpy()

    channels = 3 if student.kind == "spatial" else 6
    return Predictor(
        name=name or f"Student-{student.kind}-{resolution}",
        predict=predict,
        group="student",
        network=student,
        example_inputs=(torch.zeros(1, channels, resolution, resolution, device=dev),),
        resolution=resolution,
    )


def teacher_predictor(teacher, resolution: int, name: str | None = None) -> Predictor:
    """A ``skd_training.teachers.Teacher`` fed frames preprocessed at ``resolution`` (its working
    resolution); built-in teacher networks are also profiled."""

    def predict(previous, current, video, index):
        batch = {
            "previous_hr": torch.from_numpy(preprocess(previous, resolution))[None],
            "current_hr": torch.from_numpy(preprocess(current, resolution))[None],
            "video": [video],
            "frame": [index],
        }
        return teacher.predict(batch)[0, 0].float().cpu().numpy()

    network = getattr(teacher, "net", None)
    example = None
    if network is not None:
        device = next(network.parameters()).device
        frame = torch.zeros(1, 3, resolution, resolution, device=device)
        example = (frame, frame.clone())
    return Predictor(
        name=name or f"Teacher-{teacher.kind}",
        predict=predict,
        group="teacher",
        network=network,
        example_inputs=example,
        resolution=resolution,
    )


def run_predictors(
    run_dir: str | Path, device: str = "auto", students: bool = True, teachers: bool = True
) -> list[Predictor]:
    """The students and teachers of a finished ``skd-train`` run (read with the run's ``config.yaml``,
    checked against it like a resume), as predictors at their training resolutions."""
    from skd_training.distill import Pipeline, load_config  # training code, only needed for a run

    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a skd-train run directory (no {config_path.name})")
    config = load_config(config_path, [f"run_dir={run_dir}", f"device={device}", "progress=false"])
    pipeline = Pipeline(config, write_config=False)
    found = []
    if students:
        dev = str(pipeline.env.device)
        for kind, student in pipeline.students().items():
            found.append(student_predictor(student, config.resolution, f"Student-{kind}-{config.resolution}", dev))
    if teachers:
        found += [
            teacher_predictor(pipeline.teacher(kind), config.teacher_resolution, f"Teacher-{kind}")
            for kind in config.kinds()
        ]
    return found


# --------------------------------------------------------------------------------------------------
# Cost of a network: parameters, memory footprint, speed


@dataclass
class NetworkProfile:
    parameters: int
    weights_mb: float
    activations_mb: float  # the largest single layer's inputs + outputs at batch 1
    ms_per_frame: float  # model only, batch 1
    device: str
    threads: int
    load: float | None = None  # the machine's 1-minute load average when timed (None where unknown)

    @property
    def memory_mb(self) -> float:
        return self.weights_mb + self.activations_mb

    @property
    def fps(self) -> float:
        return 1000.0 / self.ms_per_frame if self.ms_per_frame > 0 else float("inf")


def _tensors(value) -> list[torch.Tensor]:
    if torch.is_tensor(value):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


@torch.inference_mode()
def peak_activation_bytes(network: nn.Module, example_inputs: Sequence[torch.Tensor]) -> int:
    """Bytes of the largest working set of any single layer (its distinct input and output tensors)
    in one forward pass: what an inference engine that frees every tensor once consumed must hold at
    least. Layers are the leaf modules; in-place outputs are not counted twice."""
    peak = 0

    def hook(module, inputs, output):
        nonlocal peak
        distinct = {}
        for tensor in _tensors(inputs) + _tensors(output):
            distinct[(tensor.data_ptr(), tensor.numel())] = tensor.numel() * tensor.element_size()
        peak = max(peak, sum(distinct.values()))

    leaves = [m for m in network.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        network.eval()(*example_inputs)
    finally:
        for handle in handles:
            handle.remove()
    return peak


@torch.inference_mode()
def time_network(
    network: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    min_seconds: float = 0.5,
    warmup: int = 5,
    max_runs: int = 1000,
) -> float:
    """Median milliseconds of one forward pass at batch 1 (model only: no preprocessing, no copies)."""
    network.eval()
    cuda = any(t.is_cuda for t in example_inputs)
    for _ in range(warmup):
        network(*example_inputs)
    if cuda:
        torch.cuda.synchronize()
    times, start = [], time.perf_counter()
    while len(times) < max_runs and (time.perf_counter() - start < min_seconds or len(times) < 10):
        t0 = time.perf_counter()
        network(*example_inputs)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def profile_network(
    network: nn.Module, example_inputs: Sequence[torch.Tensor], min_seconds: float = 0.5
) -> NetworkProfile:
    weight_bytes = sum(p.numel() * p.element_size() for p in network.parameters())
    weight_bytes += sum(b.numel() * b.element_size() for b in network.buffers())
    device = example_inputs[0].device
    return NetworkProfile(
        parameters=count_parameters(network),
        weights_mb=weight_bytes / MB,
        activations_mb=peak_activation_bytes(network, example_inputs) / MB,
        ms_per_frame=time_network(network, example_inputs, min_seconds=min_seconds),
        device=str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        threads=torch.get_num_threads(),
        load=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    )


# --------------------------------------------------------------------------------------------------
# Scoring one frame


def score_frame(
    saliency: np.ndarray,
    fixation: np.ndarray | None,
    density: np.ndarray,
    other_fixation: np.ndarray | None,
    rng: np.random.Generator,
) -> tuple[dict[str, float], np.ndarray | None]:
    """All metrics of one frame and the AUC-Judd ROC curve's TPR on ``ROC_GRID`` (None without
    fixations). The prediction is resized to the ground truth once."""
    saliency = metrics.resize_to(saliency, density.shape)
    scores = {name: float("nan") for name in metrics.METRIC_NAMES}
    scores.update(
        SIM=metrics.sim(saliency, density), CC=metrics.cc(saliency, density), KLD=metrics.kld(saliency, density)
    )
    tpr = None
    if fixation is not None:
        if fixation.shape != density.shape:
            raise DatasetError(f"fixation map {fixation.shape} and density map {density.shape} differ in size")
        curve = metrics.roc_judd(saliency, fixation, rng=rng)
        if curve is not None:
            scores["AUC"] = float(np.trapezoid(curve[1], curve[0]))
            tpr = np.interp(ROC_GRID, curve[0], curve[1])
        scores["NSS"] = metrics.nss(saliency, fixation)
        if other_fixation is not None:
            scores["sAUC"] = metrics.auc_shuffled(saliency, fixation, other_fixation, rng=rng)
    return scores, tpr


# --------------------------------------------------------------------------------------------------
# Shuffled-AUC negatives


class FixationBank:
    """Fixation positions of the evaluated frames (relative to the frame size), for drawing the
    shuffled-AUC negatives of a frame from other videos."""

    def __init__(self):
        self.points: dict[tuple[str, int], np.ndarray] = {}
        self.by_video: dict[str, list[tuple[str, int]]] = defaultdict(list)

    def add(self, video: str, index: int, fixation: np.ndarray) -> None:
        rows, cols = fixation.shape
        ys, xs = np.nonzero(fixation)
        if ys.size:
            self.points[(video, index)] = np.stack([(ys + 0.5) / rows, (xs + 0.5) / cols], axis=1).astype(np.float32)
            self.by_video[video].append((video, index))

    @property
    def single_video(self) -> bool:
        return len(self.by_video) < 2

    def negatives(
        self, video: str, index: int, shape: tuple[int, int], n_frames: int, rng: np.random.Generator
    ) -> np.ndarray | None:
        """The union of the fixations of ``n_frames`` random frames of other videos at ``shape``
        (other frames of the same video when there is no other video); None if there are none."""
        if self.single_video:
            keys = [k for k in self.by_video.get(video, []) if k != (video, index)]
        else:
            keys = [k for v, frames in self.by_video.items() if v != video for k in frames]
        if not keys:
            return None
        chosen = rng.choice(len(keys), size=min(n_frames, len(keys)), replace=False)
        points = np.concatenate([self.points[keys[i]] for i in chosen])
        rows, cols = shape
        mask = np.zeros(shape, dtype=bool)
        mask[
            np.minimum((points[:, 0] * rows).astype(int), rows - 1),
            np.minimum((points[:, 1] * cols).astype(int), cols - 1),
        ] = True
        return mask


# --------------------------------------------------------------------------------------------------
# Evaluation over a split


@dataclass
class Example:
    """One frame kept for the figure grid: frame, ground truth and every predictor's map (small)."""

    video: str
    index: int
    frame_rgb: np.ndarray
    density: np.ndarray
    fixation: np.ndarray | None
    maps: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class PredictorSummary:
    name: str
    group: str
    resolution: int | None
    profile: NetworkProfile | None
    seconds: float = 0.0  # predict() calls, end to end
    calls: int = 0

    @property
    def ms_per_frame_end_to_end(self) -> float:
        return 1000.0 * self.seconds / self.calls if self.calls else float("nan")


@dataclass
class Evaluation:
    """Per-frame scores of several predictors on one set of videos, and everything derived from them."""

    predictors: list[PredictorSummary]
    frames: list[dict]  # {"predictor", "video", "category", "index", <metric>: value}
    roc: dict[str, np.ndarray]  # predictor -> mean TPR on ROC_GRID
    roc_frames: dict[str, int]
    examples: list[Example]
    info: dict

    # -- aggregation -------------------------------------------------------------------------------
    def per_video(self) -> list[dict]:
        groups = defaultdict(list)
        for row in self.frames:
            groups[(row["predictor"], row["video"])].append(row)
        out = []
        for (predictor, video), rows in groups.items():
            entry = {"predictor": predictor, "video": video, "category": rows[0]["category"], "frames": len(rows)}
            entry.update({m: _nanmean([r[m] for r in rows]) for m in metrics.METRIC_NAMES})
            out.append(entry)
        return out

    def _mean_over_videos(self, videos: list[dict]) -> dict:
        entry = {"videos": len(videos), "frames": sum(v["frames"] for v in videos)}
        entry.update({m: _nanmean([v[m] for v in videos]) for m in metrics.METRIC_NAMES})
        return entry

    def per_category(self) -> list[dict]:
        by_key = defaultdict(list)
        for video in self.per_video():
            by_key[(video["predictor"], video["category"])].append(video)
        order = {c: i for i, c in enumerate((*CATEGORIES, UNKNOWN_CATEGORY))}
        names = [p.name for p in self.predictors]
        keys = sorted(by_key, key=lambda k: (names.index(k[0]), order.get(k[1], len(order)), k[1]))
        return [{"predictor": p, "category": c, **self._mean_over_videos(by_key[(p, c)])} for p, c in keys]

    def overall(self) -> list[dict]:
        by_predictor = defaultdict(list)
        for video in self.per_video():
            by_predictor[video["predictor"]].append(video)
        return [{"predictor": p.name, **self._mean_over_videos(by_predictor[p.name])} for p in self.predictors]

    def overall_of(self, name: str) -> dict:
        for row in self.overall():
            if row["predictor"] == name:
                return row
        raise KeyError(f"no predictor named {name!r} in this evaluation")

    def unscorable(self) -> dict[str, dict[str, int]]:
        """Per predictor and metric, how many frames could not be scored (NaN)."""
        counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(metrics.METRIC_NAMES, 0))
        for row in self.frames:
            for m in metrics.METRIC_NAMES:
                counts[row["predictor"]][m] += int(not math.isfinite(row[m]))
        return dict(counts)


def _nanmean(values) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _frame_seed(seed: int, video: str, index: int) -> list[int]:
    return [seed, zlib.crc32(video.encode()), index]


def _thin(indices: list[int], max_frames: int | None) -> list[int]:
    """At most ``max_frames`` of ``indices``, evenly spaced (first and last kept)."""
    if max_frames is None or len(indices) <= max_frames:
        return list(indices)
    if max_frames < 1:
        raise ValueError(f"max_frames_per_video must be >= 1, got {max_frames}")
    picks = np.linspace(0, len(indices) - 1, max_frames).round().astype(int)
    return [indices[i] for i in picks]


def select_frames(num_frames: int, frame_step: int = 1, max_frames: int | None = None) -> list[int]:
    """Indices to evaluate: every ``frame_step``-th frame, thinned evenly to at most ``max_frames``."""
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    return _thin(list(range(0, num_frames, frame_step)), max_frames)


def _require_labels(chosen: list, source: Source) -> list:
    unlabeled = [v.name for v in chosen if not v.has_density]
    if unlabeled:
        raise DatasetError(
            f"cannot evaluate without ground truth: video(s) {', '.join(unlabeled[:5])} of "
            f"{source.root} have no density maps"
        )
    return chosen


def _labeled_videos(source: Source, split: str | None, videos: Sequence[str] | None):
    chosen = source.videos
    if split is not None:
        chosen = [v for v in chosen if v.split == split]
        if not chosen:
            raise DatasetError(
                f"{source.layout} dataset {source.root} has no videos in split {split!r} "
                f"(splits: {', '.join(source.splits)})"
            )
    if videos:
        wanted = set(videos)
        missing = wanted - {v.name for v in chosen}
        if missing:
            raise DatasetError(f"videos not found in {source.root} (split {split}): {', '.join(sorted(missing))}")
        chosen = [v for v in chosen if v.name in wanted]
    return _require_labels(chosen, source)


def _small(image: np.ndarray, width: int = 256) -> np.ndarray:
    rows, cols = image.shape[:2]
    size = (width, max(1, round(width * rows / cols)))
    return cv2.resize(image.astype(np.float32) if image.dtype == bool else image, size, interpolation=cv2.INTER_AREA)


def evaluate(
    predictors: Sequence[Predictor],
    data: Source | SaliencyVideoDataset,
    split: str | None = None,
    *,
    videos: Sequence[str] | None = None,
    frame_step: int = 1,
    max_frames_per_video: int | None = None,
    n_other_frames: int = 10,
    seed: int = 0,
    n_examples: int = 4,
    profile: bool = True,
    profile_seconds: float = 0.5,
    progress: bool = True,
) -> Evaluation:
    """Run every predictor on the evaluated frames and score them at the ground truth's resolution.

    data: a ``Source`` (then ``split``, ``videos``, ``frame_step`` choose the frames) or a
    ``SaliencyVideoDataset`` (its videos and frames; ``split``/``videos``/``frame_step`` must be left
    unset). ``max_frames_per_video`` thins either evenly. Each frame is decoded once and given to every
    predictor; see the module docstring for the pairing, averaging, sAUC negatives and seeding."""
    if not predictors:
        raise ValueError("nothing to evaluate: no predictors given")
    names = [p.name for p in predictors]
    if len(set(names)) != len(names):
        raise ValueError(f"predictor names must be unique, got {names}")
    if isinstance(data, SaliencyVideoDataset):
        if split is not None or videos is not None or frame_step != 1:
            raise ValueError(
                "a SaliencyVideoDataset already chose its split, videos and frames: "
                "pass split/videos/frame_step to the dataset, not to evaluate()"
            )
        source = data.source
        chosen = _require_labels(data.videos, source)
        frames_of = defaultdict(list)
        for video, index in data.items:
            frames_of[video].append(index)
        plan = {v.name: _thin(frames_of[v.name], max_frames_per_video) for v in chosen}
    else:
        source = data
        chosen = _labeled_videos(source, split, videos)
        plan = {v.name: select_frames(v.num_frames, frame_step, max_frames_per_video) for v in chosen}
    total = sum(len(i) for i in plan.values())
    if total == 0:
        raise DatasetError(f"no frames to evaluate in {source.root}")

    bank = FixationBank()
    with_fixations = [v for v in chosen if v.has_fixation]
    for info in tqdm(
        with_fixations, desc="fixations for sAUC", unit="video", disable=not progress or not with_fixations
    ):
        for index in plan[info.name]:
            bank.add(info.name, index, source.read_fixation(info.name, index))

    summaries = []
    for p in predictors:
        net_profile = None
        if profile and p.network is not None and p.example_inputs is not None:
            net_profile = profile_network(p.network, p.example_inputs, min_seconds=profile_seconds)
        summaries.append(PredictorSummary(p.name, p.group, p.resolution, net_profile))

    example_picks = _pick_examples(chosen, plan, n_examples)
    rows: list[dict] = []
    roc_sum = {p.name: np.zeros_like(ROC_GRID) for p in predictors}
    roc_count = dict.fromkeys(names, 0)
    examples: list[Example] = []
    bar = tqdm(total=total * len(predictors), desc="evaluating", unit="map", disable=not progress)
    for info in chosen:
        last_read: tuple[int, np.ndarray] | None = None  # consecutive evaluated frames decode each frame once
        for index in plan[info.name]:
            if index == 0:
                previous = None
            elif last_read is not None and last_read[0] == index - 1:
                previous = last_read[1]
            else:
                previous = source.read_frame(info.name, index - 1)
            current = source.read_frame(info.name, index)
            previous = current if previous is None else previous
            last_read = (index, current)
            density = source.read_density(info.name, index)
            fixation = source.read_fixation(info.name, index) if info.has_fixation else None
            negatives_rng = np.random.default_rng([*_frame_seed(seed, info.name, index), 1])
            other = None
            if fixation is not None:
                other = bank.negatives(info.name, index, fixation.shape, n_other_frames, negatives_rng)
            example = None
            if (info.name, index) in example_picks:
                example = Example(
                    info.name,
                    index,
                    _small(current)[:, :, ::-1],
                    _small(density),
                    None if fixation is None else _small(fixation),
                )
                examples.append(example)
            for predictor, summary in zip(predictors, summaries, strict=True):
                t0 = time.perf_counter()
                saliency = np.asarray(predictor.predict(previous, current, info.name, index), dtype=np.float32)
                summary.seconds += time.perf_counter() - t0
                summary.calls += 1
                _check_prediction(saliency, predictor.name, info.name, index)
                rng = np.random.default_rng(_frame_seed(seed, info.name, index))
                scores, tpr = score_frame(saliency, fixation, density, other, rng)
                rows.append(
                    {
                        "predictor": predictor.name,
                        "video": info.name,
                        "category": info.category,
                        "index": index,
                        **scores,
                    }
                )
                if tpr is not None:
                    roc_sum[predictor.name] += tpr
                    roc_count[predictor.name] += 1
                if example is not None:
                    example.maps[predictor.name] = _small(metrics.resize_to(saliency, density.shape))
                bar.update()
    bar.close()

    notes = []
    if not with_fixations:
        notes.append("no fixation maps: AUC, sAUC and NSS are not computed (density-map metrics only)")
    elif bank.single_video:
        notes.append(
            "one video only: sAUC negatives are fixations of other frames of the same video, not of other videos"
        )
    info = {
        "source": str(source.root),
        "layout": source.layout,
        "split": split or "all",
        "videos": len(chosen),
        "frames": total,
        "frame_step": frame_step,
        "max_frames_per_video": max_frames_per_video,
        "n_other_frames": n_other_frames,
        "seed": seed,
        "notes": notes,
    }
    roc = {n: roc_sum[n] / roc_count[n] for n in names if roc_count[n]}
    return Evaluation(summaries, rows, roc, roc_count, examples, info)


def _check_prediction(saliency: np.ndarray, name: str, video: str, index: int) -> None:
    where = f"predictor {name!r} on frame {index} of video {video!r}"
    if saliency.ndim != 2 or saliency.size == 0:
        raise ValueError(f"{where} returned a map of shape {saliency.shape}, not a non-empty 2-D map")
    if not np.isfinite(saliency).all():
        raise ValueError(f"{where} returned NaN or infinite values")
    if saliency.min() < 0:
        raise ValueError(f"{where} returned negative values (saliency maps must be non-negative)")


def _pick_examples(videos, plan: dict[str, list[int]], n_examples: int) -> set[tuple[str, int]]:
    """The middle evaluated frame of up to ``n_examples`` videos, spread over the categories."""
    if n_examples <= 0:
        return set()
    by_category = defaultdict(list)
    for info in videos:
        if plan[info.name]:
            by_category[info.category].append(info.name)
    order, queues = [], [list(v) for v in by_category.values()]
    while queues and len(order) < n_examples:
        for queue in queues:
            if queue and len(order) < n_examples:
                order.append(queue.pop(0))
        queues = [q for q in queues if q]
    return {(name, plan[name][len(plan[name]) // 2]) for name in order}


def evaluate_predictor(
    predictor: Predictor, data: Source | SaliencyVideoDataset, split: str | None = None, **kwargs
) -> dict[str, float]:
    """Mean metrics (over videos) of one predictor: {"AUC": ..., "sAUC": ..., "NSS": ..., ...}.

    ``data``: a ``SaliencyVideoDataset`` (e.g. the validation set) or a ``Source`` with ``split``.
    The per-epoch validation hook for trainers; takes ``evaluate``'s keyword arguments (e.g.
    ``max_frames_per_video`` to keep it quick). No profiling, no progress bars."""
    kwargs.setdefault("profile", False)
    kwargs.setdefault("progress", False)
    kwargs.setdefault("n_examples", 0)
    result = evaluate([predictor], data, split, **kwargs)
    row = result.overall()[0]
    return {m: row[m] for m in metrics.METRIC_NAMES}


# --------------------------------------------------------------------------------------------------
# Report: Markdown, CSV, figures


def best_per_metric(rows: Sequence[dict]) -> dict[str, float]:
    best = {}
    for m in metrics.METRIC_NAMES:
        values = [r[m] for r in rows if math.isfinite(r[m])]
        if values:
            best[m] = min(values) if m in metrics.LOWER_IS_BETTER else max(values)
    return best


def metric_cells(row: dict, best: dict[str, float]) -> list[str]:
    """The row's metric values, the best of each column in bold."""
    cells = []
    for m in metrics.METRIC_NAMES:
        text = fmt(row[m])
        cells.append(f"**{text}**" if m in best and math.isfinite(row[m]) and row[m] == best[m] else text)
    return cells


def cost_cells(summary: PredictorSummary) -> list[str]:
    p = summary.profile
    if p is None:
        return ["—", "—", "—", "—", "—", fmt(summary.ms_per_frame_end_to_end, 2)]
    return [
        fmt(p.parameters / 1e6, 3),
        fmt(p.weights_mb, 2),
        fmt(p.activations_mb, 2),
        fmt(p.memory_mb, 2),
        f"{p.fps:,.0f}",
        fmt(summary.ms_per_frame_end_to_end, 2),
    ]


COST_HEADERS = ["Params (M)", "Weights (MB)", "Activations (MB)", "Memory (MB)", "FPS (model)", "ms/frame (end-to-end)"]
METRIC_HEADERS = ["AUC", "sAUC", "NSS", "SIM", "CC", "KLD ↓"]


def overall_table(evaluation: Evaluation, names: Sequence[str] | None = None) -> str:
    """Metrics and costs of every predictor (or of ``names``, in that order), best per column in bold."""
    overall = evaluation.overall()
    if names is not None:
        by_name = {r["predictor"]: r for r in overall}
        overall = [by_name[n] for n in names]
    best = best_per_metric(overall)
    summaries = {s.name: s for s in evaluation.predictors}
    rows = [
        [
            r["predictor"],
            summaries[r["predictor"]].group,
            *metric_cells(r, best),
            *cost_cells(summaries[r["predictor"]]),
        ]
        for r in overall
    ]
    return markdown_table(["Model", "Group", *METRIC_HEADERS, *COST_HEADERS], rows)


def category_table(evaluation: Evaluation) -> str:
    rows = evaluation.per_category()
    categories = sorted(
        {r["category"] for r in rows},
        key=lambda c: (*CATEGORIES, UNKNOWN_CATEGORY).index(c) if c in (*CATEGORIES, UNKNOWN_CATEGORY) else 99,
    )
    blocks = []
    for category in categories:
        subset = [r for r in rows if r["category"] == category]
        best = best_per_metric(subset)
        body = [[r["predictor"], *metric_cells(r, best)] for r in subset]
        blocks.append(
            f"**{category}** ({subset[0]['videos']} videos, {subset[0]['frames']} frames)\n\n"
            + markdown_table(["Model", *METRIC_HEADERS], body)
        )
    return "\n\n".join(blocks)


def write_csv(path: Path, rows: Sequence[dict]) -> None:
    if not rows:
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_roc(
    evaluation: Evaluation, path: Path, title: str = "Mean ROC (AUC-Judd)", names: Sequence[str] | None = None
) -> Path | None:
    """Mean ROC curves (TPR averaged over frames at fixed FPR) of every predictor (or of ``names``);
    None without fixations."""
    curves = {n: t for n, t in evaluation.roc.items() if names is None or n in names}
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    overall = {r["predictor"]: r for r in evaluation.overall()}
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, tpr in curves.items():
        ax.plot(ROC_GRID, tpr, label=f"{name} (AUC {fmt(overall[name]['AUC'])})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_examples(evaluation: Evaluation, path: Path, names: Sequence[str] | None = None) -> Path | None:
    """A grid: one row per example frame; frame, ground truth (density, fixations in red), the map of
    every predictor (or of ``names``)."""
    if not evaluation.examples:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [p.name for p in evaluation.predictors if names is None or p.name in names]
    n_rows, n_cols = len(evaluation.examples), 2 + len(names)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.9 * n_cols, 1.35 * n_rows + 0.4), squeeze=False)
    for row, example in zip(axes, evaluation.examples, strict=True):
        row[0].imshow(example.frame_rgb)
        row[0].set_ylabel(f"{example.video}\n#{example.index}", fontsize=6)
        row[1].imshow(example.density, cmap="gray")
        if example.fixation is not None:
            ys, xs = np.nonzero(example.fixation > 0)
            row[1].scatter(xs, ys, s=1, c="red", linewidths=0)
        for ax, name in zip(row[2:], names, strict=True):
            ax.imshow(example.maps[name], cmap="gray")
    for ax, title in zip(axes[0], ["frame", "ground truth", *names], strict=True):
        ax.set_title(title, fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def busy_note(evaluation: Evaluation) -> str:
    """A warning when the CPU was shared while networks were timed (speeds then understate the hardware)."""
    profiles = [s.profile for s in evaluation.predictors if s.profile is not None and s.profile.load is not None]
    if not profiles or profiles[0].device != "cpu":
        return ""
    load, cores = max(p.load for p in profiles), os.cpu_count() or 1
    if load <= 0.75 * cores:
        return ""
    return (
        f" **The machine was busy while timing** (load average up to {load:.1f} on {cores} cores): the speeds "
        f"understate what this hardware does alone."
    )


def cost_notes(evaluation: Evaluation) -> str:
    profiles = [s.profile for s in evaluation.predictors if s.profile is not None]
    device = f"{profiles[0].device}, {profiles[0].threads} threads" if profiles else "—"
    return (
        f"Params: learned parameters. Memory = weights + activations, where activations is the largest single "
        f"layer's input + output tensors at batch 1 (the quantity the paper's Table V reports as memory "
        f"footprint scales like this). FPS (model): forward pass only, batch 1, median over runs ({device}). "
        f"ms/frame (end-to-end): the whole predictor call on original frames, including resizing and "
        f"normalisation, as measured during this evaluation." + busy_note(evaluation)
    )


def write_report(evaluation: Evaluation, out_dir: str | Path, title: str = "Saliency evaluation") -> Path:
    """Markdown (``evaluation.md``), CSVs (overall, per category, per video, per frame) and figures
    (``roc.png``, ``examples.png``) in ``out_dir``; returns the Markdown path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summaries = {s.name: s for s in evaluation.predictors}
    overall = [
        {**r, "group": summaries[r["predictor"]].group, **_cost_fields(summaries[r["predictor"]])}
        for r in evaluation.overall()
    ]
    write_csv(out / "overall.csv", overall)
    write_csv(out / "per_category.csv", evaluation.per_category())
    write_csv(out / "per_video.csv", evaluation.per_video())
    write_csv(out / "per_frame.csv", evaluation.frames)
    roc = plot_roc(evaluation, out / "roc.png")
    grid = plot_examples(evaluation, out / "examples.png")

    info = evaluation.info
    lines = [
        f"# {title}",
        "",
        f"Data: `{info['source']}` ({info['layout']} layout), split **{info['split']}**: {info['videos']} videos, "
        f"{info['frames']} evaluated frames (every {info['frame_step']} frame(s)"
        + (f", at most {info['max_frames_per_video']} per video" if info["max_frames_per_video"] else "")
        + f"). Seed {info['seed']}; sAUC negatives from {info['n_other_frames']} random frames of other videos.",
        "",
        "Metrics follow the MIT saliency benchmark (see `skd_training/metrics.py`); all but KLD are better when "
        "higher; scores are means over videos of per-video means over frames; best per column in bold.",
        "",
    ]
    lines += [f"> Note: {note}" for note in info["notes"]]
    lines += ["", "## Overall", "", overall_table(evaluation), "", cost_notes(evaluation), ""]
    lines += ["## Per category", "", category_table(evaluation), ""]
    if roc:
        lines += ["## ROC curves", "", f"![mean ROC curves]({roc.name})", ""]
    if grid:
        lines += ["## Examples", "", f"![frames, ground truth and maps]({grid.name})", ""]
    unscorable = evaluation.unscorable()
    skipped = {p: {m: c for m, c in counts.items() if c} for p, counts in unscorable.items()}
    if any(skipped.values()):
        first = next(iter(skipped.values()))
        lines += [
            "## Unscorable frames",
            "",
            "Frames left out of a metric's mean because their ground truth cannot score it "
            f"(e.g. {', '.join(f'{m}: {c}' for m, c in first.items())} for the first predictor).",
            "",
        ]
    lines += ["## Per video", "", "See `per_video.csv` (and `per_frame.csv`).", ""]
    path = out / "evaluation.md"
    path.write_text("\n".join(lines))
    return path


def _cost_fields(summary: PredictorSummary) -> dict:
    p = summary.profile
    return {
        "parameters": p.parameters if p else "",
        "weights_mb": p.weights_mb if p else "",
        "activations_mb": p.activations_mb if p else "",
        "memory_mb": p.memory_mb if p else "",
        "fps_model": p.fps if p else "",
        "ms_per_frame_end_to_end": summary.ms_per_frame_end_to_end,
    }


# --------------------------------------------------------------------------------------------------
# Command line


def _named_paths(values: Sequence[str] | None, what: str) -> list[tuple[str | None, Path]]:
    """``NAME=PATH`` or ``PATH`` arguments -> (name or None, path)."""
    out = []
    for value in values or []:
        name, sep, path = value.partition("=")
        out.append((name, Path(path)) if sep else (None, Path(value)))
    for _, path in out:
        if not path.exists():
            raise FileNotFoundError(f"{what} {path} does not exist")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skd-eval",
        description="Evaluate the fused SKD model, students, teachers and baselines on a dataset split "
        "(AUC, sAUC, NSS, SIM, CC, KLD per video / category / overall; parameters, memory, FPS).",
    )
    parser.add_argument("data", help="dataset root (AVS1K, DHF1K, a synthetic benchmark, a bag, ...)")
    parser.add_argument("--layout", default="auto", help="dataset layout (default: detected)")
    parser.add_argument(
        "--split", default="test", help="split to evaluate (default: test; 'all' for every labeled video)"
    )
    parser.add_argument("--topic", help="image topic, for rosbag data")
    parser.add_argument("--density-topic", help="density-map topic, for rosbag data")
    parser.add_argument("--fixation-topic", help="fixation-map topic, for rosbag data")
    parser.add_argument(
        "--weights",
        action="append",
        metavar="[NAME=]PATH",
        help="fused-model checkpoint (repeatable); default: the shipped weights",
    )
    parser.add_argument("--no-model", action="store_true", help="do not evaluate the fused model")
    parser.add_argument(
        "--run-dir",
        help="a skd-train run directory: evaluate its students and teachers too (and its final fused model "
        "unless --weights is given)",
    )
    parser.add_argument("--no-students", action="store_true", help="with --run-dir: leave the students out")
    parser.add_argument("--no-teachers", action="store_true", help="with --run-dir: leave the teachers out")
    parser.add_argument(
        "--backend",
        default="auto",
        help="inference backend of the fused model (skd_ros.engines.backends; default auto)",
    )
    parser.add_argument(
        "--baselines",
        nargs="*",
        default=list(BASELINE_CHOICES),
        choices=list(BASELINE_CHOICES),
        help="baselines to run (default: all; give none to skip)",
    )
    parser.add_argument("--videos", nargs="+", help="only these videos")
    parser.add_argument("--frame-step", type=int, default=1, help="evaluate every N-th frame (default 1)")
    parser.add_argument("--max-frames-per-video", type=int, help="at most N frames per video, evenly spaced")
    parser.add_argument("--examples", type=int, default=4, help="example frames in the figure grid (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile-seconds", type=float, default=0.5, help="time spent timing each network for FPS (default 0.5)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--out", default="runs/eval", help="output folder (default runs/eval)")
    return parser


def build_predictors(args) -> list[Predictor]:
    predictors = []
    if not args.no_model:
        checkpoints = _named_paths(args.weights, "fused-model checkpoint")
        if not checkpoints and args.run_dir:
            checkpoints = [(None, path) for path in sorted(Path(args.run_dir).glob("final/skd_fused_*.pt"))]
            if not checkpoints:
                raise FileNotFoundError(f"{args.run_dir} has no final fused model (final/skd_fused_*.pt)")
        for name, path in checkpoints or [(None, None)]:
            estimator = SaliencyEstimator(weights=path, device=args.device, backend=args.backend)
            if estimator.untrained:
                log.warning("evaluating an UNTRAINED fused model: its scores are meaningless")
            predictors.append(fused_predictor(estimator, name))
    if args.run_dir:
        predictors += run_predictors(args.run_dir, args.device, not args.no_students, not args.no_teachers)
    predictors += [baseline_predictor(BASELINE_CHOICES[key]()) for key in args.baselines]
    return predictors


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        source = open_source(args.data, args.layout, args.topic, args.density_topic, args.fixation_topic)
        split = None if args.split == "all" else args.split
        _labeled_videos(source, split, args.videos)  # fail on a wrong split or video before loading models
        predictors = build_predictors(args)
        if not predictors:
            raise ValueError("nothing to evaluate: --no-model and no --baselines")
        evaluation = evaluate(
            predictors,
            source,
            split,
            videos=args.videos,
            frame_step=args.frame_step,
            max_frames_per_video=args.max_frames_per_video,
            seed=args.seed,
            n_examples=args.examples,
            profile_seconds=args.profile_seconds,
        )
    except (DatasetError, FileNotFoundError, ValueError) as exc:  # CheckpointError, TeacherError: ValueErrors
        print(f"skd-eval: error: {exc}", file=sys.stderr)
        return 2
    report = write_report(evaluation, args.out)
    print(overall_table(evaluation))
    print(f"\nreport: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
