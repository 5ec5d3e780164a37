"""Teachers: anything that maps a frame (spatial) or a frame pair (temporal) to a saliency map.

One interface, ``Teacher.predict(batch) -> N x 1 x H x W`` maps in [0, 1], where ``batch`` is a
collated dataset batch (the keys ``previous_hr``/``current_hr``: N x 3 x H x W ImageNet-normalised
RGB at the teacher's resolution, plus ``video`` and ``frame`` naming each sample). Four kinds:

* ``BuiltinTeacher`` — heavy networks trained here at high resolution (paper Sec. III-A: the
  teachers "can be any complex spatial/temporal saliency models"):

  - ``SpatialTeacherNet``: a single-frame U-Net style encoder-decoder, five levels (widths
    24-48-96-192-384, two 3x3 conv + GroupNorm + ReLU per level, skip connections), about 4.4 M
    parameters, 21x a student. The frame gets two coordinate channels (CoordConv) so that the
    teacher can learn the centre bias of human gaze. It can be pretrained on real human fixation maps (MIT1003,
    ``StillSaliencyDataset``) and then fine-tuned on aerial video, as the paper fine-tunes its
    teachers.
  - ``TemporalTeacherNet``: two-stream (TSNet-like). An appearance encoder sees the current frame,
    a motion encoder sees (previous, current, current - previous); their features are concatenated
    at every level and decoded with skips. About 5.5 M parameters, 26x a student.

  GroupNorm rather than BatchNorm: statistics per sample, so a DDP run computes exactly what a
  single process computes.

* ``TorchScriptTeacher`` / ``ONNXTeacher`` — a user's pretrained model file. Inputs are detected from
  the model's signature: one input (N x 3 x H x W current frame for a spatial teacher, N x 6 x H x W
  previous+current for a temporal one) or two inputs (previous, current). ``normalization`` says what
  the model expects: ``imagenet`` (our preprocessing) or ``unit`` (RGB in [0, 1]). Outputs of any
  shape N x [1 x] h x w are min-max normalised per map to [0, 1] (saliency is relative, and external
  models differ in range: logits, densities, 0-255).

* ``PrecomputedTeacher`` — a folder of maps made elsewhere (DVA, SalNet, TSNet, ...), laid out as
  ``<folder>/<video>/<frame>.<png|jpg|npy>`` with ``<frame>`` the frame index (zero padding allowed)
  or the frame name the dataset reports. Maps are min-max normalised per map like external models.
"""

from __future__ import annotations

import logging
import re
import warnings
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from skd_ros.core.preprocess import MEAN_RGB, STD_RGB, check_resolution, preprocess

log = logging.getLogger(__name__)

KINDS = ("spatial", "temporal")
NORMALIZATIONS = ("imagenet", "unit")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MAP_SUFFIXES = (*IMAGE_SUFFIXES, ".npy")


class TeacherError(ValueError):
    """A teacher cannot be built or cannot produce maps for the given data (bad file, missing map, ...)."""


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise TeacherError(f"teacher kind must be one of {KINDS}, got {kind!r}")
    return kind


def minmax_per_map(maps: torch.Tensor) -> torch.Tensor:
    """Rescale each N x 1 x H x W map to [0, 1]; a constant map becomes all zeros."""
    flat = maps.flatten(1)
    low = flat.min(1, keepdim=True).values
    span = flat.max(1, keepdim=True).values - low
    return ((flat - low) / span.clamp_min(1e-12)).reshape(maps.shape)


def as_maps(output: torch.Tensor, n: int, source: str) -> torch.Tensor:
    """Coerce a model output (N x 1 x h x w, N x h x w or a 1-element tuple/list of those) to N x 1 x h x w."""
    if isinstance(output, (tuple, list)):
        if not output:
            raise TeacherError(f"{source} returned no outputs")
        output = output[0]
    output = torch.as_tensor(output).float()
    if output.ndim == 3:
        output = output[:, None]
    if output.ndim != 4 or output.shape[0] != n or output.shape[1] != 1:
        raise TeacherError(f"{source} must return N x 1 x h x w maps for a batch of {n}, got {tuple(output.shape)}")
    if not torch.isfinite(output).all():
        raise TeacherError(f"{source} returned NaN or infinite values")
    return output


