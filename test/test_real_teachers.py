"""The real-world teachers on generated frames: the motion teacher sees what moves against the camera's
own motion, and the spatial teacher's readout learns from still images with fixation maps where people
look (here: a bright disc)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from skd_training.real import motion_teacher
from skd_training.real.spatial_teacher import (
    PretrainedFeatures,
    SpatialTeacher,
    load_readout,
    save_readout,
    train_readout,
)
from skd_training.teachers import TeacherError


def textured(rng, height=180, width=320):
    coarse = rng.integers(30, 220, (height // 6, width // 6, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width + 40, height + 40), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth, 0, 255).astype(np.uint8)


def test_the_motion_teacher_ignores_the_camera_and_finds_the_mover():
    rng = np.random.default_rng(0)
    ground = textured(rng)
    frames, positions = [], []
    for t in range(4):
        dx = 5 * t  # the camera pans: the whole ground shifts
        frame = np.ascontiguousarray(ground[20:200, 20 + dx : 340 + dx])
        x, y = 60 + 12 * t, 90  # the object moves on its own, against the pan
        cv2.circle(frame, (x, y), 6, (250, 250, 250), -1)
        frames.append(frame)
        positions.append((x, y))
    maps = list(motion_teacher.maps(frames))
    assert len(maps) == 4
    for saliency, (x, y) in zip(maps, positions, strict=True):
        peak_y, peak_x = np.unravel_index(np.argmax(saliency), saliency.shape)
        assert abs(peak_x - x) <= 8 and abs(peak_y - y) <= 8, (peak_x, peak_y, x, y)
    # the camera's motion alone leaves (almost) nothing
    still = [np.ascontiguousarray(ground[20:200, 20 + 5 * t : 340 + 5 * t]) for t in range(3)]
    assert max(float(m.max()) for m in motion_teacher.maps(still)) < 0.2 * float(maps[1].max())
    assert float(next(motion_teacher.maps(frames[:1])).max()) == 0.0  # one frame: no motion


def write_stills(folder, count, rng):
    (folder / "stimuli").mkdir(parents=True)
    (folder / "fixation_maps").mkdir()
    for i in range(count):
        image = textured(rng, 96, 128)[:96, :128].copy()
        x, y = int(rng.integers(20, 108)), int(rng.integers(20, 76))
        cv2.circle(image, (x, y), 9, (255, 255, 255), -1)
        density = np.zeros((96, 128), np.uint8)
        cv2.circle(density, (x, y), 9, 255, -1)
        cv2.imwrite(str(folder / "stimuli" / f"img{i:02d}.png"), image)
        cv2.imwrite(str(folder / "fixation_maps" / f"img{i:02d}.png"), cv2.GaussianBlur(density, (0, 0), 4))


def test_the_readout_learns_where_people_look_and_is_saved(tmp_path, restore_torch_threads):
    torch.set_num_threads(1)  # small images: one thread is 50x faster than two fighting over a loaded machine
    rng = np.random.default_rng(1)
    write_stills(tmp_path / "still", 10, rng)
    readout, record = train_readout(tmp_path / "still" / "stimuli", tmp_path / "still" / "fixation_maps", 128)
    assert record["images"] == 10 and record["epochs"] in record["validation_cc"]
    assert max(record["validation_cc"].values()) > 0.3
    save_readout(readout, tmp_path / "readout.pt", record)
    loaded, saved_record = load_readout(tmp_path / "readout.pt")
    assert saved_record == record
    frame = textured(rng, 96, 128)[:96, :128].copy()
    cv2.circle(frame, (30, 60), 9, (255, 255, 255), -1)
    saliency = SpatialTeacher(loaded, width=128).map(frame)
    assert saliency.shape == (12, 16) and abs(float(saliency.sum()) - 1.0) < 1e-4
    peak_y, peak_x = np.unravel_index(np.argmax(saliency), saliency.shape)
    assert abs(peak_x * 8 + 4 - 30) <= 16 and abs(peak_y * 8 + 4 - 60) <= 16


def test_frozen_features_stay_frozen_and_bad_files_are_named(tmp_path):
    features = PretrainedFeatures().train()
    assert not features.net.training and not any(p.requires_grad for p in features.parameters())
    (tmp_path / "junk.pt").write_bytes(b"not a readout")
    with pytest.raises(TeacherError, match="junk.pt is not a spatial-teacher readout"):
        load_readout(tmp_path / "junk.pt")
