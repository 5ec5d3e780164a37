"""Taking the camera's own motion out of a frame pair (skd_ros.core.registration), and the runtime doing it
for checkpoints trained on aligned pairs, alike in the pipeline and in the evaluators' predictor."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import detector_model, normalised_grey

from skd_ros import runtime
from skd_ros.core.checkpoint import save_fused
from skd_ros.core.preprocess import preprocess
from skd_ros.core.registration import ALIGNED, RAW, align_previous, camera_motion, grey, pairs_of
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline
from skd_training.evaluate.predictors import fused_predictor
from skd_training.real.distill import RealRecipe

SIDE = 256  # frames 256 x 256 -> 64 x 64 model cells of 4 pixels


def ground(seed: int = 0) -> np.ndarray:
    """A large textured ground (grey levels about 40-150) for a camera to pan over."""
    noise = np.random.default_rng(seed).uniform(0, 255, (3 * SIDE, 3 * SIDE)).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 3)
    texture = (texture - texture.min()) / (texture.max() - texture.min()) * 110 + 40
    return cv2.cvtColor(texture.astype(np.uint8), cv2.COLOR_GRAY2BGR)


def view(scene: np.ndarray, camera: tuple[int, int], square: tuple[int, int] | None = None) -> np.ndarray:
    """The camera's frame at ``camera`` (x, y of its top-left corner in the ground), with a white 16-pixel
    square at ``square`` (frame pixels) when given."""
    x, y = camera
    frame = scene[y : y + SIDE, x : x + SIDE].copy()
    if square is not None:
        sx, sy = square
        frame[sy : sy + 16, sx : sx + 16] = 255
    return frame


def test_checkpoints_say_which_pairs_they_want():
    assert pairs_of({}) == RAW and pairs_of({"pairs": "raw"}) == RAW and pairs_of({"pairs": ALIGNED}) == ALIGNED
    with pytest.raises(ValueError, match="pairs must be"):
        RealRecipe(pairs="warped")


def test_a_camera_pan_is_taken_out_and_the_strip_it_moved_into_shows_the_current_frame():
    scene = ground()
    previous = preprocess(view(scene, (200, 200)), 64)
    current = preprocess(view(scene, (212, 204)), 64)  # 3 cells right, 1 down
    aligned = align_previous(previous, current)
    inner = (slice(None), slice(4, -4), slice(4, -4))
    before, after = np.abs(previous - current)[inner].mean(), np.abs(aligned - current)[inner].mean()
    assert after < 0.2 * before, (before, after)
    # the camera moved right: nothing of the previous frame lands on the last columns, the current frame's
    # own pixels stand there (no difference: no motion the pan would invent)
    assert np.array_equal(aligned[:, :, -2:], current[:, :, -2:])
    assert aligned.shape == current.shape and aligned.dtype == np.float32 and aligned.flags.c_contiguous


def jpeg(frame: np.ndarray, quality: int = 90) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


@pytest.mark.parametrize("seed", range(8))
def test_the_pan_is_found_and_jpeg_compression_does_not_move_it(seed):
    """The estimate lands on the camera's pan with a target moving against it (on some grounds most of
    Lucas-Kanade's tracks at 64x64 are wrong), and stays put when both frames are JPEG-compressed: the
    node's maps of a compressed camera must agree with the uncompressed frames' (skd-bench)."""
    scene = ground(seed)
    previous, current = view(scene, (200, 200), square=(100, 120)), view(scene, (212, 204), square=(140, 120))
    corners = np.array([[x, y, 1.0] for x in (0, 63) for y in (0, 63)]).T  # the warp's error, at the frame's corners

    def estimate(prev, cur):
        affine = camera_motion(grey(preprocess(prev, 64)), grey(preprocess(cur, 64)))
        assert affine is not None and affine.shape == (2, 3)
        return affine @ corners

    pan = np.array([[1.0, 0, -3], [0, 1.0, -1]]) @ corners  # 12 and 4 pixels = 3 and 1 cells, against the pan
    found, compressed = estimate(previous, current), estimate(jpeg(previous), jpeg(current))
    assert np.abs(found - pan).max() < 0.3, found
    assert np.abs(compressed - found).max() < 0.1, (found, compressed)


def test_the_inputs_are_never_written_to_whatever_their_memory_layout():
    scene = ground(seed=3)
    previous = preprocess(view(scene, (40, 40)), 64)
    # views of H x W x 3 arrays, as training builds them: their H x W x 3 transposes are contiguous
    current = np.ascontiguousarray(preprocess(view(scene, (52, 44)), 64).transpose(1, 2, 0)).transpose(2, 0, 1)
    kept_previous, kept_current = previous.copy(), current.copy()
    aligned = align_previous(previous, current)
    assert np.array_equal(previous, kept_previous) and np.array_equal(current, kept_current)
    assert not np.shares_memory(aligned, current) and not np.array_equal(aligned, previous)


def test_frames_without_corners_or_the_same_frame_stay_as_they_are():
    flat_a = preprocess(np.full((SIDE, SIDE, 3), 90, np.uint8), 64)
    flat_b = preprocess(np.full((SIDE, SIDE, 3), 100, np.uint8), 64)
    assert np.array_equal(align_previous(flat_a, flat_b), flat_a)
    frame = preprocess(view(ground(), (10, 10)), 64)
    assert align_previous(frame, frame) is frame


@pytest.fixture(scope="module")
def motion_checkpoints(tmp_path_factory):
    """The same hand-set motion detector saved twice: for raw pairs and for aligned ones."""
    model = detector_model("motion", threshold=normalised_grey(40) - normalised_grey(0))
    folder = tmp_path_factory.mktemp("registration")
    paths = {}
    for pairs in (RAW, ALIGNED):
        paths[pairs] = folder / f"motion_{pairs}.pt"
        save_fused(model, paths[pairs], 64, {"test": "motion", "pairs": pairs})
    return paths


def test_aligned_pairs_find_what_moves_against_the_pan_raw_pairs_see_the_ground_move(motion_checkpoints):
    scene = ground(seed=1)
    previous = view(scene, (200, 200), square=(100, 120))
    current = view(scene, (212, 204), square=(140, 120))  # the camera pans; the square moves on its own
    maps = {}
    for pairs, path in motion_checkpoints.items():
        pipeline = SaliencyPipeline(SaliencyEstimator(path, backend="eager"))
        assert pipeline.estimator.pairs == pairs
        pipeline.step(previous)
        result = pipeline.step(current)
        maps[pairs] = result.saliency
        if pairs == ALIGNED:
            assert 140 <= result.peak.x < 156 and 120 <= result.peak.y < 136, result.peak
    inner = (slice(4, -4), slice(4, -4))
    firing = {pairs: float((m[inner] > 0.5).mean()) for pairs, m in maps.items()}
    # aligned: the square where it is and its ghost where it was; raw: most of the ground
    assert firing[ALIGNED] < 0.1 and firing[RAW] > 0.5, firing


def test_the_evaluators_predictor_aligns_as_the_pipeline_does(motion_checkpoints):
    scene = ground(seed=2)
    previous, current = view(scene, (100, 150), square=(60, 60)), view(scene, (108, 146), square=(80, 64))
    estimator = SaliencyEstimator(motion_checkpoints[ALIGNED], backend="eager")
    pipeline = SaliencyPipeline(estimator)
    pipeline.step(previous)
    from_pipeline = pipeline.step(current).saliency
    from_predictor = fused_predictor(estimator).predict(previous, current, "clip", 1)
    assert np.array_equal(from_pipeline, from_predictor)


def test_pairs_an_interval_apart_follow_the_camera_frame_to_frame(tmp_path, monkeypatch):
    """A 30 fps camera panning 2 cells a frame, a checkpoint that pairs frames 0.1 s apart: frame t is aligned onto
    frame t + 3 by the three frame-to-frame motions chained (one new estimate a frame), as well as directly."""
    scene = ground(seed=3)
    frames = [view(scene, (200 + 8 * i, 200 + 4 * i)) for i in range(6)]  # 2 cells right, 1 down a frame
    path = tmp_path / "interval.pt"
    save_fused(detector_model("motion", threshold=1.0), path, 64, {"pairs": ALIGNED, "pair_interval_s": 0.1})
    estimator = SaliencyEstimator(path, backend="eager")
    seen, estimates = [], []
    infer, motion = estimator.infer, runtime.camera_motion
    monkeypatch.setattr(estimator, "infer", lambda previous, current, pool=None: seen.append(previous) or infer(
        previous, current, pool))  # fmt: skip
    monkeypatch.setattr(runtime, "camera_motion", lambda *a: estimates.append(1) or motion(*a))
    pipeline = SaliencyPipeline(estimator)
    for index, frame in enumerate(frames):
        pipeline.step(frame, index * 33_333_333, "cam")
    assert len(estimates) == len(frames) - 1  # each frame's motion from the one before, reused by later pairs
    inner = (slice(None), slice(8, -8), slice(8, -8))
    current, partner = (estimator.prepare(frames[i]) for i in (5, 2))
    chained = seen[-1][0]
    direct = align_previous(partner, current)
    assert np.abs(chained - current)[inner].mean() < 0.2 * np.abs(partner - current)[inner].mean()
    assert np.abs(chained - direct)[inner].mean() < 0.05