# --------------------------------------------------------------------------------------------------
# Built-in networks


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by GroupNorm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        groups = max(1, out_channels // 8)
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.GroupNorm(groups, out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.GroupNorm(groups, out_channels),
            nn.ReLU(inplace=True),
        )


class Encoder(nn.Module):
    """A pyramid of ConvBlocks separated by 2x2 max pooling; returns the features of every level."""

    def __init__(self, in_channels: int, widths: tuple[int, ...]):
        super().__init__()
        self.blocks = nn.ModuleList()
        previous = in_channels
        for width in widths:
            self.blocks.append(ConvBlock(previous, width))
            previous = width

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for level, block in enumerate(self.blocks):
            if level:
                x = F.max_pool2d(x, 2)
            x = block(x)
            features.append(x)
        return features


class Decoder(nn.Module):
    """Bilinear x2 upsampling, concatenation with the skip features, ConvBlock; then a 1x1 conv + sigmoid."""

    def __init__(self, skip_widths: tuple[int, ...]):
        super().__init__()
        self.blocks = nn.ModuleList()
        below = skip_widths[-1]
        for width in reversed(skip_widths[:-1]):
            self.blocks.append(ConvBlock(below + width, width))
            below = width
        self.out = nn.Conv2d(below, 1, 1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for block, skip in zip(self.blocks, reversed(features[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return torch.sigmoid(self.out(x))


def with_coordinates(x: torch.Tensor) -> torch.Tensor:
    """Append two channels holding each pixel's x and y position in [-1, 1] (CoordConv): lets the teacher
    learn where in the frame people look (centre bias), which convolutions alone only infer from padding."""
    n, _, h, w = x.shape
    ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(n, 1, h, w)
    xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(n, 1, h, w)
    return torch.cat([x, xs, ys], dim=1)


def _check_frames(x: torch.Tensor, levels: int, name: str) -> None:
    multiple = 2 ** (levels - 1)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be N x 3 x H x W, got {tuple(x.shape)}")
    if x.shape[2] % multiple or x.shape[3] % multiple:
        raise ValueError(f"{name}: height and width must be multiples of {multiple}, got {tuple(x.shape[2:])}")


class SpatialTeacherNet(nn.Module):
    """Single-frame encoder-decoder saliency network (the spatial teacher). forward(previous, current)
    ignores ``previous`` so that all teachers share one call signature."""

    kind = "spatial"

    def __init__(self, widths: tuple[int, ...] = (24, 48, 96, 192, 384)):
        super().__init__()
        self.widths = tuple(widths)
        self.encoder = Encoder(3 + 2, self.widths)
        self.decoder = Decoder(self.widths)

    def forward(self, previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        _check_frames(current, len(self.widths), "current frame")
        return self.decoder(self.encoder(with_coordinates(current)))


class TemporalTeacherNet(nn.Module):
    """Two-stream frame-pair saliency network (the temporal teacher): appearance + motion encoders."""

    kind = "temporal"

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128, 256)):
        super().__init__()
        self.widths = tuple(widths)
        self.appearance = Encoder(3 + 2, self.widths)
        self.motion = Encoder(9, self.widths)
        self.decoder = Decoder(tuple(2 * w for w in self.widths))

    def forward(self, previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        _check_frames(current, len(self.widths), "current frame")
        _check_frames(previous, len(self.widths), "previous frame")
        motion_input = torch.cat([previous, current, current - previous], dim=1)
        features = [
            torch.cat([a, m], dim=1)
            for a, m in zip(self.appearance(with_coordinates(current)), self.motion(motion_input), strict=True)
        ]
        return self.decoder(features)


def build_teacher_net(kind: str, widths: tuple[int, ...] | None = None) -> nn.Module:
    _check_kind(kind)
    cls = SpatialTeacherNet if kind == "spatial" else TemporalTeacherNet
    return cls(tuple(widths)) if widths else cls()


def teacher_multiple(widths: tuple[int, ...]) -> int:
    """Input sides must be multiples of this (one halving per level below the first)."""
    return 2 ** (len(widths) - 1)


# --------------------------------------------------------------------------------------------------
# The common interface


class Teacher(ABC):
    """Frame (spatial) or frame pair (temporal) in, saliency map in [0, 1] out."""

    kind: str

    @abstractmethod
    def predict(self, batch: dict) -> torch.Tensor:
        """batch: a collated dataset batch; returns N x 1 x h x w maps in [0, 1] (h x w: the teacher's own)."""

    def describe(self) -> str:
        return f"{type(self).__name__}({self.kind})"


class BuiltinTeacher(Teacher):
    """One of our teacher networks (trained by the ``teachers`` stage)."""

    def __init__(self, net: nn.Module, device: torch.device | str = "cpu"):
        self.net = net.to(device).eval()
        self.kind = net.kind
        self.device = torch.device(device)

    @torch.inference_mode()
    def predict(self, batch: dict) -> torch.Tensor:
        previous = batch["previous_hr"].to(self.device)
        current = batch["current_hr"].to(self.device)
        return self.net(previous, current).float().cpu()

    def describe(self) -> str:
        params = sum(p.numel() for p in self.net.parameters())
        return f"built-in {self.kind} teacher ({type(self.net).__name__}, {params / 1e6:.2f} M parameters)"


class _ExternalModelTeacher(Teacher):
    """Shared input handling of TorchScript and ONNX teachers."""

    def __init__(self, path: str | Path, kind: str, normalization: str, resolution: int | None):
        self.path = Path(path)
        self.kind = _check_kind(kind)
        if normalization not in NORMALIZATIONS:
            raise TeacherError(f"teacher normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        self.normalization = normalization
        self.resolution = resolution
        if not self.path.is_file():
            raise TeacherError(f"{kind} teacher model {self.path} does not exist")

    def _inputs(self, batch: dict, n_inputs: int) -> list[torch.Tensor]:
        previous, current = batch["previous_hr"].float(), batch["current_hr"].float()
        if self.resolution and current.shape[-1] != self.resolution:
            size = (self.resolution, self.resolution)
            previous = F.interpolate(previous, size=size, mode="bilinear", align_corners=False)
            current = F.interpolate(current, size=size, mode="bilinear", align_corners=False)
        if self.normalization == "unit":
            mean = torch.as_tensor(MEAN_RGB).view(1, 3, 1, 1)
            std = torch.as_tensor(STD_RGB).view(1, 3, 1, 1)
            previous, current = previous * std + mean, current * std + mean
        if n_inputs == 2:
            return [previous, current]
        if n_inputs == 1:
            return [current] if self.kind == "spatial" else [torch.cat([previous, current], dim=1)]
        raise TeacherError(f"{self.path}: a teacher model must take 1 or 2 inputs, this one takes {n_inputs}")

    def describe(self) -> str:
        return f"{self.kind} teacher {self.path} ({type(self).__name__}, input {self.normalization})"


class TorchScriptTeacher(_ExternalModelTeacher):
    def __init__(self, path, kind, normalization="imagenet", resolution=None, device="cpu"):
        super().__init__(path, kind, normalization, resolution)
        self.device = torch.device(device)
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13 but is the format users have
                warnings.simplefilter("ignore", DeprecationWarning)
                self.module = torch.jit.load(str(self.path), map_location=self.device).eval()
        except (RuntimeError, ValueError, OSError) as exc:
            raise TeacherError(f"{self.path} is not a loadable TorchScript model: {exc}") from exc
        try:
            self.n_inputs = len(self.module.forward.schema.arguments) - 1  # minus self
        except (AttributeError, RuntimeError) as exc:
            raise TeacherError(f"{self.path}: cannot read the TorchScript model's forward signature: {exc}") from exc

    @torch.inference_mode()
    def predict(self, batch: dict) -> torch.Tensor:
        inputs = [x.to(self.device) for x in self._inputs(batch, self.n_inputs)]
        try:
            output = self.module(*inputs)
        except RuntimeError as exc:
            shapes = [tuple(x.shape) for x in inputs]
            raise TeacherError(f"TorchScript teacher {self.path} failed on inputs {shapes}: {exc}") from exc
        return minmax_per_map(as_maps(output.cpu(), inputs[0].shape[0], f"TorchScript teacher {self.path}"))


def onnx_teacher_providers(device: torch.device | str, available: list[str]) -> list[str]:
    """ONNX Runtime providers for a teacher on ``device``: CUDA (then CPU) when the run is on a GPU and this
    onnxruntime build has the CUDA provider (``pip install .[gpu]``: onnxruntime-gpu), else the CPU."""
    if torch.device(device).type == "cuda" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class ONNXTeacher(_ExternalModelTeacher):
    """device: the run's device; a CUDA device runs the model on ONNX Runtime's CUDA provider when the
    installed build has it (``onnx_teacher_providers``). The provider used is logged."""

    def __init__(self, path, kind, normalization="imagenet", resolution=None, device="cpu"):
        super().__init__(path, kind, normalization, resolution)
        import onnxruntime as ort  # imported here: only ONNX teachers need it

        available = ort.get_available_providers()
        providers = onnx_teacher_providers(device, available)
        if torch.device(device).type == "cuda" and providers[0] != "CUDAExecutionProvider":
            log.warning(
                "ONNX teacher %s: the run is on %s but this onnxruntime has no CUDAExecutionProvider (it has %s); "
                "running on the CPU. pip install .[gpu] installs onnxruntime-gpu",
                self.path,
                device,
                ", ".join(available),
            )
        try:
            self.session = ort.InferenceSession(str(self.path), providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise TeacherError(f"{self.path} is not a loadable ONNX model: {exc}") from exc
        self.provider = self.session.get_providers()[0]
        log.info("ONNX teacher %s runs on %s", self.path, self.provider)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.n_inputs = len(self.input_names)

    def predict(self, batch: dict) -> torch.Tensor:
        inputs = self._inputs(batch, self.n_inputs)
        feed = {name: x.numpy().astype(np.float32) for name, x in zip(self.input_names, inputs, strict=True)}
        try:
            output = self.session.run(None, feed)[0]
        except Exception as exc:
            shapes = [tuple(x.shape) for x in inputs]
            raise TeacherError(f"ONNX teacher {self.path} failed on inputs {shapes}: {exc}") from exc
        return minmax_per_map(as_maps(torch.from_numpy(output), inputs[0].shape[0], f"ONNX teacher {self.path}"))


def _frame_key(stem: str):
    return int(stem) if stem.isdigit() else stem


class PrecomputedTeacher(Teacher):
    """Maps computed elsewhere: ``<folder>/<video>/<frame>.<png|jpg|npy>``."""

    def __init__(self, folder: str | Path, kind: str):
        self.folder = Path(folder)
        self.kind = _check_kind(kind)
        if not self.folder.is_dir():
            raise TeacherError(f"precomputed {kind} teacher maps folder {self.folder} does not exist")
        self._index: dict[str, dict] = {}

    def _video_index(self, video: str) -> dict:
        if video not in self._index:
            directory = self.folder / video
            if not directory.is_dir():
                raise TeacherError(f"precomputed teacher maps: no folder {directory} for video {video!r}")
            self._index[video] = {
                _frame_key(p.stem): p for p in sorted(directory.iterdir()) if p.suffix.lower() in MAP_SUFFIXES
            }
        return self._index[video]

    def lookup(self, video: str, frame) -> Path:
        index = self._video_index(str(video))
        key = _frame_key(str(frame.item() if torch.is_tensor(frame) else frame))
        if key not in index:
            raise TeacherError(
                f"precomputed teacher maps: no map for frame {frame} of video {video!r} in {self.folder / str(video)}"
                f" (expected e.g. {key}.png)"
            )
        return index[key]

    @staticmethod
    def read_map(path: Path) -> np.ndarray:
        if path.suffix.lower() == ".npy":
            data = np.load(path)
        else:
            data = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
        if data is None or data.ndim != 2 or data.size == 0:
            raise TeacherError(f"precomputed teacher map {path} is not a readable single-channel map")
        return data.astype(np.float32)

    def predict(self, batch: dict) -> torch.Tensor:
        size = tuple(batch["current_hr"].shape[-2:])
        maps = []
        for video, frame in zip(batch["video"], batch["frame"], strict=True):
            data = self.read_map(self.lookup(video, frame))
            maps.append(cv2.resize(data, size[::-1], interpolation=cv2.INTER_AREA))
        return minmax_per_map(torch.from_numpy(np.stack(maps))[:, None])

    def describe(self) -> str:
        return f"precomputed {self.kind} teacher maps in {self.folder}"


def soft_labels(teacher: Teacher, batch: dict, resolution: int) -> torch.Tensor:
    """Teacher maps at the teacher's resolution, degraded to the student's (area averaging, the same
    resolution reduction as the frames): N x 1 x R x R in [0, 1]."""
    maps = teacher.predict(batch)
    if maps.shape[-1] != resolution or maps.shape[-2] != resolution:
        maps = F.interpolate(maps, size=(resolution, resolution), mode="area")
    return maps.clamp(0.0, 1.0)


# --------------------------------------------------------------------------------------------------
# Real human fixations on still images (MIT1003) for pretraining the spatial teacher


def pair_stimuli_with_maps(image_dir: Path, map_dir: Path) -> list[tuple[Path, Path]]:
    if not image_dir.is_dir():
        raise FileNotFoundError(f"stimulus folder {image_dir} does not exist")
    if not map_dir.is_dir():
        raise FileNotFoundError(f"fixation-map folder {map_dir} does not exist")
    maps = {p.stem: p for p in map_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    pairs = []
    for image in sorted(image_dir.iterdir()):
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        stem = re.sub(r"_fixMap$", "", image.stem)
        match = maps.get(stem) or maps.get(f"{stem}_fixMap")
        if match is not None:
            pairs.append((image, match))
    if not pairs:
        raise FileNotFoundError(f"no image in {image_dir} has a fixation map of the same name in {map_dir}")
    return pairs


class StillSaliencyDataset(Dataset):
    """Still images with human fixation density maps (e.g. MIT1003 ``stimuli/`` + ``fixation_maps/``),
    as teacher-resolution items with the same keys as the video datasets (the frame is paired with
    itself: a still image has no motion).

    With ``augment``, each item is a random crop of 60-100 % of the image side (any aspect) and a
    random horizontal flip, drawn from torch's global generator (the training engine seeds it per
    epoch, so runs are reproducible)."""

    def __init__(
        self,
        image_dir: str | Path,
        map_dir: str | Path,
        resolution: int,
        augment: bool = True,
        indices: list[int] | None = None,
    ):
        check_resolution(resolution)
        self.pairs = pair_stimuli_with_maps(Path(image_dir), Path(map_dir))
        if indices is not None:
            self.pairs = [self.pairs[i] for i in indices]
        self.resolution = resolution
        self.augment = augment

    def __len__(self) -> int:
        return len(self.pairs)

    def _crop(self, height: int, width: int) -> tuple[int, int, int, int]:
        if not self.augment:
            return 0, 0, height, width
        scale_h, scale_w = (0.6 + 0.4 * torch.rand(2)).tolist()
        crop_h, crop_w = max(8, int(height * scale_h)), max(8, int(width * scale_w))
        top = int(torch.randint(0, height - crop_h + 1, ()).item())
        left = int(torch.randint(0, width - crop_w + 1, ()).item())
        return top, left, crop_h, crop_w

    def __getitem__(self, index: int) -> dict:
        image_path, map_path = self.pairs[index]
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        density = cv2.imread(str(map_path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise OSError(f"cannot read image {image_path}")
        if density is None:
            raise OSError(f"cannot read fixation map {map_path}")
        if density.shape != image.shape[:2]:
            density = cv2.resize(density, image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        top, left, crop_h, crop_w = self._crop(*image.shape[:2])
        image = image[top : top + crop_h, left : left + crop_w]
        density = density[top : top + crop_h, left : left + crop_w]
        if self.augment and bool(torch.rand(()) < 0.5):
            image, density = image[:, ::-1], density[:, ::-1]
        frame = torch.from_numpy(preprocess(np.ascontiguousarray(image), self.resolution))
        side = (self.resolution, self.resolution)
        density = cv2.resize(density.astype(np.float32), side, interpolation=cv2.INTER_AREA)
        density /= max(float(density.max()), 1e-6)
        density_t = torch.from_numpy(density)[None]
        return {
            "previous_hr": frame,
            "current_hr": frame,
            "density_hr": density_t,
            "has_density": True,
            "video": image_path.stem,
            "frame": 0,
        }
