"""The resized-frame cache and the teacher soft-label cache: same items as direct decoding, and both
resume after an interruption without redoing finished work."""

import json

import numpy as np
import pytest
import torch
from test_data_layouts import make_avs1k
from torch.utils.data import DataLoader

from skd_training.data import DatasetError, SaliencyVideoDataset, build_soft_label_cache, open_source
from skd_training.data.cache import FrameCache


def assert_same_items(a, b):
    assert a.items == b.items
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x.keys() == y.keys()
        for key, value in x.items():
            if isinstance(value, torch.Tensor):
                torch.testing.assert_close(value, y[key], rtol=0, atol=0, msg=f"{key} of item {i}")
            else:
                assert value == y[key], key


def test_cached_items_equal_direct_decoding(tmp_path):
    root = make_avs1k(tmp_path / "avs")
    direct = SaliencyVideoDataset(root, resolution=16, teacher_resolution=32)
    cached = SaliencyVideoDataset(root, resolution=16, teacher_resolution=32, cache_dir=tmp_path / "cache", workers=3)
    assert cached.cache is not None
    assert_same_items(direct, cached)
    assert not list((tmp_path / "cache").rglob("*.partial"))
    # worker processes reopen the memory maps themselves
    batches = list(DataLoader(cached, batch_size=4, num_workers=2))
    torch.testing.assert_close(
        torch.cat([b["current_hr"] for b in batches]),
        torch.stack([direct[i]["current_hr"] for i in range(len(direct))]),
    )
    assert sum((b["video"] for b in batches), []) == [video for video, _ in direct.items]


class Interrupt(KeyboardInterrupt):
    pass


def test_frame_cache_resumes_after_an_interrupt(tmp_path, monkeypatch):
    root = make_avs1k(tmp_path / "avs")
    source = open_source(root)
    read_frame = source.read_frame

    def failing_read(video, index):
        if video == "Vehicle_00001" and index == 2:
            raise Interrupt
        return read_frame(video, index)

    monkeypatch.setattr(source, "read_frame", failing_read)
    cache = FrameCache(tmp_path / "cache", source, (16, 32), workers=1)
    with pytest.raises(Interrupt):
        cache.build(progress=False)
    assert cache.missing_resolutions("Human_00002") == ()  # finished before the interrupt, kept
    assert cache.missing_resolutions("Vehicle_00001") == (16, 32)
    monkeypatch.setattr(source, "read_frame", read_frame)
    assert cache.build(progress=False) == ["Vehicle_00001", "Others_00003"]
    assert cache.build(progress=False) == []
    resumed = SaliencyVideoDataset(source, resolution=16, teacher_resolution=32, cache_dir=tmp_path / "cache")
    assert_same_items(SaliencyVideoDataset(root, resolution=16, teacher_resolution=32), resumed)


def test_frame_cache_adds_resolutions_and_rebuilds_changed_videos(tmp_path):
    root = make_avs1k(tmp_path / "avs")
    source = open_source(root)
    FrameCache(tmp_path / "cache", source, (16,)).build(progress=False)
    wider = FrameCache(tmp_path / "cache", source, (16, 24))
    assert wider.missing_resolutions("Human_00002") == (24,)
    wider.build(progress=False)
    meta = json.loads((wider.video_dir("Human_00002") / "meta.json").read_text())
    assert meta["resolutions"] == [16, 24] and meta["num_frames"] == 3
    changed = root / "trainSet/Frame/Human_00002/Human_00002_00001.png"
    changed.write_bytes(changed.read_bytes())  # same content, new modification time
    source = open_source(root)
    assert FrameCache(tmp_path / "cache", source, (16, 24)).build(progress=False) == ["Human_00002"]


def channel_mean_teacher(previous, current):
    """A stand-in teacher: brightness of the current frame plus motion, squashed to [0, 1]."""
    return torch.sigmoid(current.mean(dim=1, keepdim=True) + (current - previous).abs().mean(dim=1, keepdim=True))


def test_soft_labels_are_built_resumed_and_served(tmp_path):
    root = make_avs1k(tmp_path / "avs")
    dataset = SaliencyVideoDataset(root, split="train", resolution=16, teacher_resolution=32)
    calls = []

    def interrupted_teacher(previous, current):
        calls.append(len(previous))
        if len(calls) == 3:
            raise Interrupt
        return channel_mean_teacher(previous, current)

    out = tmp_path / "soft"
    with pytest.raises(Interrupt):
        build_soft_label_cache(dataset, interrupted_teacher, out, name="mean", batch_size=2, progress=False)
    stored = sorted(out.rglob("*.png"))
    assert len(stored) == 4 and not list(out.rglob("*.partial.png"))
    with pytest.raises(DatasetError, match="3 of 7 frames have no soft label"):
        SaliencyVideoDataset(root, split="train", resolution=16, teacher_resolution=32, soft_labels=out)
    assert build_soft_label_cache(dataset, channel_mean_teacher, out, name="mean", progress=False) == 3
    assert build_soft_label_cache(dataset, channel_mean_teacher, out, name="mean", progress=False) == 0
    with pytest.raises(ValueError, match="holds soft labels"):
        build_soft_label_cache(dataset, channel_mean_teacher, out, name="other-teacher", progress=False)

    served = SaliencyVideoDataset(root, split="train", resolution=16, teacher_resolution=32, soft_labels=out)
    item = served[served.index_of("Vehicle_00001", 1)]
    expected = channel_mean_teacher(item["previous_hr"][None], item["current_hr"][None])[0, 0].numpy()
    # stored at 16 bits, then served scaled to a maximum of 1
    np.testing.assert_allclose(item["soft_hr"][0].numpy(), expected / expected.max(), atol=1e-4)
    assert item["soft"].shape == (1, 16, 16) and float(item["soft"].max()) == pytest.approx(1.0)


def test_soft_labels_need_a_teacher_resolution(tmp_path):
    dataset = SaliencyVideoDataset(make_avs1k(tmp_path / "avs"), resolution=16, teacher_resolution=None)
    with pytest.raises(ValueError, match="teacher resolution"):
        build_soft_label_cache(dataset, channel_mean_teacher, tmp_path / "soft", progress=False)
