"""One synthetic clip: plan (from a seed), world, simulation, camera, observers, and per-frame rendering
with the drone camera's imperfections (lighting drift, cloud shadows, haze, vignetting, blur, sensor
noise, video compression)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

from skd_training.data.synthetic.actors import Simulation
from skd_training.data.synthetic.camera import MAX_SPEED, TRACK_SPEED, ZOOM_RANGE, plan_camera, view_half_extent
from skd_training.data.synthetic.geometry import Focus
from skd_training.data.synthetic.noise import fractal_noise, smoothstep
from skd_training.data.synthetic.observers import SEMANTIC, AttentionModel, Candidates, simulate_gaze
from skd_training.data.synthetic.scenes import build_scene, choose_scene
from skd_training.data.synthetic.sprites import Light, draw_layers, sprite, wake_layers

CATEGORIES = ("Vehicle", "Human", "Building", "Others")
CAMERA_CHOICES = {
    "Vehicle": (("pan", 0.35), ("track", 0.35), ("hover", 0.3)),
    "Human": (("pan", 0.3), ("track", 0.25), ("hover", 0.45)),
    "Building": (("orbit", 0.6), ("pan", 0.4)),
    "Others": (("pan", 0.35), ("track", 0.25), ("hover", 0.4)),
}
FOOTPRINT_M = (60.0, 180.0)  # ground width seen at zoom 1 (altitude), log-uniform
CLOUD_CELL_M = 2.0
WARMUP_S = 3.0  # simulated before the first frame: traffic under way, wakes already drawn out
WAKE_S = 2.5  # how far back a boat's foam trail reaches


def _weighted(rng, choices):
    names, weights = zip(*choices, strict=True)
    return names[rng.choice(len(names), p=np.array(weights) / sum(weights))]


@dataclass
class Photometry:
    """Per-clip camera imperfections."""

    gain: float
    drift: float  # relative gain swing over the clip
    drift_period: float  # seconds
    drift_phase: float
    white_balance: tuple
    haze: float
    vignette: float
    blur: float  # Gaussian sigma at 1280 px width
    noise: float  # sensor noise sigma (0..255 units)
    jpeg: int  # compression quality
    clouds: float  # darkness of cloud shadows (0 = clear sky)
    wind: tuple = (0.0, 0.0)  # cloud drift m/s

    @classmethod
    def random(cls, rng) -> Photometry:
        wind = rng.uniform(1, 5) * np.array([math.cos(a := rng.uniform(0, 6.283)), math.sin(a)])
        return cls(
            gain=rng.uniform(0.9, 1.08),
            drift=rng.uniform(0.0, 0.08),
            drift_period=rng.uniform(2.0, 8.0),
            drift_phase=rng.uniform(0, 6.283),
            white_balance=tuple(rng.uniform(0.95, 1.05, 3)),
            haze=rng.uniform(0.0, 0.15) if rng.random() < 0.5 else 0.0,
            vignette=rng.uniform(0.0, 0.25),
            blur=rng.uniform(0.3, 1.0),
            noise=rng.uniform(1.0, 3.5),
            jpeg=int(rng.integers(60, 93)),
            clouds=rng.uniform(0.15, 0.4) if rng.random() < 0.35 else 0.0,
            wind=tuple(wind),
        )


@dataclass
class Clip:
    """A planned clip; frames and maps are rendered on demand (``frame``, ``density``, ``fixation``).

    seed, index: the clip is a pure function of both (``generate`` uses the video number as index).
    category: 'Vehicle', 'Human', 'Building' or 'Others' (None: drawn from the seed).
    """

    seed: int
    index: int = 0
    width: int = 1280
    height: int = 720
    frames: int = 64
    fps: float = 30.0
    category: str | None = None
    model: AttentionModel = field(default_factory=AttentionModel)

    def __post_init__(self):
        if self.width < 16 or self.height < 16 or self.frames < 1 or self.fps <= 0:
            raise ValueError(
                "need a size of at least 16 x 16, frames >= 1, fps > 0; "
                f"got {self.width}x{self.height}, {self.frames} frames, {self.fps} fps"
            )
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.index]))
        if self.category is None:
            self.category = CATEGORIES[rng.integers(len(CATEGORIES))]
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}, got {self.category!r}")
        self.size = (self.width, self.height)
        self.scene = choose_scene(rng, self.category)
        self.footprint = float(math.exp(rng.uniform(*np.log(FOOTPRINT_M))))
        self.base_scale = self.width / self.footprint
        self.camera_mode = _weighted(rng, CAMERA_CHOICES[self.category])
        duration = max(self.frames - 1, 1) / self.fps
        # how far the camera may move: panning drones drift slowly, a followed vehicle sets the pace
        limits = (TRACK_SPEED, 1.0) if self.camera_mode == "track" else (MAX_SPEED, 0.3)
        self.travel = min(limits[0] * duration, limits[1] * self.footprint)
        view = view_half_extent(self.size, self.base_scale)
        half = view + self.travel + 10.0
        world_size = tuple(2 * half)
        centre = half.copy()
        focus = Focus(centre, view * ZOOM_RANGE[0] + 0.5 * self.travel)
        azimuth, elevation = rng.uniform(-math.pi, math.pi), rng.uniform(math.radians(30), math.radians(70))
        self.light = Light.from_sun(azimuth, elevation)
        self.sun = (azimuth, elevation)
        self.world, self.actors = build_scene(
            rng, self.scene, self.category, world_size, self.base_scale, focus, self.light, elevation
        )
        self.tracks = Simulation(self.world, self.actors).run(
            self.frames, 1.0 / self.fps, warmup=round(WARMUP_S * self.fps)
        )
        follow = None
        if self.camera_mode == "track":
            follow = self._track_target(centre)
            if follow is None:
                self.camera_mode = "pan"
        self.camera = plan_camera(
            rng, self.camera_mode, self.frames, self.fps, self.size, self.base_scale, centre, self.travel, follow
        )
        self.photometry = Photometry.random(rng)
        self._clouds(rng, world_size)
        self.candidates = self._candidates()
        self.gaze = simulate_gaze(
            rng, self.candidates, self.size, self.fps, self.model, (self._to_world, self._to_screen)
        )

    # -- planning helpers ----------------------------------------------------------------------------
    def _track_target(self, centre) -> np.ndarray | None:
        """Track of the moving main-category actor nearest the view centre, if any."""
        best, best_distance = None, math.inf
        for i, actor in enumerate(self.actors):
            if actor.category != self.category or self.tracks.speed[:, i].max() < 0.3:
                continue
            distance = np.linalg.norm(self.tracks.position[0, i] - centre)
            if distance < best_distance:
                best, best_distance = i, distance
        return None if best is None else self.tracks.position[:, best]

    def _clouds(self, rng, world_size) -> None:
        travel = np.abs(np.array(self.photometry.wind)) * self.frames / self.fps
        shape = tuple(int(math.ceil((world_size[k] + 2 * travel[k] + 20) / CLOUD_CELL_M)) for k in (1, 0))
        field = fractal_noise(rng, shape, 30.0 / CLOUD_CELL_M, octaves=3)
        self.cloud_field = smoothstep(0.0, 1.2, field).astype(np.float32)
        self.cloud_origin = -travel - 10.0  # world metres of the field's pixel (0, 0)

    def _to_screen(self, t: int, points_m):
        return self.camera.to_screen(t, points_m)

    def _to_world(self, t: int, points_px):
        m = self.camera.matrix(t, 1.0)
        return (np.asarray(points_px) - m[:, 2]) @ np.linalg.inv(m[:, :2]).T

    def _candidates(self) -> Candidates:
        """Every object observers may look at, in screen space per frame."""
        statics = [thing for thing in self.world.statics] + ([self.world.landmark] if self.world.landmark else [])
        n_actors = len(self.actors)
        kinds = [a.look.kind for a in self.actors] + [s.semantic for s in statics]
        categories = [a.category for a in self.actors] + [s.category for s in statics]
        lengths = np.array([a.look.length for a in self.actors] + [s.length for s in statics])
        widths = np.array([a.look.width for a in self.actors] + [s.width for s in statics])
        contrast = np.array([a.contrast for a in self.actors] + [s.contrast for s in statics])
        semantic = np.array([SEMANTIC.get(k, 0.5) for k in kinds])
        frames = self.frames
        n = len(kinds)
        world_centre = np.zeros((frames, n, 2))
        world_heading = np.zeros((frames, n))
        speed = np.zeros((frames, n))
        world_centre[:, :n_actors] = self.tracks.position
        world_heading[:, :n_actors] = self.tracks.heading
        speed[:, :n_actors] = self.tracks.speed
        for j, thing in enumerate(statics):
            world_centre[:, n_actors + j] = thing.centre
            world_heading[:, n_actors + j] = thing.heading
        centre = np.zeros_like(world_centre)
        scale = self.base_scale * self.camera.zoom
        for t in range(frames):
            centre[t] = self.camera.to_screen(t, world_centre[t]) if n else centre[t]
        return Candidates(
            centre=centre,
            heading=world_heading - self.camera.angle[:, None],
            half_length=lengths[None, :] / 2 * scale[:, None],
            half_width=widths[None, :] / 2 * scale[:, None],
            speed=speed * scale[:, None],
            contrast=contrast,
            semantic=semantic,
            kinds=kinds,
            categories=categories,
        )

    # -- rendering -----------------------------------------------------------------------------------
    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as H x W x 3 uint8 BGR."""
        if not 0 <= t < self.frames:
            raise IndexError(f"clip has frames 0..{self.frames - 1}, asked for {t}")
        scale = self.world.scale
        corners = self.camera.view_corners(t) * scale
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 3, 0)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 4
        crop = self.world.canvas[y0:y1, x0:x1].copy()
        lo, hi = np.array([x0, y0]) / scale - 15, np.array([x1, y1]) / scale + 15
        order = sorted(
            range(len(self.actors)), key=lambda i: self.actors[i].look.kind in ("car", "van", "truck", "bus")
        )
        for i in order:
            position = self.tracks.position[t, i]
            if np.any(position < lo) or np.any(position > hi):
                continue
            look = self.actors[i].look
            layers = []
            if look.kind == "boat":
                now = self.tracks.warmup + t
                history = self.tracks.history[max(0, now - round(WAKE_S * self.fps)) : now + 1 : 3, i]
                stern = position - 0.45 * look.length * np.array(
                    [math.cos(self.tracks.heading[t, i]), math.sin(self.tracks.heading[t, i])]
                )
                history = np.concatenate([history[:-1], stern[None]]) * scale
                layers += wake_layers(history, look.width * scale, self.tracks.speed[t, i])
            layers += sprite(
                look, position * scale, self.tracks.heading[t, i], scale, self.light, self.tracks.phase[t, i]
            )
            draw_layers(crop, layers, origin=(x0, y0))
        matrix = self.camera.matrix(t, scale, origin=(x0, y0))
        image = cv2.warpAffine(crop, matrix, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        return self._camera_response(image, t)

    def _camera_response(self, rgb: np.ndarray, t: int) -> np.ndarray:
        p = self.photometry
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.index, t, 1]))
        w, h = self.size
        time = t / self.fps
        gain = p.gain * (1.0 + p.drift * math.sin(2 * math.pi * time / p.drift_period + p.drift_phase))
        light = self._vignette()  # per-pixel gain: vignetting x cloud shadows
        if p.clouds > 0:
            origin = (np.asarray(self.cloud_origin) + np.asarray(p.wind) * time) / CLOUD_CELL_M
            matrix = self.camera.matrix(t, 1.0 / CLOUD_CELL_M, origin=origin)
            cloud = cv2.warpAffine(
                self.cloud_field, matrix, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101
            )
            light = light * (1.0 - p.clouds * cloud)
        image = rgb.astype(np.float32)
        image *= light[..., None]
        image *= (gain * (1.0 - p.haze) * np.asarray(p.white_balance, np.float32))[None, None, :]
        if p.haze > 0:
            image += np.float32([190, 198, 208]) * p.haze
        sigma = p.blur * w / 1280
        if t:
            shift = self.camera.to_screen(t, self.camera.centre[t - 1][None])[0] - np.array(self.size) / 2
            streak = 0.4 * float(np.linalg.norm(shift))
            if streak > 1.0:  # motion blur along the camera's motion during the exposure
                image = cv2.filter2D(image, -1, _line_kernel(streak, math.atan2(shift[1], shift[0])))
        if sigma > 0.3:
            image = cv2.GaussianBlur(image, (0, 0), sigma)
        # sensor noise: one of a few per-clip noise fields, shifted at random (drawing fresh noise per frame
        # costs more than the rest of the camera model)
        pool = self._noise_pool()
        noise = np.roll(pool[rng.integers(len(pool))], (int(rng.integers(h)), int(rng.integers(w))), axis=(0, 1))
        image += noise * p.noise
        np.clip(image + 0.5, 0, 255, out=image)
        bgr = cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, p.jpeg])
        return cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else bgr

    def _noise_pool(self) -> list[np.ndarray]:
        if not hasattr(self, "_noise"):
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.index, 2]))
            self._noise = [rng.standard_normal((self.height, self.width, 3), dtype=np.float32) for _ in range(4)]
        return self._noise

    def _vignette(self) -> np.ndarray:
        if not hasattr(self, "_vignette_map"):
            w, h = self.size
            x = (np.arange(w, dtype=np.float32) - w / 2) / (w / 2)
            y = (np.arange(h, dtype=np.float32) - h / 2) / (h / 2)
            r2 = (x[None, :] ** 2 * 0.8 + y[:, None] ** 2 * 0.5) / 1.3
            self._vignette_map = 1.0 - self.photometry.vignette * r2
        return self._vignette_map

    def density(self, t: int) -> np.ndarray:
        """Ground-truth density of frame ``t``: H x W float32, maximum 1."""
        return self.gaze.density_map(t, self.size, self.model.density_sigma * self.width)

    def fixation(self, t: int) -> np.ndarray:
        """Binary fixation map of frame ``t``: H x W bool, one pixel per observer."""
        return self.gaze.fixation_map(t, self.size)

    # -- description ---------------------------------------------------------------------------------
    def fixation_shares(self) -> dict[str, float]:
        """Fraction of all fixations on each category, on moving objects, and on nothing in particular."""
        target = self.gaze.target
        total = target.size
        shares = Counter()
        moving = 0
        frames = np.arange(self.frames)[:, None].repeat(target.shape[1], axis=1)
        for t, j in zip(frames.ravel(), target.ravel(), strict=True):
            if j < 0:
                shares["none"] += 1
                continue
            shares[self.candidates.categories[j]] += 1
            moving += self.candidates.speed[t, j] > 0.002 * self.width
        result = {k: round(v / total, 4) for k, v in sorted(shares.items())}
        result["moving"] = round(moving / total, 4)
        return result

    def describe(self) -> dict:
        kinds = Counter(a.look.kind for a in self.actors)
        statics = Counter(s.semantic for s in self.world.statics)
        return {
            "category": self.category,
            "scene": self.scene,
            "seed": self.seed,
            "index": self.index,
            "size": list(self.size),
            "frames": self.frames,
            "fps": self.fps,
            "footprint_m": round(self.footprint, 1),
            "camera": self.camera_mode,
            "sun_azimuth_deg": round(math.degrees(self.sun[0]), 1),
            "sun_elevation_deg": round(math.degrees(self.sun[1]), 1),
            "actors": dict(sorted(kinds.items())),
            "static_objects": dict(sorted(statics.items())),
            "landmark": self.world.landmark.kind if self.world.landmark else None,
            "fixation_share": self.fixation_shares(),
        }


def _line_kernel(length: float, angle: float) -> np.ndarray:
    size = int(math.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return kernel / kernel.sum()


def render_clip(
    seed: int = 0, frames: int = 48, size: tuple[int, int] = (640, 360), category: str | None = None, fps: float = 30.0
) -> list[np.ndarray]:
    """A short synthetic aerial clip in memory: ``frames`` H x W x 3 uint8 BGR frames (no ground truth needed)."""
    clip = Clip(seed, 0, size[0], size[1], frames, fps, category)
    return [clip.frame(t) for t in range(frames)]
