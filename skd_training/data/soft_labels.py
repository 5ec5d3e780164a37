"""Teacher soft labels: run a teacher over a dataset once at the teacher resolution and keep its maps.

``build_soft_label_cache(dataset, teacher_fn, out_dir)`` feeds the dataset's high-resolution pairs
(``previous_hr``, ``current_hr``: N x 3 x H x W, normalised like ``skd_ros.core.preprocess``) to
``teacher_fn`` in batches and stores each returned map (N x 1 x H x W or N x H x W, values in [0, 1])
as a 16-bit PNG, ``{out_dir}/{video}/{frame:06d}.png``. Every file is written under a temporary name
and renamed when complete, so an interrupted run leaves no half-written maps, and the next run skips
every frame that already has one. ``{out_dir}/soft_labels.json`` records the teacher's name, the
teacher resolution and the source, and a run with a different teacher or resolution into the same
folder is refused. ``check_teacher_resolution`` refuses soft labels whose recorded teacher resolution is
not the one a run asks for (students must learn from the maps of the teachers they say they learn from).

``SaliencyVideoDataset(..., soft_labels=out_dir)`` then serves each map degraded to the student
resolution (area interpolation, scaled so its maximum is 1) as ``item["soft"]``, and at the teacher
resolution as ``item["soft_hr"]``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from skd_training.data.layouts import DatasetError

MANIFEST = "soft_labels.json"
SOFT_SCALE = 65535


class SoftLabelStore:
    """The soft-label maps in ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, video: str, frame: int) -> Path:
        return self.root / video / f"{frame:06d}.png"

    def has(self, video: str, frame: int) -> bool:
        return self.path(video, frame).is_file()

    def manifest(self) -> dict | None:
        try:
            return json.loads((self.root / MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def read(self, video: str, frame: int) -> np.ndarray:
        """The stored map as float32 in [0, 1] at the resolution the teacher produced."""
        path = self.path(video, frame)
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DatasetError(
                f"video {video!r}, frame {frame}: soft label {path} is missing or unreadable; "
                "run build_soft_label_cache over this dataset first"
            )
        return image.astype(np.float32) / SOFT_SCALE

    def write(self, video: str, frame: int, saliency: np.ndarray) -> None:
        path = self.path(video, frame)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial.png")
        pixels = np.round(np.clip(saliency, 0.0, 1.0) * SOFT_SCALE).astype(np.uint16)
        if not cv2.imwrite(str(partial), pixels):
            raise OSError(f"cannot write soft label {partial}")
        os.replace(partial, path)


def check_teacher_resolution(root: str | Path, wanted: int) -> None:
    """Refuse the soft labels in ``root`` unless its manifest says they were computed at ``wanted`` px."""
    store = SoftLabelStore(root)
    found = store.manifest()
    if found is None:
        raise DatasetError(
            f"soft labels in {store.root} have no {MANIFEST}: the resolution they were computed at is unknown; "
            "relabel them (skd-train soft-labels --overwrite)"
        )
    recorded = found.get("teacher_resolution")
    if recorded != wanted:
        raise DatasetError(
            f"soft labels in {store.root} were computed at teacher resolution {recorded} px, but the config asks "
            f"for teacher_resolution {wanted}: relabel them (skd-train soft-labels --overwrite) or set "
            f"teacher_resolution={recorded}"
        )


def _as_maps(output, batch: int) -> np.ndarray:
    """A teacher's output (tensor or array, N x 1 x H x W or N x H x W) -> N x H x W float32."""
    maps = output.detach().float().cpu().numpy() if isinstance(output, torch.Tensor) else np.asarray(output, np.float32)
    if maps.ndim == 4 and maps.shape[1] == 1:
        maps = maps[:, 0]
    if maps.ndim != 3 or maps.shape[0] != batch:
        raise ValueError(f"teacher returned shape {maps.shape} for a batch of {batch}; expected N x 1 x H x W")
    if not np.isfinite(maps).all():
        raise ValueError("teacher returned NaN or infinite values")
    return maps


def build_soft_label_cache(
    dataset,
    teacher_fn: Callable,
    out_dir: str | Path,
    name: str = "teacher",
    batch_size: int = 8,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> int:
    """Run ``teacher_fn(previous_hr, current_hr) -> N x 1 x H x W`` over every item of ``dataset``
    (a ``SaliencyVideoDataset`` with a teacher resolution) that has no stored map yet; returns how
    many maps it computed. Inputs are moved to ``device``; the call runs under ``torch.no_grad()``.

    name: identifies the teacher; a folder already holding another teacher's maps is refused."""
    if getattr(dataset, "teacher_resolution", None) is None:
        raise ValueError("the dataset has no teacher resolution (teacher_resolution=None); soft labels need one")
    store = SoftLabelStore(out_dir)
    wanted = {"teacher": name, "teacher_resolution": dataset.teacher_resolution, "source": dataset.source.key}
    found = store.manifest()
    if found is not None and any(found.get(k) != v for k, v in wanted.items()):
        raise ValueError(f"{store.root} holds soft labels of {found}, not {wanted}; use another folder")
    store.root.mkdir(parents=True, exist_ok=True)
    if found is None:
        (store.root / MANIFEST).write_text(json.dumps(wanted, indent=1))
    pending = [i for i, (video, frame) in enumerate(dataset.items) if not store.has(video, frame)]
    if not pending:
        return 0
    loader = DataLoader(Subset(dataset, pending), batch_size=batch_size, num_workers=num_workers, shuffle=False)
    done = 0
    with tqdm(total=len(pending), unit="frame", desc=f"soft labels ({name})", disable=not progress) as bar:
        for batch in loader:
            previous = batch["previous_hr"].to(device)
            current = batch["current_hr"].to(device)
            with torch.no_grad():
                maps = _as_maps(teacher_fn(previous, current), len(previous))
            for video, frame, saliency in zip(batch["video"], batch["frame"].tolist(), maps, strict=True):
                store.write(video, frame, saliency)
            done += len(maps)
            bar.update(len(maps))
    return done
