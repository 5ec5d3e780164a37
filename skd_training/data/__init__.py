"""Aerial-video saliency data: dataset layouts on disk, one frame-pair dataset over all of them, a
resumable resized-frame cache, teacher soft labels, and a procedural aerial benchmark with simulated gaze.

See docs/DATA.md. The main entry points::

    from skd_training.data import SaliencyVideoDataset, build_soft_label_cache
    train = SaliencyVideoDataset("/data/AVS1K", split="train", cache_dir="/data/cache")
    item = train[0]   # previous, current, density, fixation (+ *_hr), video, category, frame

    from skd_training.data.synthetic import generate, render_clip
"""

from skd_training.data.cache import FrameCache
from skd_training.data.dataset import GroundTruth, SaliencyVideoDataset, summarise
from skd_training.data.layouts import (
    CATEGORIES,
    UNKNOWN_CATEGORY,
    AVS1KLayout,
    DatasetError,
    DHF1KLayout,
    FrameFolders,
    RosbagSource,
    Source,
    VideoFiles,
    VideoInfo,
    category_from_name,
    detect_layout,
    open_source,
)
from skd_training.data.soft_labels import SoftLabelStore, build_soft_label_cache

__all__ = [
    "CATEGORIES",
    "UNKNOWN_CATEGORY",
    "AVS1KLayout",
    "DHF1KLayout",
    "DatasetError",
    "FrameCache",
    "FrameFolders",
    "GroundTruth",
    "RosbagSource",
    "SaliencyVideoDataset",
    "SoftLabelStore",
    "Source",
    "VideoFiles",
    "VideoInfo",
    "build_soft_label_cache",
    "category_from_name",
    "detect_layout",
    "open_source",
    "summarise",
]
