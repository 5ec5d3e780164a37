"""Baselines: each finds what it is built to find on small generated frames."""

import cv2
import numpy as np
import pytest

from skd_training.baselines import CentreBias, FlowMagnitude, SpectralResidual, default_baselines


def textured_background(seed=0, shape=(120, 200)):
    rng = np.random.default_rng(seed)
    noise = (rng.random((*shape, 3)) * 80 + 80).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def with_square(background, x, y, size=10, colour=(20, 20, 230)):
    frame = background.copy()
    cv2.rectangle(frame, (x, y), (x + size - 1, y + size - 1), colour, -1)
    return frame


def peak_in_frame(saliency, frame_shape):
    """The map's maximum in frame pixels (x, y)."""
    row, col = np.unravel_index(np.argmax(saliency), saliency.shape)
    return (col + 0.5) * frame_shape[1] / saliency.shape[1], (row + 0.5) * frame_shape[0] / saliency.shape[0]


def test_centre_bias_peaks_at_the_centre_and_keeps_the_aspect():
    frame = textured_background()
    saliency = CentreBias()(frame, frame)
    assert saliency.shape == (38, 64)  # 64 wide, 120/200 of that high
    x, y = peak_in_frame(saliency, frame.shape)
    assert abs(x - 100) < 4 and abs(y - 60) < 4
    np.testing.assert_allclose(saliency, saliency[:, ::-1], atol=1e-6)
    assert saliency[19, 32] > saliency[19, 5] > 0
    with pytest.raises(ValueError, match="sigma"):
        CentreBias(sigma=0)


def test_spectral_residual_finds_a_small_distinct_object():
    frame = with_square(textured_background(), 150, 30)
    saliency = SpectralResidual()(frame, frame)
    assert saliency.min() >= 0 and saliency.max() == pytest.approx(1.0)
    x, y = peak_in_frame(saliency, frame.shape)
    assert abs(x - 155) < 15 and abs(y - 35) < 15


def test_flow_magnitude_finds_the_moving_object_despite_camera_motion():
    background = textured_background(shape=(140, 220))
    previous = with_square(background, 60, 80, size=12)[10:130, 10:210]
    # the camera pans 3 px right (the whole scene shifts left) while the square moves 6 px right
    current = with_square(background, 66, 80, size=12)[10:130, 13:213]
    saliency = FlowMagnitude()(previous, current)
    assert saliency.min() >= 0
    x, y = peak_in_frame(saliency, previous.shape)
    # the square's centre in the current frame: x 66 + 6 - 13, y 80 + 6 - 10
    assert abs(x - 59) < 10 and abs(y - 76) < 10
    # the pan is removed: the background is far below the object (without compensation it sits at half)
    assert np.median(saliency) < 0.2 * saliency.max()
    uncompensated = FlowMagnitude(compensate_camera=False)(previous, current)
    assert np.median(uncompensated) > 0.3 * uncompensated.max()


def test_flow_magnitude_is_zero_without_motion_and_checks_sizes():
    frame = textured_background()
    assert FlowMagnitude()(frame, frame).max() < 0.01  # pixels of flow at the working size
    with pytest.raises(ValueError, match="differs in size"):
        FlowMagnitude()(frame, frame[:-2])


def test_default_baselines_reject_bad_frames():
    for baseline in default_baselines():
        with pytest.raises(ValueError, match="uint8"):
            baseline(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
