"""``skd-dataset-summary``: videos, frames and categories per split of a dataset on disk.

    skd-dataset-summary /data/AVS1K
    skd-dataset-summary flight_bags/ --topic /camera/image_raw
    skd-dataset-summary /data/AVS1K --cache /data/cache --resolution 64 --teacher-resolution 256

Opening a dataset checks its whole layout, so a damaged copy is reported with the video and file at
fault (exit status 1). ``--cache`` also builds (or completes) the resized-frame cache.
"""

from __future__ import annotations

import argparse
import sys

from skd_training.data.dataset import DEFAULT_RESOLUTION, DEFAULT_TEACHER_RESOLUTION, SaliencyVideoDataset, summarise
from skd_training.data.layouts import CATEGORIES, LAYOUTS, UNKNOWN_CATEGORY, DatasetError, open_source


def format_summary(table: dict[str, dict]) -> str:
    """The table of ``summarise`` as aligned text, one block per split and a total line."""
    categories = [c for c in (*CATEGORIES, UNKNOWN_CATEGORY) if any(c in row["categories"] for row in table.values())]
    header = ["split", "videos", "frames", "labeled", "fixations", *categories]
    rows = []
    totals = [0, 0, 0, 0] + [[0, 0] for _ in categories]
    for split, row in table.items():
        cells = [split, row["videos"], row["frames"], row["labeled"], row["with_fixations"]]
        for i, category in enumerate(categories):
            videos, frames = row["categories"].get(category, [0, 0])
            cells.append(f"{videos} ({frames})")
            totals[4 + i][0] += videos
            totals[4 + i][1] += frames
        for i, key in enumerate(("videos", "frames", "labeled", "with_fixations")):
            totals[i] += row[key]
        rows.append([str(c) for c in cells])
    if len(table) > 1:
        rows.append(["total", *(str(t) for t in totals[:4]), *(f"{v} ({f})" for v, f in totals[4:])])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
        for r in [header, *rows]
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines) + "\n(category cells: videos (frames))"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skd-dataset-summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="dataset folder, video file or bag")
    parser.add_argument("--layout", choices=("auto", *LAYOUTS), default="auto")
    parser.add_argument("--topic", help="image topic (rosbag layout)")
    parser.add_argument("--density-topic", help="ground-truth density image topic (rosbag layout)")
    parser.add_argument("--fixation-topic", help="ground-truth fixation image topic (rosbag layout)")
    parser.add_argument("--cache", help="also build the resized-frame cache in this folder")
    parser.add_argument("--resolution", type=int, default=DEFAULT_RESOLUTION, help="student resolution to cache")
    parser.add_argument("--teacher-resolution", type=int, default=DEFAULT_TEACHER_RESOLUTION)
    args = parser.parse_args(argv)
    try:
        source = open_source(args.root, args.layout, args.topic, args.density_topic, args.fixation_topic)
        print(f"{source.layout} dataset {source.root}")
        print(format_summary(summarise(source.videos)))
        if args.cache:
            dataset = SaliencyVideoDataset(
                source, resolution=args.resolution, teacher_resolution=args.teacher_resolution, cache_dir=args.cache
            )
            print(f"cache complete: {dataset.cache.root}")
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
