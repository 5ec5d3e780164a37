"""A procedural aerial-video saliency benchmark: top-down drone clips with simulated observers' gaze.

Each clip is a pure function of (seed, video number): a world (terrain, fields, water, roads with
markings and crossings, buildings with flat/gable/hip roofs and roof equipment, trees, parked cars,
piers, hay bales) lit by one sun with cast shadows; moving traffic, pedestrians, cyclists, boats with
wakes and herds among static look-alikes; a drone camera that pans, follows, hovers or circles with
slow zoom, small rotation and shake; lighting drift, cloud shadows, haze, vignetting, blur, sensor
noise and video compression. Simulated observers (``observers.AttentionModel``) give binary fixation
maps and Gaussian density maps per frame. docs/DATA.md describes the model and the benchmark's
difficulty (centre bias vs static vs motion baselines).

    from skd_training.data.synthetic import generate, render_clip
    generate("data/synthetic", n_videos=300)                 # AVS1K layout, reads with SaliencyVideoDataset
    frames = render_clip(seed=3, frames=48, size=(640, 360))  # BGR frames in memory (demos)

Command line: ``skd-make-synthetic OUT [--preset full|medium|small|test] [--videos N] ...``.

Where things are: ``clip`` plans and renders one clip; ``scenes`` holds the recipe per scene, which
lays out the world (``world.WorldBuilder`` with ``terrain``, ``roads``, ``paving``, ``buildings``,
``trees``, ``statics``, drawn on a ``canvas`` and recorded in ``zones``, lit by ``lighting``; shared
layouts in ``layouts``) and its moving things (``population``, simulated by ``actors``); ``sprites``
draws what moves, ``camera`` plans the drone's path, ``observers`` simulates the gaze; ``geometry``
and ``noise`` are shared helpers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from skd_training.data.layouts import AVS1K_SPLITS
from skd_training.data.synthetic.clip import CATEGORIES, Clip, render_clip
from skd_training.data.synthetic.observers import AttentionModel

GENERATOR_VERSION = 1
# 20 videos: 7 Vehicle, 6 Human, 3 Building, 4 Others; the first four cover every category
CATEGORY_CYCLE = (
    "Vehicle", "Human", "Building", "Others", "Vehicle", "Human", "Others", "Vehicle", "Human", "Vehicle",
    "Building", "Human", "Others", "Vehicle", "Human", "Vehicle", "Others", "Human", "Vehicle", "Building",
)  # fmt: skip
# per category, every 10 videos: 7 train, 1 val, 2 test; categories start at different places so that
# even four videos give all three splits
SPLIT_CYCLE = ("train", "val", "train", "test", "train", "train", "train", "test", "train", "train")
SPLIT_OFFSET = {"Vehicle": 0, "Human": 3, "Building": 6, "Others": 1}
FORMATS = ("png", "jpg")


@dataclass(frozen=True)
class Preset:
    videos: int
    frames: int
    size: tuple[int, int]


PRESETS = {
    "full": Preset(300, 64, (1280, 720)),  # the training benchmark
    "medium": Preset(60, 48, (640, 360)),  # quick experiments (docs/DATA.md's measurement)
    "small": Preset(8, 16, (320, 180)),
    "test": Preset(4, 6, (96, 64)),  # unit tests: a few seconds
}


def video_plan(index: int) -> tuple[str, str, str]:
    """(name, category, split) of video ``index`` (0-based)."""
    category = CATEGORY_CYCLE[index % len(CATEGORY_CYCLE)]
    nth = sum(1 for i in range(index) if CATEGORY_CYCLE[i % len(CATEGORY_CYCLE)] == category)
    split = SPLIT_CYCLE[(nth + SPLIT_OFFSET[category]) % len(SPLIT_CYCLE)]
    return f"{category}_{index + 1:05d}", category, split


def _settings(seed, frames, size, fps, image_format, model) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "frames": frames,
        "size": list(size),
        "fps": fps,
        "format": image_format,
        "attention_model": model.as_dict(),
    }


def _write_video(job: tuple) -> tuple[str, dict]:
    """Render and write one video (runs in a worker process); the marker file goes last."""
    root, index, settings = job
    cv2.setNumThreads(1)
    name, category, split = video_plan(index)
    model = AttentionModel(**settings["attention_model"])
    width, height = settings["size"]
    clip = Clip(settings["seed"], index, width, height, settings["frames"], settings["fps"], category, model)
    base = Path(root) / AVS1K_SPLITS[split]
    folders = {kind: base / kind / name for kind in ("Frame", "Ground", "Fixation")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    extension = settings["format"]
    frame_options = [cv2.IMWRITE_PNG_COMPRESSION, 1] if extension == "png" else [cv2.IMWRITE_JPEG_QUALITY, 95]
    for t in range(clip.frames):
        stem = f"{name}_{t + 1:05d}"
        if not cv2.imwrite(str(folders["Frame"] / f"{stem}.{extension}"), clip.frame(t), frame_options):
            raise OSError(f"cannot write {folders['Frame'] / stem}.{extension}")
        density = np.round(clip.density(t) * 255).astype(np.uint8)
        cv2.imwrite(str(folders["Ground"] / f"{stem}.png"), density, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        cv2.imwrite(str(folders["Fixation"] / f"{stem}.png"), clip.fixation(t).astype(np.uint8) * 255)
    meta = {"video": name, "split": split, **clip.describe()}
    marker = Path(root) / "synthetic" / f"{name}.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.with_suffix(".partial").write_text(json.dumps(meta, indent=1))
    os.replace(marker.with_suffix(".partial"), marker)
    return name, meta


def generate(
    root: str | Path,
    n_videos: int = 300,
    frames: int = 64,
    size: tuple[int, int] = (1280, 720),
    seed: int = 0,
    fps: float = 30.0,
    workers: int | None = None,
    image_format: str = "png",
    model: AttentionModel | None = None,
    progress: bool = True,
) -> list[dict]:
    """Write ``n_videos`` clips in the AVS1K layout under ``root`` (frames, density maps, fixation maps;
    ``{root}/synthetic/<video>.json`` describes each clip, ``{root}/synthetic.json`` the run).

    Deterministic: the same seed, size, frames, fps and model give the same files (videos are numbered,
    and video i depends only on (seed, i), so asking for more videos later extends the set). Resumable:
    videos whose description file exists are skipped, so an interrupted run continues where it stopped.
    A folder generated with other settings is refused. Returns the per-video descriptions."""
    if n_videos < 1 or frames < 1:
        raise ValueError(f"need n_videos >= 1 and frames >= 1, got {n_videos} and {frames}")
    if image_format not in FORMATS:
        raise ValueError(f"image_format must be one of {FORMATS}, got {image_format!r}")
    model = model or AttentionModel()
    root = Path(root)
    settings = _settings(seed, frames, tuple(size), fps, image_format, model)
    manifest = root / "synthetic.json"
    if manifest.exists():
        found = json.loads(manifest.read_text())
        different = {k: (found.get(k), v) for k, v in settings.items() if found.get(k) != v}
        if different:
            raise ValueError(
                f"{root} holds a synthetic benchmark made with other settings {different}; use another folder"
            )
    root.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(settings, indent=1))
    done = {p.stem for p in (root / "synthetic").glob("*.json")} if (root / "synthetic").is_dir() else set()
    jobs = [(str(root), i, settings) for i in range(n_videos) if video_plan(i)[0] not in done]
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    with tqdm(total=len(jobs), unit="video", desc="synthetic clips", disable=not progress or not jobs) as bar:
        if workers > 1 and len(jobs) > 1:
            # spawn, not fork: forking a process that already runs torch/OpenCV/DDS threads can copy a held
            # lock into the child, which then hangs forever (seen under pytest after other tests ran)
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                for _ in pool.map(_write_video, jobs):
                    bar.update(1)
        else:
            for job in jobs:
                _write_video(job)
                bar.update(1)
    return [json.loads((root / "synthetic" / f"{video_plan(i)[0]}.json").read_text()) for i in range(n_videos)]


def preview(
    path: str | Path, seed: int = 0, count: int = 8, size: tuple[int, int] = (640, 360), frame: int = 30
) -> Path:
    """A PNG grid of ``count`` clips (videos 0..count-1 of ``seed``): frame ``frame`` of each, beside the same
    frame with its ground-truth density as a heat map, labelled with category, scene and camera."""
    tiles = []
    for index in range(count):
        name, category, _ = video_plan(index)
        clip = Clip(seed, index, size[0], size[1], frame + 1, 30.0, category)
        image = clip.frame(frame)
        heat = cv2.applyColorMap(np.round(clip.density(frame) * 255).astype(np.uint8), cv2.COLORMAP_JET)
        overlay = cv2.addWeighted(image, 0.55, heat, 0.45, 0)
        for x, y in clip.gaze.points[frame]:
            cv2.circle(overlay, (round(x), round(y)), 3, (255, 255, 255), 1, cv2.LINE_AA)
        label = f"{name} {clip.scene} {clip.camera_mode} {clip.footprint:.0f} m"
        cv2.putText(image, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(np.hstack([image, overlay]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(tiles))
    return path


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="skd-make-synthetic", description="Write the synthetic aerial saliency benchmark (AVS1K layout)."
    )
    parser.add_argument("out", help="output folder")
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default="full", help="videos/frames/size defaults (default: full)"
    )
    parser.add_argument("--videos", type=int, help="number of clips")
    parser.add_argument("--frames", type=int, help="frames per clip")
    parser.add_argument("--size", type=_size, help="frame size, e.g. 1280x720")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: min(2, cores))")
    parser.add_argument("--format", choices=FORMATS, default="png", help="frame image format (maps are always PNG)")
    parser.add_argument(
        "--preview", action="store_true", help="only write OUT/preview.png: frames and ground truth of 8 clips"
    )
    args = parser.parse_args(argv)
    if args.preview:
        print(f"wrote {preview(Path(args.out) / 'preview.png', args.seed)}")
        return 0
    preset = PRESETS[args.preset]
    videos, frames, size = args.videos or preset.videos, args.frames or preset.frames, args.size or preset.size
    started = time.perf_counter()
    try:
        metas = generate(args.out, videos, frames, size, args.seed, args.fps, args.workers, args.format)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = {c: sum(m["category"] == c for m in metas) for c in CATEGORIES}
    elapsed = time.perf_counter() - started
    print(f"{len(metas)} clips of {frames} frames at {size[0]}x{size[1]} in {args.out} ({elapsed:.0f} s): {counts}")
    return 0


__all__ = [
    "AttentionModel",
    "CATEGORIES",
    "Clip",
    "PRESETS",
    "generate",
    "main",
    "preview",
    "render_clip",
    "video_plan",
]
