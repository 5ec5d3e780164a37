"""The datasets of one training run, as its configuration's ``data`` section lists them.

``DataSets`` opens each source once (at the student resolution, with or without the teacher resolution
and a teacher's soft labels) and gives each stage its training and validation sets: annotated frames
only for the hard loss, unlabeled video too where soft labels stand in for the ground truth.
Soft labels live under ``<run_dir>/soft_labels/<kind>/<source>/`` (``soft_label_dir``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import ConcatDataset, Dataset, Subset
from tqdm import tqdm

from skd_training.config import PipelineConfig, SourceConfig, StillImagesConfig
from skd_training.data.dataset import SaliencyVideoDataset
from skd_training.data.layouts import DatasetError
from skd_training.data.soft_labels import check_teacher_resolution
from skd_training.teachers import KINDS


def source_exists(source: SourceConfig | StillImagesConfig, what: str) -> bool:
    """Whether ``source``'s paths exist; a missing optional source is skipped with a warning, a missing
    required one is an error."""
    paths = [source.path] if isinstance(source, SourceConfig) else [source.images, source.maps]
    missing = [p for p in paths if not Path(p).exists()]
    if not missing:
        return True
    if source.optional:
        tqdm.write(f"warning: {what} {missing[0]} does not exist; skipping it (marked optional)")
        return False
    raise DatasetError(
        f"{what} {missing[0]} does not exist (run from the folder the config's relative paths start from, "
        "fix the path, or mark the source optional)"
    )


@dataclass
class DataSets:
    """The datasets of one pipeline run, opened once."""

    config: PipelineConfig
    cache_dir: Path
    progress: bool = True
    _open: dict = field(default_factory=dict)

    def dataset(self, source: SourceConfig, teacher_res: bool, soft_dir: Path | None = None) -> SaliencyVideoDataset:
        """``source`` opened (on first use) at the student resolution, with the teacher resolution when
        ``teacher_res``, with the soft labels in ``soft_dir`` when given."""
        key = (source.path, source.split, source.frame_step, teacher_res, str(soft_dir))
        if key not in self._open:
            if soft_dir is not None:
                check_teacher_resolution(soft_dir, self.config.teacher_resolution)
            self._open[key] = SaliencyVideoDataset(
                source.path,
                split=source.split,
                resolution=self.config.resolution,
                teacher_resolution=self.config.teacher_resolution if teacher_res else None,
                cache_dir=self.cache_dir,
                soft_labels=soft_dir,
                frame_step=source.frame_step,
                videos=source.videos,
                layout=source.layout,
                topic=source.topic,
                progress=self.progress,
            )
        return self._open[key]

    def sources(self, which: str) -> list[SourceConfig]:
        listed = getattr(self.config.data, which)
        return [s for s in listed if source_exists(s, f"{which} data source")]

    def train_sources(self, with_unlabeled: bool) -> list[SourceConfig]:
        return self.sources("train") + (self.sources("unlabeled") if with_unlabeled else [])

    def train(
        self, teacher_res: bool, annotated_only: bool, soft_kind: str | None = None, run_dir: Path | None = None
    ) -> Dataset:
        """soft_kind: attach that teacher's soft labels as ``soft`` ('spatial', 'temporal', or 'both' for
        the mean of the two teachers' maps)."""
        parts = []
        for source in self.train_sources(with_unlabeled=soft_kind is not None and not annotated_only):
            if soft_kind == "both":
                dataset = MeanSoftLabels(
                    *(
                        self.dataset(source, teacher_res, soft_label_dir(run_dir, kind, self.dataset(source, False)))
                        for kind in KINDS
                    )
                )
            else:
                soft_dir = None
                if soft_kind is not None:
                    soft_dir = soft_label_dir(run_dir, soft_kind, self.dataset(source, False))
                dataset = self.dataset(source, teacher_res, soft_dir)
            parts.append(annotated_subset(dataset) if annotated_only else dataset)
        parts = [p for p in parts if len(p)]
        if not parts:
            what = "annotated training frames (ground-truth density maps)" if annotated_only else "training frames"
            raise DatasetError(f"no {what} in data.train{'' if annotated_only else ' / data.unlabeled'}")
        return parts[0] if len(parts) == 1 else ConcatDataset(parts)

    def val(self, teacher_res: bool) -> Dataset | None:
        parts = [annotated_subset(self.dataset(s, teacher_res)) for s in self.sources("val")]
        parts = [p for p in parts if len(p)]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else ConcatDataset(parts)

    def describe(self) -> dict:
        """Sources and frame counts, for checkpoints' provenance."""
        out = {}
        for which in ("train", "val", "unlabeled"):
            out[which] = [
                {
                    "path": s.path,
                    "layout": s.layout,
                    "split": s.split,
                    "frame_step": s.frame_step,
                    "frames": len(self.dataset(s, False)),
                }
                for s in self.sources(which)
            ]
        return out


class MeanSoftLabels(Dataset):
    """The items of ``first`` with ``soft`` the mean of both datasets' soft labels (same items, two
    teachers' soft-label folders)."""

    def __init__(self, first: SaliencyVideoDataset, second: SaliencyVideoDataset):
        if first.items != second.items:
            raise DatasetError("cannot average soft labels of datasets with different items")
        self.first, self.second = first, second
        self.items, self.source = first.items, first.source

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, index: int) -> dict:
        item = self.first[index]
        item["soft"] = 0.5 * (item["soft"] + self.second[index]["soft"])
        item.pop("soft_hr", None)
        return item


def annotated_subset(dataset: SaliencyVideoDataset) -> Dataset:
    """The items with a ground-truth density map."""
    keep = [i for i, (video, _) in enumerate(dataset.items) if dataset.source.video(video).has_density]
    return dataset if len(keep) == len(dataset) else Subset(dataset, keep)


def every_nth(dataset: Dataset, step: int) -> Dataset:
    return dataset if step == 1 else Subset(dataset, range(0, len(dataset), step))


def soft_label_dir(run_dir: Path, kind: str, dataset: SaliencyVideoDataset) -> Path:
    return Path(run_dir) / "soft_labels" / kind / dataset.source.key
