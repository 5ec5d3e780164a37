"""A resumable on-disk cache of a source's frames and maps, resized once to the resolutions training uses.

Decoding PNGs or video and resizing 720p frames costs far more than a training step of a 64 x 64
student, so it happens once: ``FrameCache.build`` writes, per video and per resolution R,

* ``frames_R.npy``   N x R x R x 3 uint8, BGR, area-resized (what ``skd_ros.core.preprocess.preprocess``
  would compute before normalising: resizing an R x R frame to R x R is the identity);
* ``density_R.npy``  N x R x R uint16, the [0, 1] density map area-resized, times 65535;
* ``fixation_R.npy`` N x R x R bool, a cell is True if any source pixel in it is fixated (no fixation
  is lost however far the map is shrunk);

under ``{cache_dir}/{source.key}/{video}/``, then ``meta.json`` (frame count, resolutions and a
fingerprint of the source files). A video counts as done only once its ``meta.json`` is written and its
fingerprint still matches, so an interrupted build loses at most the video it was working on, a
changed video is rebuilt, and asking for a new resolution only adds that resolution's arrays. Arrays
are read back memory-mapped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from skd_ros.core.preprocess import area_resize
from skd_training.data.layouts import DatasetError, Source

CACHE_VERSION = 2  # 2: area_resize halves large frames first (a few grey levels from version 1)
DENSITY_SCALE = 65535  # densities are stored as uint16 fractions of 1


def resize_frame(frame: np.ndarray, resolution: int) -> np.ndarray:
    """BGR uint8 frame -> R x R BGR uint8 by area interpolation (the paper's resolution reduction),
    with the runtime's own resize so that cached frames equal what the node computes."""
    return area_resize(frame, resolution, resolution)


def resize_density(density: np.ndarray, resolution: int) -> np.ndarray:
    """[0, 1] float density -> R x R uint16 (area interpolation, scaled by ``DENSITY_SCALE``)."""
    small = area_resize(density.astype(np.float32), resolution, resolution)
    return np.round(np.clip(small, 0.0, 1.0) * DENSITY_SCALE).astype(np.uint16)


def resize_fixation(fixation: np.ndarray, resolution: int) -> np.ndarray:
    """Boolean fixation map -> R x R bool where a cell is True if any source pixel in it is fixated."""
    rows, cols = fixation.shape
    ys, xs = np.nonzero(fixation)
    small = np.zeros((resolution, resolution), dtype=bool)
    small[ys * resolution // rows, xs * resolution // cols] = True
    return small


def density_as_float(stored: np.ndarray) -> np.ndarray:
    """A stored uint16 density -> float32 scaled so its maximum is 1 (an all-zero map stays zero)."""
    density = stored.astype(np.float32) / DENSITY_SCALE
    peak = density.max()
    return density / peak if peak > 0 else density


def _write_json(path: Path, content: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content, indent=1))
    os.replace(partial, path)


class FrameCache:
    """Resized frames and maps of ``source`` at ``resolutions``, stored under ``cache_dir``.

    workers: threads decoding image files in parallel while building (OpenCV releases the GIL)."""

    def __init__(self, cache_dir: str | Path, source: Source, resolutions: Iterable[int], workers: int | None = None):
        self.root = Path(cache_dir) / source.key
        self.source = source
        self.resolutions = tuple(sorted(set(int(r) for r in resolutions)))
        self.workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        self._arrays: dict[tuple[str, str, int], np.ndarray] = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_arrays"] = {}  # memory maps are reopened in each DataLoader worker
        return state

    def video_dir(self, video: str) -> Path:
        return self.root / video

    def _meta(self, video: str) -> dict | None:
        try:
            return json.loads((self.video_dir(video) / "meta.json").read_text())
        except (OSError, ValueError):
            return None

    def _current_meta(self, video: str) -> dict | None:
        """The video's meta.json if it still describes the source (same files, same kinds of maps)."""
        meta, info = self._meta(video), self.source.video(video)
        if (
            meta is None
            or meta.get("version") != CACHE_VERSION
            or meta.get("fingerprint") != self.source.fingerprint(video)
            or (meta.get("has_density"), meta.get("has_fixation")) != (info.has_density, info.has_fixation)
        ):
            return None
        return meta

    def missing_resolutions(self, video: str) -> tuple[int, ...]:
        """The resolutions still to build for ``video`` (all of them when its files changed)."""
        meta = self._current_meta(video)
        if meta is None:
            return self.resolutions
        return tuple(r for r in self.resolutions if r not in meta.get("resolutions", []))

    def build(self, videos: Iterable[str] | None = None, progress: bool = True) -> list[str]:
        """Build whatever is missing for ``videos`` (default: all of the source's); returns the videos
        (re)built. Safe to interrupt: finished videos are kept, the interrupted one is redone."""
        names = [v.name for v in self.source.videos] if videos is None else list(videos)
        todo = [(name, self.missing_resolutions(name)) for name in names]
        todo = [(name, missing) for name, missing in todo if missing]
        total = sum(self.source.video(name).num_frames for name, _ in todo)
        with tqdm(
            total=total, unit="frame", desc=f"caching {self.source.key}", disable=not progress or not todo
        ) as bar:
            for name, missing in todo:
                self._build_video(name, missing, bar)
        return [name for name, _ in todo]

    def _resized(self, video: str, resolutions: tuple[int, ...]) -> Iterator[dict]:
        """Per frame: {(kind, R): array} for the requested resolutions, in frame order."""
        info = self.source.video(video)

        def resize_all(frame, density, fixation) -> dict:
            out = {}
            for r in resolutions:
                out["frames", r] = resize_frame(frame, r)
                if density is not None:
                    out["density", r] = resize_density(density, r)
                if fixation is not None:
                    out["fixation", r] = resize_fixation(fixation, r)
            return out

        def load(index: int) -> dict:
            density = self.source.read_density(video, index) if info.has_density else None
            fixation = self.source.read_fixation(video, index) if info.has_fixation else None
            return resize_all(self.source.read_frame(video, index), density, fixation)

        if hasattr(self.source, "files") and self.workers > 1:  # image files: random access, decode in parallel
            with ThreadPoolExecutor(self.workers) as pool:
                # submit in windows so that a long video never queues all of its frames at once
                window = 4 * self.workers
                for start in range(0, info.num_frames, window):
                    yield from pool.map(load, range(start, min(start + window, info.num_frames)))
        else:
            for frame, density, fixation in self.source.iter_video(video):
                yield resize_all(frame, density, fixation)

    def _build_video(self, video: str, resolutions: tuple[int, ...], bar: tqdm) -> None:
        info = self.source.video(video)
        folder = self.video_dir(video)
        folder.mkdir(parents=True, exist_ok=True)
        meta = self._current_meta(video)
        fingerprint = self.source.fingerprint(video)
        kept = [] if meta is None else meta.get("resolutions", [])
        n = info.num_frames
        shapes = {}
        for r in resolutions:
            shapes["frames", r] = ((n, r, r, 3), np.uint8)
            if info.has_density:
                shapes["density", r] = ((n, r, r), np.uint16)
            if info.has_fixation:
                shapes["fixation", r] = ((n, r, r), np.bool_)
        partial = {key: folder / f"{key[0]}_{key[1]}.npy.partial" for key in shapes}
        arrays = {
            key: np.lib.format.open_memmap(partial[key], mode="w+", dtype=dtype, shape=shape)
            for key, (shape, dtype) in shapes.items()
        }
        count = 0
        for index, resized in enumerate(self._resized(video, resolutions)):
            for key, array in resized.items():
                arrays[key][index] = array
            count = index + 1
            bar.update(1)
        if count != n:
            raise DatasetError(f"video {video!r}: expected {n} frames, the source delivered {count}")
        for key, array in arrays.items():
            array.flush()
            os.replace(partial[key], folder / f"{key[0]}_{key[1]}.npy")
        arrays.clear()
        for key in [k for k in self._arrays if k[0] == video]:
            del self._arrays[key]
        _write_json(
            folder / "meta.json",
            {
                "version": CACHE_VERSION,
                "video": video,
                "fingerprint": fingerprint,
                "num_frames": n,
                "resolutions": sorted(set(kept) | set(resolutions)),
                "has_density": info.has_density,
                "has_fixation": info.has_fixation,
            },
        )

    def array(self, video: str, kind: str, resolution: int) -> np.ndarray:
        """The memory-mapped ``kind`` ('frames', 'density', 'fixation') array of a built video."""
        key = (video, kind, resolution)
        if key not in self._arrays:
            path = self.video_dir(video) / f"{kind}_{resolution}.npy"
            try:
                self._arrays[key] = np.load(path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise DatasetError(
                    f"video {video!r}: cache file {path} is missing or damaged; rebuild the cache"
                ) from exc
        return self._arrays[key]
