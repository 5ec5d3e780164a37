"""The teachers' maps over box sequences, cached, and their combination into soft labels.

Each teacher's map of every frame is computed once, area-resized to the student's grid and cached per
sequence (``<cache>/<sequence>/<teacher>.npz``, keyed by the teacher's settings). A soft label combines them
the way a ``TeacherMix`` says: each map scaled to a peak of 1, ``spatial_weight`` x spatial + (1 -
``spatial_weight``) x motion, optionally times a prior (the aerial gaze prior, or a centred Gaussian) to
``prior_power``, scaled to a peak of 1 again. Which mix teaches best is chosen on training sequences only
(``choose_mix``): by where the soft label's peak and ROIs land on their boxes, as skd-eval-real scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from skd_ros.core.postprocess import CentrePrior, ROIParams, extract_rois, find_peak
from skd_training.baselines import AerialGazePrior, CentreBias
from skd_training.data.box_sequences import BoxSequence
from skd_training.evaluate.real_footage import score_frame
from skd_training.real import motion_teacher
from skd_training.real.spatial_teacher import SpatialTeacher

MOTION_WIDTH = 448  # the motion teacher's working width (aspect kept)
MIN_MOTION_WIDTH = 32  # the registration's corner search and margins need a frame of some size
PRIORS = (None, "aerial", "centre")


@dataclass(frozen=True)
class TeacherMix:
    """How the teachers' maps make a soft label (see the module docstring)."""

    spatial_weight: float = 0.5
    prior: str | None = "aerial"
    prior_power: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.spatial_weight <= 1.0:
            raise ValueError(f"spatial_weight must be in [0, 1], got {self.spatial_weight}")
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {self.prior!r}")


CANDIDATE_MIXES = tuple(
    TeacherMix(weight, prior, power)
    for weight in (0.3, 0.5, 0.7)
    for prior, power in ((None, 0.0), ("aerial", 0.5), ("aerial", 1.0), ("centre", 0.5))
)


def peak_normalised(maps: np.ndarray) -> np.ndarray:
    """Each map scaled to a maximum of 1 (a teacher's density sums to 1, far below the ROI extraction's
    contrast threshold; the peak, the ROIs and NSS do not depend on the scale)."""
    maps = np.asarray(maps, np.float32)
    return maps / np.maximum(maps.reshape(len(maps), -1).max(axis=1), 1e-12)[:, None, None]


