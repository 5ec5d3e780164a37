"""The synthetic aerial benchmark: deterministic for a seed, written in the AVS1K layout the dataset reads,
resumable, and its simulated observers look at the objects they chose."""

import json
import math

import numpy as np
import pytest

from skd_training.data import SaliencyVideoDataset
from skd_training.data.synthetic import PRESETS, Clip, generate, main, render_clip, video_plan

TEST = PRESETS["test"]


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate(root, TEST.videos, TEST.frames, TEST.size, seed=5, workers=1, progress=False)
    return root


def all_files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def test_generation_is_deterministic_for_a_seed(benchmark, tmp_path):
    again = tmp_path / "again"
    generate(again, TEST.videos, TEST.frames, TEST.size, seed=5, workers=2, progress=False)  # other process count
    first, second = all_files(benchmark), all_files(again)
    assert first.keys() == second.keys() and len(first) == TEST.videos * TEST.frames * 3
    assert all(first[k] == second[k] for k in first)
    other = render_clip(seed=6, frames=2, size=TEST.size)
    same_seed = render_clip(seed=6, frames=2, size=TEST.size)
    assert all(np.array_equal(a, b) for a, b in zip(other, same_seed, strict=True))
    assert not np.array_equal(render_clip(seed=7, frames=1, size=TEST.size)[0], other[0])


def test_benchmark_loads_as_avs1k_with_categories_and_splits(benchmark):
    dataset = SaliencyVideoDataset(benchmark, resolution=16, teacher_resolution=32)
    assert dataset.source.layout == "avs1k"
    assert {v.category for v in dataset.videos} == {"Vehicle", "Human", "Building", "Others"}
    assert set(dataset.source.splits) == {"train", "val", "test"}
    assert len(dataset) == TEST.videos * TEST.frames
    for item in (dataset[0], dataset[len(dataset) - 1]):
        assert item["has_density"] and item["has_fixation"]
        assert 1 <= float(item["fixation_hr"].sum()) <= 16
        assert float(item["density"].max()) == pytest.approx(1.0)
    truth = dataset.ground_truth(*dataset.items[3])
    assert truth.density.shape == (TEST.size[1], TEST.size[0]) and truth.fixation.any()
    meta = json.loads((benchmark / "synthetic" / f"{video_plan(0)[0]}.json").read_text())
    assert meta["category"] == "Vehicle" and meta["frames"] == TEST.frames


def test_generation_resumes_and_refuses_other_settings(tmp_path):
    root = tmp_path / "bench"
    generate(root, 2, 3, (64, 48), seed=1, workers=1, progress=False)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.png")}
    (root / "synthetic" / f"{video_plan(1)[0]}.json").unlink()  # as if interrupted while writing video 2
    metas = generate(root, 3, 3, (64, 48), seed=1, workers=1, progress=False)
    assert [m["video"] for m in metas] == [video_plan(i)[0] for i in range(3)]
    after = {p: p.stat().st_mtime_ns for p in root.rglob("*.png")}
    first_video = [p for p in before if video_plan(0)[0] in p.name]
    assert first_video and all(after[p] == before[p] for p in first_video)  # finished video untouched
    assert any(after[p] != before[p] for p in before if video_plan(1)[0] in p.name)  # unfinished one redone
    with pytest.raises(ValueError, match="other settings"):
        generate(root, 3, 4, (64, 48), seed=1, workers=1, progress=False)


def inside_box(point, centre, heading, half_length, half_width, margin):
    """Whether ``point`` lies in the rotated box grown by ``margin`` pixels."""
    offset = np.asarray(point) - centre
    along = offset[0] * math.cos(heading) + offset[1] * math.sin(heading)
    across = -offset[0] * math.sin(heading) + offset[1] * math.cos(heading)
    return abs(along) <= half_length + margin and abs(across) <= half_width + margin


@pytest.mark.parametrize("category", ["Vehicle", "Human", "Building", "Others"])
def test_fixations_fall_on_their_targets(category):
    clip = Clip(seed=11, index=0, width=320, height=180, frames=40, category=category)
    gaze, candidates = clip.gaze, clip.candidates
    margin = 2 * clip.model.gaze_jitter * clip.width + 1.0
    on_target = 0
    for t in range(clip.frames):
        for o in range(clip.model.observers):
            j = gaze.target[t, o]
            if j < 0:
                continue
            on_target += 1
            box = (
                candidates.centre[t, j],
                candidates.heading[t, j],
                candidates.half_length[t, j],
                candidates.half_width[t, j],
            )
            assert inside_box(gaze.points[t, o], *box, margin), f"frame {t} observer {o} misses {candidates.kinds[j]}"
    # most of the time observers look at objects, not at empty ground
    assert on_target > 0.6 * clip.frames * clip.model.observers
    fixation = clip.fixation(clip.frames - 1)
    assert 1 <= fixation.sum() <= clip.model.observers
    density = clip.density(clip.frames - 1)
    # every fixation adds a Gaussian of height 1 before the map is scaled to a maximum of 1
    assert density.max() == pytest.approx(1.0) and density[fixation].min() >= 0.99 / clip.model.observers


def test_motion_draws_the_observers_in_dynamic_categories():
    shares = [
        Clip(seed=3, index=i, width=320, height=180, frames=40, category="Vehicle").fixation_shares() for i in range(2)
    ]
    assert all(s["moving"] > 0.4 and s.get("Vehicle", 0) > 0.4 for s in shares)


def test_render_clip_and_command_line(tmp_path):
    frames = render_clip(seed=2, frames=3, size=(80, 48), category="Human")
    assert len(frames) == 3 and frames[0].shape == (48, 80, 3) and frames[0].dtype == np.uint8
    assert main([str(tmp_path / "cli"), "--preset", "test", "--videos", "1", "--workers", "1"]) == 0
    assert len(list((tmp_path / "cli").rglob("Vehicle_00001_*.png"))) == 3 * TEST.frames
    with pytest.raises(ValueError, match="category"):
        Clip(seed=0, category="Boat")
