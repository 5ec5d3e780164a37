"""skd-demo: run the saliency pipeline over a video or a folder of frames and show what it sees.

Writes an overlay video (heat map, attention ROIs, peak), a PNG contact sheet and, with --save-maps,
one 8-bit saliency PNG per input frame at the input's size, named after the frame. With no --input
it runs on a short aerial-like clip generated on the fly, so it works offline on a fresh machine.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from skd_ros.core.postprocess import ROIParams, resize_map, to_uint8
from skd_ros.core.visualize import contact_sheet, overlay
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline
from skd_training.data.synthetic import render_clip

FRAME_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
DEMO_FPS = 10.0


def iter_frames(source: Path, folder_fps: float = DEMO_FPS) -> tuple[Iterator[tuple[str, np.ndarray]], int, float]:
    """(iterator of (name, BGR frame), frame count, fps) for a video file or a folder of frames (which has no
    rate of its own: ``folder_fps``)."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
        if not files:
            raise ValueError(f"{source} holds no image files ({', '.join(sorted(FRAME_SUFFIXES))})")

        def read_folder():
            for path in files:
                frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if frame is None:
                    raise ValueError(f"cannot read image {path}")
                yield path.stem, frame

        return read_folder(), len(files), folder_fps
    if not source.is_file():
        raise ValueError(f"input {source} does not exist")
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise ValueError(f"cannot open video {source}")
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = capture.get(cv2.CAP_PROP_FPS) or DEMO_FPS

    def read_video():
        index = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                yield f"{source.stem}_{index:05d}", frame
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise ValueError(f"video {source} has no decodable frames")

    return read_video(), count, fps


def generated_clip() -> tuple[Iterator[tuple[str, np.ndarray]], int, float]:
    frames = render_clip(seed=7)
    return ((f"demo_{i:05d}", f) for i, f in enumerate(frames)), len(frames), DEMO_FPS


def run(args: argparse.Namespace) -> dict:
    if args.fps <= 0:
        raise ValueError(f"--fps must be > 0, got {args.fps}")
    frames, count, fps = iter_frames(Path(args.input), args.fps) if args.input else generated_clip()
    estimator = SaliencyEstimator(args.weights, args.resolution, args.device, args.backend)
    if estimator.untrained:
        print("note: no trained weights found, the demo uses UNTRAINED weights (maps are not meaningful)")
    pipeline = SaliencyPipeline(estimator, ROIParams(max_rois=args.max_rois))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    maps_dir = out / "maps"
    if args.save_maps:
        maps_dir.mkdir(exist_ok=True)
    video_path = out / "overlay.mp4"
    writer = None
    overlays, model_seconds, processed = [], 0.0, 0
    sheet_every = max(1, count // 12)
    start = time.perf_counter()
    try:
        for name, frame in tqdm(frames, total=count or None, desc="saliency", unit="frame"):
            # stamped at the input's frame rate: a checkpoint that pairs frames a set time apart finds them
            result = pipeline.step(frame, round(processed * 1e9 / fps), frame_id="demo")
            model_seconds += result.timings["inference"]
            image = overlay(frame, result.saliency, result.rois, result.peak)
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
                if not writer.isOpened():
                    raise RuntimeError(f"cannot write video {video_path} (OpenCV has no mp4v encoder?)")
            writer.write(image)
            if args.save_maps:
                full = to_uint8(resize_map(result.saliency, result.source_width, result.source_height))
                cv2.imwrite(str(maps_dir / f"{name}.png"), full)
            if processed % sheet_every == 0 and len(overlays) < 12:
                overlays.append(image)
            processed += 1
    finally:
        if writer is not None:
            writer.release()
    elapsed = time.perf_counter() - start
    if processed == 0:
        raise ValueError("no frames were processed")
    sheet_path = out / "contact_sheet.png"
    cv2.imwrite(str(sheet_path), contact_sheet(overlays))
    stats = {
        "frames": processed,
        "model_fps": processed / model_seconds if model_seconds > 0 else float("inf"),
        "end_to_end_fps": processed / elapsed,
        "video": str(video_path),
        "contact_sheet": str(sheet_path),
    }
    print(f"frames processed: {processed}")
    print(
        f"model FPS:        {stats['model_fps']:.1f} ({estimator.resolution}x{estimator.resolution}, "
        f"{estimator.device}, backend {estimator.backend.name})"
    )
    print(f"end-to-end FPS:   {stats['end_to_end_fps']:.1f} (decode + preprocess + model + ROIs + drawing + writing)")
    print(f"overlay video:    {video_path}")
    print(f"contact sheet:    {sheet_path}")
    if args.save_maps:
        print(f"saliency maps:    {maps_dir}/")
    return stats


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skd-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--input", help="video file or folder of frames (sorted by name); default: a generated clip")
    parser.add_argument("--out", default="skd_demo_out", help="output folder (default: %(default)s)")
    parser.add_argument("--save-maps", action="store_true", help="write one 8-bit saliency PNG per frame")
    parser.add_argument("--weights", help="fused-model checkpoint (default: the shipped weights)")
    parser.add_argument("--resolution", type=int, help="model input size (default: the checkpoint's)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    parser.add_argument(
        "--backend", default="auto", help="inference backend, e.g. eager, onnxruntime (default: the fastest here)"
    )
    parser.add_argument(
        "--fps", type=float, default=DEMO_FPS,
        help="frame rate of a folder of frames, for the output video and for pairing frames a checkpoint's interval "
        "apart (default: %(default)s, the shared drone clips'; a video file has its own)",
    )  # fmt: skip
    parser.add_argument("--max-rois", type=int, default=5, help="attention boxes per frame (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except ValueError as exc:
        print(f"skd-demo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
