"""One dataset class for every layout: frame pairs with ground truth at the student and teacher resolutions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from skd_ros.core.preprocess import check_resolution, preprocess
from skd_training.data.cache import (
    FrameCache,
    density_as_float,
    resize_density,
    resize_fixation,
    resize_frame,
)
from skd_training.data.layouts import DatasetError, Source, VideoInfo, open_source
from skd_training.data.soft_labels import SoftLabelStore

DEFAULT_RESOLUTION = 64
DEFAULT_TEACHER_RESOLUTION = 256


@dataclass(frozen=True)
class GroundTruth:
    """Original-resolution ground truth of one frame (metrics are computed at this size)."""

    density: np.ndarray  # H x W float32 in [0, 1]
    fixation: np.ndarray | None  # H x W bool, None when the video has no fixation maps


class SaliencyVideoDataset(Dataset):
    """Frame pairs of saliency videos from any layout of ``skd_training.data.layouts``.

    Items are the frames selected by ``frame_step`` (every frame by default) of the selected videos,
    in video order; ``items[i]`` is (video, frame). ``dataset[i]`` is a dict:

    * ``previous``, ``current``: 3 x R x R float32 tensors at the student resolution R
      (``resolution``), computed by ``skd_ros.core.preprocess.preprocess`` from the BGR frames (area resize,
      RGB, ImageNet normalisation). ``previous`` is frame t-1 of the same video; the first frame is
      paired with itself (``skd_ros.core.preprocess.FramePairBuffer``'s convention).
    * ``density``: 1 x R x R float32, the ground-truth density area-resized to R and scaled so its
      maximum is 1 (an empty map stays 0).
    * ``fixation``: 1 x R x R float32, 1 in every cell that contains at least one fixated source pixel
      (no fixation is lost by shrinking), else 0.
    * ``has_density``, ``has_fixation``: bool. Unlabeled videos (frame folders, video files, bags
      without ground-truth topics) and videos without fixation maps still carry ``density`` /
      ``fixation`` (all zeros) so that any mix of datasets collates; the flags say whether they are real.
    * ``previous_hr``, ``current_hr``, ``density_hr``, ``fixation_hr``: the same at the teacher
      resolution (``teacher_resolution``, square like the student's, default 256); absent when
      ``teacher_resolution=None``.
    * ``soft`` (1 x R x R) and ``soft_hr``: the teacher's map of this frame, only when ``soft_labels``
      names a soft-label folder (see ``skd_training.data.soft_labels``), area-resized and scaled so its
      maximum is 1.
    * ``video``: str, ``category``: 'Building', 'Human', 'Vehicle', 'Others' or 'Unknown', ``frame``:
      int, the 0-based frame index in its video.

    For evaluation at the annotation's size, ``ground_truth(video, frame)`` gives the original-resolution
    density and fixation maps and ``original_frame(video, frame)`` the original BGR uint8 frame (what a
    camera would hand to ``skd_ros.runtime.SaliencyPipeline``).

    source: a ``Source``, or a path opened with ``open_source(path, layout, topic)``.
    split: 'train', 'val', 'test' (AVS1K, DHF1K), 'all' (unlabeled sources) or None for every video.
    videos: restrict to these video names.
    cache_dir: keep resized frames and maps in a resumable ``FrameCache`` there (built, with a progress
    bar, when the dataset is created); without it every item is decoded and resized on access.
    """

    def __init__(
        self,
        source: Source | str | Path,
        split: str | None = None,
        resolution: int = DEFAULT_RESOLUTION,
        teacher_resolution: int | None = DEFAULT_TEACHER_RESOLUTION,
        cache_dir: str | Path | None = None,
        soft_labels: str | Path | None = None,
        frame_step: int = 1,
        videos: list[str] | None = None,
        layout: str = "auto",
        topic: str | None = None,
        workers: int | None = None,
        progress: bool = True,
    ):
        self.source = source if isinstance(source, Source) else open_source(source, layout, topic)
        check_resolution(resolution)
        if teacher_resolution is not None:
            check_resolution(teacher_resolution)
        if frame_step < 1:
            raise ValueError(f"frame_step must be >= 1, got {frame_step}")
        self.resolution = resolution
        self.teacher_resolution = teacher_resolution
        self.videos = self._select(split, videos)
        self._info = {v.name: v for v in self.videos}
        self.items: list[tuple[str, int]] = [
            (v.name, t) for v in self.videos for t in range(0, v.num_frames, frame_step)
        ]
        self._index = {item: i for i, item in enumerate(self.items)}
        self.cache = None
        if cache_dir is not None:
            self.cache = FrameCache(cache_dir, self.source, self.resolutions, workers)
            self.cache.build([v.name for v in self.videos], progress=progress)
        self.soft_labels = None
        if soft_labels is not None:
            self.soft_labels = SoftLabelStore(soft_labels)
            missing = [(v, t) for v, t in self.items if not self.soft_labels.has(v, t)]
            if missing:
                video, frame = missing[0]
                raise DatasetError(
                    f"{len(missing)} of {len(self.items)} frames have no soft label in {self.soft_labels.root}, "
                    f"first video {video!r} frame {frame} ({self.soft_labels.path(video, frame)}); "
                    "run build_soft_label_cache over this dataset first"
                )

    def _select(self, split: str | None, names: list[str] | None) -> list[VideoInfo]:
        chosen = self.source.videos
        if split is not None:
            if split not in self.source.splits:
                raise DatasetError(
                    f"{self.source.layout} dataset {self.source.root} has no split {split!r} "
                    f"(it has {', '.join(self.source.splits)})"
                )
            chosen = [v for v in chosen if v.split == split]
        if names is not None:
            known = {v.name for v in chosen}
            unknown = [n for n in names if n not in known]
            if unknown:
                raise DatasetError(f"no video {unknown[0]!r} in {self.source.root} (split {split})")
            chosen = [v for v in chosen if v.name in set(names)]
        return chosen

    @property
    def resolutions(self) -> tuple[int, ...]:
        return (self.resolution,) if self.teacher_resolution is None else (self.resolution, self.teacher_resolution)

    def __len__(self) -> int:
        return len(self.items)

    def index_of(self, video: str, frame: int) -> int:
        """The item index of (video, frame); raises if that frame is not an item."""
        if (video, frame) not in self._index:
            raise DatasetError(f"frame {frame} of video {video!r} is not an item of this dataset")
        return self._index[video, frame]

    # -- original resolution ---------------------------------------------------------------------------
    def original_frame(self, video: str, frame: int) -> np.ndarray:
        """The frame as stored: H x W x 3 uint8 BGR."""
        return self.source.read_frame(video, frame)

    def ground_truth(self, video: str, frame: int) -> GroundTruth:
        """The frame's density (and fixation) maps at their original size."""
        info = self.source.check_index(video, frame)
        if not info.has_density:
            raise DatasetError(f"video {video!r} of {self.source.root} has no ground truth")
        fixation = self.source.read_fixation(video, frame) if info.has_fixation else None
        return GroundTruth(self.source.read_density(video, frame), fixation)

    # -- items -----------------------------------------------------------------------------------------
    def _views(self, video: str, frame: int, resolution: int) -> dict[str, np.ndarray | None]:
        """Resized BGR frame, uint16 density and bool fixation (None when absent) of one frame."""
        info = self._info[video]
        if self.cache is not None:
            views = {"frame": self.cache.array(video, "frames", resolution)[frame]}
            views["density"] = self.cache.array(video, "density", resolution)[frame] if info.has_density else None
            views["fixation"] = self.cache.array(video, "fixation", resolution)[frame] if info.has_fixation else None
            return views
        return {
            "frame": resize_frame(self.source.read_frame(video, frame), resolution),
            "density": resize_density(self.source.read_density(video, frame), resolution) if info.has_density else None,
            "fixation": resize_fixation(self.source.read_fixation(video, frame), resolution)
            if info.has_fixation
            else None,
        }

    def _pair(self, video: str, frame: int, resolution: int, suffix: str) -> dict[str, torch.Tensor]:
        previous = self._views(video, max(frame - 1, 0), resolution)["frame"]
        views = self._views(video, frame, resolution)
        zeros = np.zeros((resolution, resolution), np.float32)
        density = zeros if views["density"] is None else density_as_float(views["density"])
        fixation = zeros if views["fixation"] is None else views["fixation"].astype(np.float32)
        return {
            f"previous{suffix}": torch.from_numpy(preprocess(np.ascontiguousarray(previous), resolution)),
            f"current{suffix}": torch.from_numpy(preprocess(np.ascontiguousarray(views["frame"]), resolution)),
            f"density{suffix}": torch.from_numpy(density[None]),
            f"fixation{suffix}": torch.from_numpy(fixation[None]),
        }

    def _soft(self, video: str, frame: int, resolution: int) -> torch.Tensor:
        stored = self.soft_labels.read(video, frame)
        return torch.from_numpy(density_as_float(resize_density(stored, resolution))[None])

    def __getitem__(self, index: int) -> dict:
        video, frame = self.items[index]
        info = self._info[video]
        item = self._pair(video, frame, self.resolution, "")
        if self.teacher_resolution is not None:
            item.update(self._pair(video, frame, self.teacher_resolution, "_hr"))
        if self.soft_labels is not None:
            item["soft"] = self._soft(video, frame, self.resolution)
            if self.teacher_resolution is not None:
                item["soft_hr"] = self._soft(video, frame, self.teacher_resolution)
        item.update(
            has_density=info.has_density,
            has_fixation=info.has_fixation,
            video=video,
            category=info.category,
            frame=frame,
        )
        return item

    def summary(self) -> dict[str, dict]:
        """Per split: videos, frames, items and per-category video/frame counts."""
        return summarise(self.videos, frame_items=Counter(video for video, _ in self.items))

    def __repr__(self) -> str:
        return (
            f"SaliencyVideoDataset({self.source!r}, {len(self.videos)} videos, {len(self)} items, "
            f"R={self.resolution}, teacher R={self.teacher_resolution}, cache={'on' if self.cache else 'off'})"
        )


def summarise(videos: list[VideoInfo], frame_items: dict[str, int] | None = None) -> dict[str, dict]:
    """{split: {"videos", "frames", "labeled", "with_fixations", "categories": {category: [videos, frames]}}}."""
    table: dict[str, dict] = {}
    for info in videos:
        row = table.setdefault(
            info.split, {"videos": 0, "frames": 0, "labeled": 0, "with_fixations": 0, "categories": {}}
        )
        row["videos"] += 1
        row["frames"] += info.num_frames if frame_items is None else frame_items[info.name]
        row["labeled"] += info.has_density
        row["with_fixations"] += info.has_fixation
        counts = row["categories"].setdefault(info.category, [0, 0])
        counts[0] += 1
        counts[1] += info.num_frames if frame_items is None else frame_items[info.name]
    return dict(sorted(table.items()))
