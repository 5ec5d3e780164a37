"""What an evaluation holds: every predictor's per-frame scores and cost, and their averages.

Averaging: a video's score is the mean over its evaluated frames; category and overall scores are
means over videos (each video counts once, however long). Frames whose ground truth cannot score a
metric (no fixations, an all-zero density map) are left out of that metric and counted
(``Evaluation.unscorable``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from skd_training import metrics
from skd_training.data.layouts import CATEGORIES, UNKNOWN_CATEGORY
from skd_training.evaluate.cost import NetworkProfile


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
