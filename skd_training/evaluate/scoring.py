"""The scoring loop: every predictor on the evaluated frames of a split, scored with the MIT benchmark's
metrics (``skd_training.metrics``) at the ground truth's original resolution.

Pairing: each evaluated frame goes to every predictor with the frame before it (the first frame of a
video with itself, see ``skd_training.evaluate.predictors``; a fused model given the videos' frame rate
reads the earlier frames it pairs with itself); each frame is decoded once. The averages
over videos, categories and the whole set are ``skd_training.evaluate.results``'.

sAUC negatives: for each frame, the union of the fixations of ``n_other_frames`` (10) frames drawn at
random from *other* videos of the evaluated set (the DHF1K protocol), mapped to this frame's size by
relative position. A set with a single video falls back to other frames of the same video, and the
report says so.

Videos without fixation maps: AUC, sAUC and NSS need fixations. By default such a video is left out of
them, and a split with none at all reports them as unavailable with the reason (``Evaluation.unavailable``,
logged too), never as a silent blank. ``sampled_fixations=N`` opts into N fixations per frame drawn from
the frame's density map (with replacement, probability proportional to density); the tables then label
those metrics "(sampled fixations)": they are not human fixations.

Randomness (AUC-Judd's jitter, sAUC's draws, sampled fixations) comes from generators seeded by (seed,
video, frame): reruns give identical numbers, and every predictor sees the same draws on the same frame.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence

import cv2
import numpy as np
from tqdm import tqdm

from skd_training import metrics
from skd_training.data.dataset import SaliencyVideoDataset
from skd_training.data.layouts import DatasetError, Source
from skd_training.evaluate.cost import profile_network
from skd_training.evaluate.predictors import Predictor
from skd_training.evaluate.results import Evaluation, Example, PredictorSummary

log = logging.getLogger(__name__)

ROC_GRID = np.linspace(0.0, 1.0, 101)
FIXATION_METRICS = ("AUC", "sAUC", "NSS")


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


def fixations_from_density(density: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` fixations drawn from ``density`` (with replacement, probability proportional to it) as an
    H x W bool map; an empty density map gives no fixations (the frame is then unscorable)."""
    weights = np.asarray(density, dtype=np.float64).ravel()
    total = weights.sum()
    fixation = np.zeros(density.shape, dtype=bool)
    if total > 0:
        fixation.flat[rng.choice(weights.size, size=count, p=weights / total)] = True
    return fixation


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
# Which frames of which videos


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


def labeled_videos(source: Source, split: str | None, videos: Sequence[str] | None):
    """The videos of ``split`` (every split where None), only ``videos`` where given; an error where one
    is missing or has no ground truth (``skd-eval`` checks this before it loads any model)."""
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


# --------------------------------------------------------------------------------------------------
# The loop


def _frame_seed(seed: int, video: str, index: int) -> list[int]:
    return [seed, zlib.crc32(video.encode()), index]


class _Fixations:
    """Where a frame's fixations come from: the video's fixation maps, or (opted into) a sample of its
    density map, the same draw whenever the frame is asked for."""

    def __init__(self, source: Source, seed: int, sampled: int | None):
        if sampled is not None and sampled < 1:
            raise ValueError(f"sampled_fixations must be >= 1, got {sampled}")
        self.source, self.seed, self.sampled = source, seed, sampled

    def of(self, info, index: int, density: np.ndarray | None = None) -> np.ndarray | None:
        if info.has_fixation:
            return self.source.read_fixation(info.name, index)
        if self.sampled is None:
            return None
        density = self.source.read_density(info.name, index) if density is None else density
        rng = np.random.default_rng([*_frame_seed(self.seed, info.name, index), 2])
        return fixations_from_density(density, self.sampled, rng)


def fixation_origin(videos, sampled: int | None) -> str:
    """'recorded' (every video has fixation maps), 'sampled' (none has; sampled from density), 'mixed'
    (some sampled), 'partial' (some have none, not sampled) or 'none'."""
    recorded = sum(v.has_fixation for v in videos)
    if recorded == len(videos):
        return "recorded"
    if sampled is not None:
        return "sampled" if recorded == 0 else "mixed"
    return "none" if recorded == 0 else "partial"


def unavailable_metrics(origin: str, split: str, frames: list[dict]) -> dict[str, str]:
    """Metric -> why no frame could be scored with it (empty when every metric has a value)."""
    reasons = {}
    for metric in metrics.METRIC_NAMES:
        if any(np.isfinite(row[metric]) for row in frames):
            continue
        if metric in FIXATION_METRICS and origin == "none":
            reasons[metric] = (
                f"the {split} split has no fixation maps (opt into fixations sampled from the density maps "
                "with --sampled-fixations N)"
            )
        elif metric == "sAUC":
            reasons[metric] = "no other frame has fixations to draw the shuffled negatives from"
        else:
            reasons[metric] = "no evaluated frame's ground truth can score it (empty or constant maps)"
    return reasons


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
    sampled_fixations: int | None = None,
) -> Evaluation:
    """Run every predictor on the evaluated frames and score them at the ground truth's resolution.

    data: a ``Source`` (then ``split``, ``videos``, ``frame_step`` choose the frames) or a
    ``SaliencyVideoDataset`` (its videos and frames; ``split``/``videos``/``frame_step`` must be left
    unset). ``max_frames_per_video`` thins either evenly. Each frame is decoded once and given to every
    predictor; see the module docstring for the pairing, sAUC negatives, sampled fixations
    (``sampled_fixations``) and seeding."""
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
        chosen = labeled_videos(source, split, videos)
        plan = {v.name: select_frames(v.num_frames, frame_step, max_frames_per_video) for v in chosen}
    total = sum(len(i) for i in plan.values())
    if total == 0:
        raise DatasetError(f"no frames to evaluate in {source.root}")

    bank = FixationBank()
    fixations = _Fixations(source, seed, sampled_fixations)
    with_fixations = [v for v in chosen if v.has_fixation or sampled_fixations is not None]
    for info in tqdm(
        with_fixations, desc="fixations for sAUC", unit="video", disable=not progress or not with_fixations
    ):
        for index in plan[info.name]:
            bank.add(info.name, index, fixations.of(info, index))

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
            fixation = fixations.of(info, index, density)
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

    origin = fixation_origin(chosen, sampled_fixations)
    unavailable = unavailable_metrics(origin, split or "all", rows)
    for metric, reason in unavailable.items():
        log.warning("%s is n/a: %s", metric, reason)
    notes = []
    recorded = sum(v.has_fixation for v in chosen)
    if origin in ("sampled", "mixed"):
        notes.append(
            f"{len(chosen) - recorded} of {len(chosen)} videos have no fixation maps: their AUC, sAUC and NSS use "
            f"{sampled_fixations} fixations per frame sampled from the density map, not recorded gaze"
        )
    elif origin == "partial":
        notes.append(
            f"AUC, sAUC and NSS are over the {recorded} of {len(chosen)} videos that have fixation maps "
            "(--sampled-fixations N samples fixations for the others)"
        )
    if origin != "none" and bank.single_video:
        notes.append(
            "one video only: sAUC negatives are fixations of other frames of the same video, not of other videos"
        )
    info = {
        "source": str(source.root),
        "layout": source.layout,
        "split": split or "all",
        "fixations": origin,
        "sampled_fixations": sampled_fixations,
        "unavailable": unavailable,
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
