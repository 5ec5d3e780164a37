"""Aerial-video saliency data: dataset layouts on disk, one frame-pair dataset over all of them, a
resumable resized-frame cache, teacher soft labels, and a procedural aerial benchmark with simulated gaze.

See docs/DATA.md. The main entry points::

    from skd_training.data import SaliencyVideoDataset, build_soft_label_cache
    train = SaliencyVideoDataset("/data/AVS1K", split="train", cache_dir="/data/cache")
    item = train[0]   # previous, current, density, fixation (+ *_hr), video, category, frame

    from skd_training.data.synthetic import generate, render_clip

Names are imported on first use, so that the synthetic generator and its worker processes do not load
torch (which only the dataset and the soft-label cache need).
"""

from importlib import import_module

_HOMES = {
    "FrameCache": "cache",
    "GroundTruth": "dataset",
    "SaliencyVideoDataset": "dataset",
    "summarise": "dataset",
    "CATEGORIES": "layouts",
    "UNKNOWN_CATEGORY": "layouts",
    "AVS1KLayout": "layouts",
    "DHF1KLayout": "layouts",
    "DatasetError": "layouts",
    "FrameFolders": "layouts",
    "RosbagSource": "layouts",
    "Source": "layouts",
    "VideoFiles": "layouts",
    "VideoInfo": "layouts",
    "category_from_name": "layouts",
    "detect_layout": "layouts",
    "open_source": "layouts",
    "SoftLabelStore": "soft_labels",
    "build_soft_label_cache": "soft_labels",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOMES))