def to_grid(saliency: np.ndarray, resolution: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if min(saliency.shape) >= resolution else cv2.INTER_LINEAR
    return cv2.resize(np.asarray(saliency, np.float32), (resolution, resolution), interpolation=interpolation)


class SoftLabels:
    """Teacher maps of box sequences at ``resolution``, cached under ``cache``; the motion teacher works on
    frames ``motion_width`` pixels wide."""

    def __init__(
        self, cache: Path, spatial: SpatialTeacher, priors: Path, resolution: int = 64, motion_width: int = MOTION_WIDTH
    ):
        if motion_width < MIN_MOTION_WIDTH:
            raise ValueError(f"the motion teacher's width must be at least {MIN_MOTION_WIDTH} px, got {motion_width}")
        self.cache = Path(cache)
        self.spatial = spatial
        self.resolution = resolution
        self.motion_width = motion_width
        self.aerial_prior = AerialGazePrior(priors)
        self.spatial_key = f"spatial_w{spatial.width}_{'centre' if spatial.centre else 'content'}"
        # every fold asks again for the same maps and scores: kept in memory after the first time
        self._maps: dict[Path, np.ndarray] = {}
        self._scores: dict[tuple[str, TeacherMix], dict[str, float]] = {}

    def _cached(self, sequence: BoxSequence, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        path = self.cache / sequence.name.replace("/", "_") / f"{name}_r{self.resolution}.npz"
        if path not in self._maps:
            maps = np.load(path)["maps"] if path.is_file() else None
            if maps is None or len(maps) != len(sequence.boxes):
                maps = compute().astype(np.float32)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(path, maps=maps)
            self._maps[path] = maps
        return self._maps[path]

    def spatial_maps(self, sequence: BoxSequence) -> np.ndarray:
        def compute():
            frames = range(len(sequence.boxes))
            return np.stack(
                [to_grid(self.spatial.map(sequence.read(i)), self.resolution)
                 for i in tqdm(frames, desc=f"spatial teacher: {sequence.name}", unit="frame", leave=False)]
            )  # fmt: skip

        return self._cached(sequence, self.spatial_key, compute)

    def motion_maps(self, sequence: BoxSequence) -> np.ndarray:
        def compute():
            frames = [working_frame(sequence.read(i), self.motion_width) for i in range(len(sequence.boxes))]
            found = tqdm(
                motion_teacher.maps(frames), total=len(frames), desc=f"motion teacher: {sequence.name}", leave=False
            )
            return np.stack([to_grid(m, self.resolution) for m in found])

        return self._cached(sequence, f"motion_w{self.motion_width}", compute)

    def prior_map(self, sequence: BoxSequence, prior: str | None) -> np.ndarray:
        if prior is None:
            return np.ones((self.resolution, self.resolution), np.float32)
        frame = sequence.read(0)
        source = self.aerial_prior if prior == "aerial" else CentreBias()
        return peak_normalised(to_grid(source(frame, frame), self.resolution)[None])[0]

    def centre_prior(self, mix: TeacherMix) -> CentrePrior | None:
        """``mix``'s prior as the runtime's centred Gaussian (``CentrePrior``): the centre bias as it is, the
        aerial gaze prior as the Gaussian of its spread, either to the mix's power; None without a prior."""
        if mix.prior is None:
            return None
        if mix.prior == "aerial":
            sigma_x, sigma_y = self.aerial_prior.centre_spread()
        else:
            sigma_x = sigma_y = CentreBias().sigma
        return CentrePrior(sigma_x, sigma_y, mix.prior_power)

    def soft_labels(self, sequence: BoxSequence, mix: TeacherMix) -> np.ndarray:
        """One soft label per frame (up to the last box), N x R x R, peak 1."""
        spatial, motion = peak_normalised(self.spatial_maps(sequence)), peak_normalised(self.motion_maps(sequence))
        combined = mix.spatial_weight * spatial + (1 - mix.spatial_weight) * motion
        if mix.prior is not None:
            combined = combined * self.prior_map(sequence, mix.prior) ** mix.prior_power
        return peak_normalised(combined)

    def scores(self, sequence: BoxSequence, mix: TeacherMix) -> dict[str, float]:
        """``label_scores`` of the sequence's soft labels under ``mix``."""
        key = (sequence.name, mix)
        if key not in self._scores:
            self._scores[key] = label_scores(self.soft_labels(sequence, mix), sequence)
        return self._scores[key]


def working_frame(frame: np.ndarray, width: int = MOTION_WIDTH) -> np.ndarray:
    height = round(width * frame.shape[0] / frame.shape[1])
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def label_scores(labels: np.ndarray, sequence: BoxSequence, roi_params: ROIParams = ROIParams()) -> dict[str, float]:
    """skd-eval-real's scores of a sequence's soft labels (as if a model had predicted them)."""
    height, width = sequence.read(0).shape[:2]
    rows = [
        score_frame(m, extract_rois(m, width, height, roi_params), find_peak(m, width, height), box, width, height)
        for m, (_, box) in zip(labels, sequence.scored(), strict=True)
        if box is not None
    ]
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def choose_mix(labels: SoftLabels, training: list[BoxSequence], log=print) -> TeacherMix:
    """The candidate mix whose soft labels put the peak and the top-3 ROIs on the target most often, averaged
    over ``training`` sequences (never the ones the student will be scored on)."""

    def objective(mix: TeacherMix) -> float:
        found = [labels.scores(sequence, mix) for sequence in training]
        return float(np.mean([s["peak_on_target"] + s["top3_roi_hit"] for s in found]))

    candidates = tqdm(CANDIDATE_MIXES, desc=f"teacher mixes on {len(training)} sequences", unit="mix", leave=False)
    results = {mix: objective(mix) for mix in candidates}
    best = max(results, key=results.get)
    log(f"teacher mix chosen on {len(training)} training sequences: {best} (score {results[best]:.3f})")
    return best
