"""Simulated observers: where N people watching the clip look in every frame.

The attention model (``AttentionModel``; docs/DATA.md explains it with its defaults):

* Every visible object is a candidate: moving actors, static look-alikes (parked cars, standing people,
  moored boats, resting animals), buildings and the landmark. Each gets a utility

      u = w_motion * motion + w_size * size + w_contrast * contrast + w_centre * centre
          + w_semantic * semantic + w_onset * onset - w_inhibition * recency

  - motion = 1 - exp(-v / v0): v its speed on screen relative to the ground (frame widths per second;
    the drone's own motion is not object motion), v0 = ``motion_scale``;
  - size: log area as a fraction of the frame, 1e-5 -> 0, 1e-2 -> 1;
  - contrast: colour difference from the ground around it, in [0, 1];
  - centre: exp(-d^2 / (2 sigma^2)), d the offset from the frame centre in half-frame units;
  - semantic: a prior per kind (people and the landmark highest, buildings lowest; ``SEMANTIC``);
  - onset: exp(-(t - t_onset) / tau), t_onset when it came into view or started moving;
  - recency (inhibition of return): exp(-(t - t_left) / tau_ior) for the object the observer looked
    at last, t_left when it looked away; 0 for others.

  Looking at nothing in particular (a point of the ground drawn around the frame centre) has the
  constant utility ``explore``.
* Each observer fixates for a gamma-distributed time (mean ``fixation_mean`` seconds), following a
  moving target (smooth pursuit), then makes a saccade: the next candidate is drawn with probability
  softmax(u / temperature). A target that leaves the view ends the fixation at once. Every observer
  starts the clip looking at the centre (the fixation cross of an eye-tracking session).
* The gaze lands on the object at a random point of its body (normal, 0.3 of its half-size, clipped
  to 0.8) plus a small tracking error (``gaze_jitter`` frame widths, clipped at 2 sigma).

Per frame, the fixation map marks each observer's gaze pixel and the density map is the sum of
Gaussians (sigma = ``density_sigma`` frame widths) at the gaze points, scaled to a maximum of 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SEMANTIC = {
    "landmark": 2.0,
    "person": 1.0,
    "cyclist": 1.0,
    "bus": 0.8,
    "cow": 0.8,
    "truck": 0.75,
    "boat": 0.75,
    "car": 0.7,
    "van": 0.7,
    "sheep": 0.7,
    "building": 0.1,
    "bale": 0.1,
}


@dataclass(frozen=True)
class AttentionModel:
    """Weights and constants of the simulated observers (see the module docstring)."""

    observers: int = 16
    motion: float = 3.0
    motion_scale: float = 0.01
    size: float = 0.8
    contrast: float = 1.0
    centre: float = 1.0
    centre_sigma: float = 0.35
    semantic: float = 1.5
    onset: float = 1.5
    onset_time: float = 0.5
    inhibition: float = 3.0
    inhibition_time: float = 2.0
    explore: float = 1.2
    temperature: float = 0.45
    fixation_mean: float = 0.45
    fixation_shape: float = 2.5
    start_fixation: float = 0.25
    gaze_jitter: float = 0.003
    density_sigma: float = 0.02

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Candidates:
    """Screen-space state of every object per frame (frames x objects)."""

    centre: np.ndarray  # frames x n x 2 pixels
    heading: np.ndarray  # frames x n, radians on screen
    half_length: np.ndarray  # frames x n pixels
    half_width: np.ndarray
    speed: np.ndarray  # frames x n, pixels per second relative to the ground
    contrast: np.ndarray  # n
    semantic: np.ndarray  # n
    kinds: list[str]
    categories: list[str]

    def visible(self, size: tuple[int, int]) -> np.ndarray:
        w, h = size
        x, y = self.centre[..., 0], self.centre[..., 1]
        return (x >= 0) & (x < w) & (y >= 0) & (y < h)


@dataclass
class Gaze:
    """Per frame and observer: gaze point (pixels) and the candidate looked at (-1: none)."""

    points: np.ndarray  # frames x observers x 2
    target: np.ndarray  # frames x observers

    def fixation_map(self, t: int, size: tuple[int, int]) -> np.ndarray:
        w, h = size
        fixation = np.zeros((h, w), bool)
        xs = np.clip(np.round(self.points[t, :, 0]).astype(int), 0, w - 1)
        ys = np.clip(np.round(self.points[t, :, 1]).astype(int), 0, h - 1)
        fixation[ys, xs] = True
        return fixation

    def density_map(self, t: int, size: tuple[int, int], sigma_px: float) -> np.ndarray:
        """Sum of Gaussians at the gaze points (each cut at 4 sigma), scaled to a maximum of 1."""
        w, h = size
        density = np.zeros((h, w), np.float32)
        reach = 4.0 * sigma_px
        for x, y in self.points[t]:
            x0, x1 = max(0, int(x - reach)), min(w, int(x + reach) + 2)
            y0, y1 = max(0, int(y - reach)), min(h, int(y + reach) + 2)
            gx = np.exp(-((np.arange(x0, x1, dtype=np.float32) - x) ** 2) / (2 * sigma_px**2))
            gy = np.exp(-((np.arange(y0, y1, dtype=np.float32) - y) ** 2) / (2 * sigma_px**2))
            density[y0:y1, x0:x1] += gy[:, None] * gx[None, :]
        peak = density.max()
        return density / peak if peak > 0 else density


def onset_times(candidates: Candidates, size, fps: float, moving_speed: float) -> np.ndarray:
    """Per frame and object: the last time (s) it came into view or started moving (-inf before)."""
    frames, n = candidates.speed.shape
    visible = candidates.visible(size)
    moving = candidates.speed > moving_speed
    onset = np.full((frames, n), -np.inf)
    last = np.full(n, -np.inf)
    for t in range(frames):
        if t:
            started = (visible[t] & ~visible[t - 1]) | (moving[t] & ~moving[t - 1])
            last = np.where(started, t / fps, last)
        onset[t] = last
    return onset


def simulate_gaze(
    rng: np.random.Generator, candidates: Candidates, size, fps: float, model: AttentionModel, ground_points
) -> Gaze:
    """Run the observers over the clip.

    ground_points(t, screen_points) -> world points and back is handled by the caller through the two
    callables in ``ground_points``: (to_world(t, pts), to_screen(t, pts)), so that an observer looking
    at the ground keeps looking at the same spot while the camera moves."""
    to_world, to_screen = ground_points
    w, h = size
    frames, n = candidates.speed.shape
    dt = 1.0 / fps
    visible = candidates.visible(size)
    onsets = onset_times(candidates, size, fps, moving_speed=0.002 * w)
    motion = 1.0 - np.exp(-(candidates.speed / w) / model.motion_scale)
    area = np.maximum(4 * candidates.half_length * candidates.half_width, 1e-3) / (w * h)
    size_term = np.clip((np.log10(area) + 5.0) / 3.0, 0.0, 1.0)
    dx = (candidates.centre[..., 0] - w / 2) / (w / 2)
    dy = (candidates.centre[..., 1] - h / 2) / (h / 2)
    centre_term = np.exp(-(dx**2 + dy**2) / (2 * model.centre_sigma**2))
    base = (
        model.motion * motion
        + model.size * size_term
        + model.contrast * candidates.contrast[None, :]
        + model.centre * centre_term
        + model.semantic * candidates.semantic[None, :]
    )
    observers = model.observers
    points = np.zeros((frames, observers, 2))
    target = np.full((frames, observers), -1, int)
    jitter_px = model.gaze_jitter * w
    for o in range(observers):
        current, anchor = -1, np.zeros(2)
        spot = to_world(0, np.array([[w / 2, h / 2]]))[0]
        dwell = rng.gamma(model.fixation_shape, model.start_fixation / model.fixation_shape)
        last_target, left_at = -1, -np.inf
        for t in range(frames):
            time = t * dt
            dwell -= dt
            if current >= 0 and not visible[t, current]:
                dwell = 0.0
            if current < 0 and t:
                on_screen = to_screen(t, spot[None])[0]
                if not (0 <= on_screen[0] < w and 0 <= on_screen[1] < h):
                    dwell = 0.0
            if dwell <= 0.0:
                if current >= 0:
                    last_target, left_at = current, time
                utility = base[t] + model.onset * np.exp(-(time - onsets[t]) / model.onset_time)
                if last_target >= 0:
                    utility[last_target] -= model.inhibition * np.exp(-(time - left_at) / model.inhibition_time)
                options = np.flatnonzero(visible[t])
                scores = np.concatenate([utility[options], [model.explore]]) / model.temperature
                p = np.exp(scores - scores.max())
                choice = rng.choice(len(p), p=p / p.sum())
                if choice < len(options):
                    current = int(options[choice])
                    anchor = np.clip(rng.normal(0, 0.3, 2), -0.8, 0.8)
                else:
                    current = -1
                    screen = np.clip(rng.normal((w / 2, h / 2), (0.22 * w, 0.22 * h)), 0, (w - 1, h - 1))
                    spot = to_world(t, screen[None])[0]
                dwell = rng.gamma(model.fixation_shape, model.fixation_mean / model.fixation_shape)
            error = np.clip(rng.normal(0, jitter_px, 2), -2 * jitter_px, 2 * jitter_px)
            if current >= 0:
                heading = candidates.heading[t, current]
                c, s = np.cos(heading), np.sin(heading)
                along = anchor[0] * candidates.half_length[t, current]
                across = anchor[1] * candidates.half_width[t, current]
                gaze = candidates.centre[t, current] + np.array([c * along - s * across, s * along + c * across])
            else:
                gaze = to_screen(t, spot[None])[0]
            points[t, o] = np.clip(gaze + error, 0, (w - 1, h - 1))
            target[t, o] = current
    return Gaze(points, target)
