"""Non-learned saliency baselines, each a callable ``(previous_bgr, current_bgr) -> 2-D map``.

Frames are H x W x 3 uint8 BGR (the pairing of ``skd_ros.core.preprocess``: the map belongs to ``current``;
the first frame of a video comes paired with itself). Maps are non-negative float32 at a small working
size; the metrics resize every prediction to the ground truth, so no baseline needs the full size.

* ``CentreBias`` — a Gaussian at the frame centre (the centre prior every saliency model is measured
  against). Ignores the content.
* ``SpectralResidual`` — Hou & Zhang, "Saliency Detection: A Spectral Residual Approach" (CVPR 2007),
  computed as OpenCV-contrib's ``StaticSaliencySpectralResidual`` does (that module is not in
  opencv-python-headless): grey frame at 64 x 64, log amplitude spectrum minus its 3 x 3 mean, back to
  the image with the original phase, squared magnitude, 5 x 5 Gaussian (sigma 8). Spatial only.
* ``AerialGazePrior`` — where people look in aerial video regardless of content: the mean of the
  UAVSal prior maps learned from AVS1K and EyeTrackUAV2 fixations (MATLAB v7.3 files, read with h5py).
* ``CentreWeighted`` — any baseline's map times the centre bias (e.g. spectral residual x centre).
* ``FlowMagnitude`` — motion: Farnebäck dense optical flow from the previous to the current frame, the
  median flow (the drone's own motion, to first order) subtracted, magnitude, Gaussian blur. Temporal
  only; no motion (the first frame of a video) gives an all-zero map.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np

from skd_ros.core.postprocess import CentrePrior
from skd_ros.core.preprocess import check_frame


def _grey(frame: np.ndarray) -> np.ndarray:
    check_frame(frame)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def _working_size(frame: np.ndarray, width: int) -> tuple[int, int]:
    """(width, height) with the frame's aspect ratio."""
    rows, cols = frame.shape[:2]
    return width, max(1, round(width * rows / cols))


class CentreBias:
    """A centred Gaussian whose standard deviations are ``sigma`` times the frame's width and height."""

    name = "Centre bias"

    def __init__(self, sigma: float = 0.25, width: int = 64):
        if sigma <= 0:
            raise ValueError(f"centre-bias sigma must be positive, got {sigma}")
        self.sigma = sigma
        self.width = width

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        check_frame(current)
        cols, rows = _working_size(current, self.width)
        return CentrePrior(self.sigma, self.sigma, 1.0).weights(rows, cols)


class SpectralResidual:
    """Hou & Zhang's spectral residual saliency (as OpenCV-contrib computes it) on the current frame."""

    name = "Spectral residual"

    def __init__(self, size: int = 64, blur_sigma: float = 8.0):
        self.size = size
        self.blur_sigma = blur_sigma

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        small = cv2.resize(_grey(current), (self.size, self.size), interpolation=cv2.INTER_AREA).astype(np.float32)
        spectrum = np.fft.fft2(small)
        log_amplitude = np.log(np.abs(spectrum) + 1e-8).astype(np.float32)
        residual = log_amplitude - cv2.blur(log_amplitude, (3, 3), borderType=cv2.BORDER_REPLICATE)
        back = np.fft.ifft2(np.exp(residual) * np.exp(1j * np.angle(spectrum)))
        saliency = cv2.GaussianBlur((np.abs(back) ** 2).astype(np.float32), (5, 5), self.blur_sigma)
        peak = saliency.max()
        return saliency / peak if peak > 0 else saliency


class AerialGazePrior:
    """The mean of the UAVSal aerial gaze priors (``PriorMaps`` in AVS1K_ob_priors_train.mat and
    UAV2_ob_priors_train.mat, 20 maps of 45 x 80 each): each file's mean map scaled to a peak of 1, the two
    averaged, stretched to the frame's aspect. Ignores the content."""

    name = "Aerial gaze prior"
    FILES = ("AVS1K_ob_priors_train.mat", "UAV2_ob_priors_train.mat")

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        missing = [name for name in self.FILES if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"aerial gaze priors: {folder} lacks {', '.join(missing)}")
        means = []
        for name in self.FILES:
            with h5py.File(folder / name, "r") as mat:
                maps = np.asarray(mat["PriorMaps"], dtype=np.float32).transpose(0, 2, 1)  # MATLAB order -> N x H x W
            mean = maps.mean(axis=0)
            means.append(mean / mean.max())
        self.prior = np.mean(means, axis=0).astype(np.float32)

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        check_frame(current)
        return cv2.resize(self.prior, _working_size(current, 80), interpolation=cv2.INTER_LINEAR)

    def centre_spread(self) -> tuple[float, float]:
        """The prior's standard deviations about the frame centre, in frame widths and heights (its second
        moments): the centred Gaussian closest to it."""
        rows, cols = self.prior.shape
        weights = self.prior / self.prior.sum()
        x = (np.arange(cols) + 0.5) / cols - 0.5
        y = (np.arange(rows) + 0.5) / rows - 0.5
        return float(np.sqrt(weights.sum(axis=0) @ x**2)), float(np.sqrt(weights.sum(axis=1) @ y**2))


class CentreWeighted:
    """``baseline``'s map multiplied by the centre bias (both at the baseline's working size)."""

    def __init__(self, baseline, centre: CentreBias | None = None):
        self.baseline = baseline
        self.centre = centre or CentreBias()
        self.name = f"{getattr(baseline, 'name', type(baseline).__name__)} x centre"

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        saliency = self.baseline(previous, current)
        rows, cols = saliency.shape
        centre = cv2.resize(self.centre(previous, current), (cols, rows), interpolation=cv2.INTER_LINEAR)
        return (saliency * centre).astype(np.float32)


class FlowMagnitude:
    """Magnitude of Farnebäck optical flow (previous -> current) after removing the median flow."""

    name = "Flow magnitude"

    def __init__(self, width: int = 160, blur_sigma: float = 2.0, compensate_camera: bool = True):
        self.width = width
        self.blur_sigma = blur_sigma
        self.compensate_camera = compensate_camera

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        if previous.shape != current.shape:
            raise ValueError(f"frame pair differs in size: previous {previous.shape}, current {current.shape}")
        size = _working_size(current, self.width)
        before = cv2.resize(_grey(previous), size, interpolation=cv2.INTER_AREA)
        after = cv2.resize(_grey(current), size, interpolation=cv2.INTER_AREA)
        flow = cv2.calcOpticalFlowFarneback(
            before, after, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0
        )
        if self.compensate_camera:
            flow = flow - np.median(flow.reshape(-1, 2), axis=0)
        magnitude = np.sqrt((flow**2).sum(axis=2)).astype(np.float32)
        return cv2.GaussianBlur(magnitude, (0, 0), self.blur_sigma)


def default_baselines() -> list:
    """The baselines ``skd-eval`` runs unless told otherwise."""
    return [CentreBias(), SpectralResidual(), FlowMagnitude()]
