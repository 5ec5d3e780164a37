"""The SKD networks: spatial/temporal students and the fused spatiotemporal model.

Architecture (Li, Fu, Zhao, Ge, "Spatiotemporal Knowledge Distillation for Efficient Estimation of
Aerial Video Saliency", Sec. III and Fig. 4):

* **Stream** — the first eight layers of a student: 3x3 convolutions with ReLU, max pooling at layers
  3 and 5 (so features come out at 1/4 of the input size)::

      1 conv3x3(in, c1)   2 conv3x3(c1, c1)   3 maxpool/2
      4 conv3x3(c1, c2)   5 maxpool/2
      6 conv3x3(c2, c3)   7 conv3x3(c3, c3)   8 conv3x3(c3, c3)

  The spatial stream sees the current frame (3 channels); the temporal stream sees the previous and
  current frames concatenated on the channel axis (6 channels, previous first).

* **Head** — the students' last layers: layer 9 a 1x1 reduction, two 3x3 convolutions for high-level
  cues, then two stride-2 transposed convolutions back to the input resolution, and a sigmoid.

* **Fused model** — both streams, their features concatenated (2*c3 channels) into a head of the same
  shape as the students'.

Widths (c1, c2, c3, head) = (16, 32, 64, 64). Why these:

* Parameters. The paper reports 0.30 M parameters for the fused model; these widths give 0.315 M
  (200 k in the two streams, 115 k in the head; see ``count_parameters``), 5 % over, inside the
  +-15 % the project allows. Each student (one stream + head) has 0.21 M.
* Speed. Almost all parameters sit at 1/4 resolution (layers 6-8 and the head), where each weight
  costs 16x fewer multiply-adds than at full resolution; the full-resolution layers are only 16 wide.
  That keeps a 64x64 forward pass around 0.1 GMAC, in line with the paper's 2.4 ms on one CPU core.
* Small targets. Aerial targets are a few pixels wide at 64x64, so the receptive field grows slowly:
  only two poolings and 3x3 kernels throughout, as the paper argues.

``Widths.context_dilation`` 2 (not the paper's: its default 1 is) dilates layers 7, 8, 10 and 11, the 3x3
convolutions at 1/4 resolution after the first, for the same parameters and multiply-adds: a cell's map value
then depends on a window of 85 x 85 input cells instead of 53 x 53 (at 96x96 input 0.89 of the frame's side
instead of 0.55; at 64x64, 0.83 already).

Any input whose side is a multiple of 4 works (two poolings, two x2 upsamplings); height and width
need not be equal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

SPATIAL_CHANNELS = 3
TEMPORAL_CHANNELS = 6


@dataclass(frozen=True)
class Widths:
    """Channel widths of a stream (c1, c2, c3) and of the head, and the dilation of layers 7, 8, 10 and 11
    (``context_dilation``, 1: the paper's; see the module docstring)."""

    c1: int = 16
    c2: int = 32
    c3: int = 64
    head: int = 64
    context_dilation: int = 1

    def __post_init__(self):
        if self.context_dilation < 1:
            raise ValueError(f"context_dilation must be >= 1, got {self.context_dilation}")

    def as_dict(self) -> dict:
        return asdict(self)


def _conv(in_ch: int, out_ch: int, kernel: int = 3, dilation: int = 1) -> list[nn.Module]:
    convolution = nn.Conv2d(in_ch, out_ch, kernel, padding=dilation * (kernel // 2), dilation=dilation)
    return [convolution, nn.ReLU(inplace=True)]


class Stream(nn.Sequential):
    """The first eight layers of a student (feature extractor at 1/4 resolution)."""

    def __init__(self, in_channels: int, widths: Widths = Widths()):
        c1, c2, c3, d = widths.c1, widths.c2, widths.c3, widths.context_dilation
        super().__init__(
            *_conv(in_channels, c1),  # 1
            *_conv(c1, c1),  # 2
            nn.MaxPool2d(2),  # 3
            *_conv(c1, c2),  # 4
            nn.MaxPool2d(2),  # 5
            *_conv(c2, c3),  # 6
            *_conv(c3, c3, dilation=d),  # 7
            *_conv(c3, c3, dilation=d),  # 8
        )
        self.in_channels = in_channels
        self.out_channels = c3


class Head(nn.Sequential):
    """Layers 9-13: 1x1 reduction, two 3x3 convolutions, two x2 transposed convolutions, sigmoid."""

    def __init__(self, in_channels: int, widths: Widths = Widths()):
        h, d = widths.head, widths.context_dilation
        super().__init__(
            *_conv(in_channels, h, kernel=1),  # 9
            *_conv(h, h, dilation=d),  # 10
            *_conv(h, h, dilation=d),  # 11
            nn.ConvTranspose2d(h, h // 2, 4, stride=2, padding=1),  # 12
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(h // 2, 1, 4, stride=2, padding=1),  # 13
            nn.Sigmoid(),
        )


def _check_input(x: torch.Tensor, channels: int, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must be N x {channels} x H x W, got {tuple(x.shape)}")
    if x.shape[2] % 4 or x.shape[3] % 4:
        raise ValueError(f"{name}: height and width must be multiples of 4, got {tuple(x.shape[2:])}")


class Student(nn.Module):
    """A spatial (3-channel input) or temporal (6-channel input) student: Stream + Head."""

    def __init__(self, kind: str, widths: Widths = Widths()):
        super().__init__()
        if kind not in ("spatial", "temporal"):
            raise ValueError(f"student kind must be 'spatial' or 'temporal', got {kind!r}")
        self.kind = kind
        self.widths = widths
        in_ch = SPATIAL_CHANNELS if kind == "spatial" else TEMPORAL_CHANNELS
        self.stream = Stream(in_ch, widths)
        self.head = Head(self.stream.out_channels, widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x 3 x H x W (spatial) or N x 6 x H x W (previous, current); returns N x 1 x H x W."""
        _check_input(x, self.stream.in_channels, f"{self.kind} student input")
        return self.head(self.stream(x))


class SKDModel(nn.Module):
    """The fused two-stream spatiotemporal model (the paper's M_ST)."""

    def __init__(self, widths: Widths = Widths()):
        super().__init__()
        self.widths = widths
        self.spatial = Stream(SPATIAL_CHANNELS, widths)
        self.temporal = Stream(TEMPORAL_CHANNELS, widths)
        self.head = Head(self.spatial.out_channels + self.temporal.out_channels, widths)

    def forward(self, previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """previous, current: N x 3 x H x W normalised frames; returns the current frame's saliency
        as N x 1 x H x W in [0, 1]."""
        _check_input(current, SPATIAL_CHANNELS, "current frame")
        _check_input(previous, SPATIAL_CHANNELS, "previous frame")
        pair = torch.cat([previous, current], dim=1)
        features = torch.cat([self.spatial(current), self.temporal(pair)], dim=1)
        return self.head(features)

    def init_from_students(self, spatial: Student, temporal: Student, generator=None, std: float | None = 0.02) -> None:
        """Step 2 initialisation: streams copied from the students' first eight layers, the fusion
        head drawn from a truncated normal (cut at 2 std) with zero biases. std: the weights' standard
        deviation, or None for sqrt(2 / fan_in) per layer (He scaling: keeps the signal's size through
        the head's five layers, where a small fixed std leaves the output nearly constant)."""
        if spatial.kind != "spatial" or temporal.kind != "temporal":
            raise ValueError("init_from_students needs a spatial and a temporal student, in that order")
        if spatial.widths != self.widths or temporal.widths != self.widths:
            raise ValueError(f"student widths {spatial.widths}/{temporal.widths} differ from {self.widths}")
        self.spatial.load_state_dict(spatial.stream.state_dict())
        self.temporal.load_state_dict(temporal.stream.state_dict())
        for module in self.head.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                # inputs feeding one output pixel (a stride-s transposed convolution uses 1/s^2 of its kernel)
                fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
                fan_in //= module.stride[0] * module.stride[1] if isinstance(module, nn.ConvTranspose2d) else 1
                sigma = std if std is not None else (2.0 / fan_in) ** 0.5
                nn.init.trunc_normal_(module.weight, std=sigma, a=-2 * sigma, b=2 * sigma, generator=generator)
                nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
