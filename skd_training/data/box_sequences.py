"""Real footage with target boxes: tracking-benchmark clips (UAV123, DTB70, UAVDT) laid out as a folder of
frames (sorted by name) with ``<folder>_bbox_gt.txt`` beside it, one ``x,y,w,h`` line per frame in that
frame's pixels (commas, tabs or spaces), ``NaN`` where the target is not visible. Frames after the last
box line belong to no box. Used to score where attention lands (``skd_training.evaluate.real_footage``)
and as weak supervision (a person watching such a clip looks at the target most of the time)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from skd_training.data.layouts import DatasetError

BOX_SUFFIX = "_bbox_gt.txt"
FRAME_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass(frozen=True)
class BoxSequence:
    """One clip: its frames in order and one box per scored frame (x, y, w, h; NaN: target not visible)."""

    name: str
    frames: tuple[Path, ...]
    boxes: np.ndarray  # N x 4, N <= len(frames)

    def read(self, index: int) -> np.ndarray:
        frame = cv2.imread(str(self.frames[index]), cv2.IMREAD_COLOR)
        if frame is None:
            raise DatasetError(f"sequence {self.name!r}: cannot read frame {self.frames[index]}")
        return frame

    def scored(self) -> Iterator[tuple[int, np.ndarray | None]]:
        """(index, box or None) for every frame up to the last box line."""
        for index, box in enumerate(self.boxes):
            yield index, (box if np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0 else None)


def read_boxes(path: Path) -> np.ndarray:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = re.split(r"[,\s]+", line.strip())
        try:
            values = [float(v) for v in fields[:4]]
        except ValueError:
            raise DatasetError(f"{path}:{number}: expected x,y,w,h numbers (or NaN), got {line.strip()!r}") from None
        if len(values) != 4:
            raise DatasetError(f"{path}:{number}: expected 4 values x,y,w,h, got {len(values)}")
        rows.append(values)
    if not rows:
        raise DatasetError(f"{path} holds no boxes")
    return np.array(rows, dtype=np.float64)


def open_box_sequence(folder: Path, name: str | None = None) -> BoxSequence:
    box_file = folder.parent / f"{folder.name}{BOX_SUFFIX}"
    frames = tuple(sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES))
    boxes = read_boxes(box_file)
    if not frames:
        raise DatasetError(f"sequence folder {folder} holds no frames ({', '.join(sorted(FRAME_SUFFIXES))})")
    if len(boxes) > len(frames):
        raise DatasetError(f"{box_file} has {len(boxes)} boxes but {folder} only {len(frames)} frames")
    return BoxSequence(name or folder.name, frames, boxes)


def find_box_sequences(roots: list[str | Path]) -> list[BoxSequence]:
    """Every frame folder with ``<folder>_bbox_gt.txt`` beside it: each root is such a folder or holds
    them. Raises DatasetError naming a root that is missing or holds none."""
    found: list[tuple[Path, Path]] = []
    for root in map(Path, roots):
        if not root.is_dir():
            raise DatasetError(f"real-footage folder {root} does not exist (or is not a folder)")
        if (root.parent / f"{root.name}{BOX_SUFFIX}").is_file():
            found.append((root, root))
            continue
        inside = [d for d in sorted(root.iterdir()) if d.is_dir() and (root / f"{d.name}{BOX_SUFFIX}").is_file()]
        if not inside:
            raise DatasetError(f"{root} holds no sequence: no folder <name> with <name>{BOX_SUFFIX} beside it")
        found += [(root, d) for d in inside]
    names = [folder.name for _, folder in found]
    # the same clip name under two roots: tell them apart by the root's name
    return [
        open_box_sequence(folder, f"{root.name}/{folder.name}" if names.count(folder.name) > 1 else folder.name)
        for root, folder in found
    ]


def open_unlabeled_sequence(folder: str | Path) -> BoxSequence:
    """A folder of frames with no boxes (drone video of one's own): every frame a box-less one, so that
    training uses it for the teachers' soft labels only and scoring finds nothing to score in it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"unlabeled footage folder {folder} does not exist (or is not a folder)")
    frames = tuple(sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES))
    if len(frames) < 2:
        raise DatasetError(f"{folder} holds {len(frames)} frames ({', '.join(sorted(FRAME_SUFFIXES))}): need a clip")
    return BoxSequence(folder.name, frames, np.full((len(frames), 4), np.nan))


def sequences_seen(meta: dict, sequences: list[BoxSequence]) -> set[str]:
    """The box sequences a checkpoint was trained on: those its ``meta["real_sequences"]`` lists
    (skd-train-real) and those whose frames lie under a data source of its skd-train run (``meta["data"]``:
    train, val and unlabeled paths, relative to the directory the run started in, taken as this one)."""
    seen = set(meta.get("real_sequences", []))
    roots = [
        Path(source["path"]).resolve()
        for sources in (meta.get("data") or {}).values()
        if isinstance(sources, list)
        for source in sources
        if isinstance(source, dict) and source.get("path")
    ]
    for sequence in sequences:
        folder = sequence.frames[0].parent.resolve()
        if any(folder == root or root in folder.parents for root in roots):
            seen.add(sequence.name)
    return seen
