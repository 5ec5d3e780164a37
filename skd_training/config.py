"""The configuration of a training run: what ``skd-train`` reads from YAML, checked before anything runs.

``load_config(path_or_name, overrides)`` reads a YAML file or a bundled config (``skd_training/configs``:
``tiny``, ``default``, ``paper``), applies ``key.sub=value`` overrides and returns a validated ``PipelineConfig``.
Every section is a dataclass that refuses unknown keys and invalid values with a ``ConfigError`` naming
the key, so a typo fails at once rather than hours into a run. The pipeline (``skd_training.pipeline``)
runs what a configuration describes.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from skd_ros.core.model import Widths
from skd_ros.core.preprocess import check_resolution
from skd_training.losses import MapLoss, check_lambda
from skd_training.teachers import KINDS, NORMALIZATIONS

ABLATIONS = ("none", "S", "T", "O")
TEACHER_TYPES = ("builtin", "torchscript", "onnx", "precomputed")
SELECT = ("cc", "nss", "l2")


class ConfigError(ValueError):
    """The training configuration is invalid; the message names the key."""


def _from_dict(cls, data, where: str):
    """Build dataclass ``cls`` from a mapping, refusing unknown keys (typos must not pass silently)."""
    if data is None:
        return cls()
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown key {where}.{unknown[0]} (known: {', '.join(sorted(known))})")
    kwargs = {}
    for name, value in data.items():
        nested = getattr(cls, "_nested", {}).get(name)
        if nested is not None and isinstance(nested, list):
            if value is None:
                value = []
            if not isinstance(value, list):
                raise ConfigError(f"{where}.{name} must be a list")
            value = [_from_dict(nested[0], v, f"{where}.{name}[{i}]") for i, v in enumerate(value)]
        elif nested is not None:
            value = (
                None
                if value is None and name in getattr(cls, "_optional", ())
                else _from_dict(nested, value, f"{where}.{name}")
            )
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


@dataclass
class LossConfig:
    """Per-target criterion weights (``skd_training.losses.MapLoss``): the paper uses l2 alone."""

    l2: float = 1.0
    kld: float = 0.0
    cc: float = 0.0

    def criterion(self) -> MapLoss:
        return MapLoss(l2_weight=self.l2, kld_weight=self.kld, cc_weight=self.cc)


@dataclass
class SourceConfig:
    """One dataset (``skd_training.data``): a folder/file, its layout, which split, every n-th frame.
    optional: skip it with a warning when ``path`` does not exist (for data that only some machines have)."""

    path: str = ""
    layout: str = "auto"
    split: str | None = None
    frame_step: int = 1
    topic: str | None = None
    videos: list[str] | None = None
    optional: bool = False

    def __post_init__(self):
        if not self.path:
            raise ValueError("a data source needs a path")
        if self.frame_step < 1:
            raise ValueError(f"frame_step must be >= 1, got {self.frame_step}")


@dataclass
class StillImagesConfig:
    """Still images with human fixation maps (MIT1003 layout: ``images``/<name>.jpg, ``maps``/<name>.jpg)."""

    images: str = ""
    maps: str = ""
    optional: bool = False


@dataclass
class DataConfig:
    """train: annotated (or unannotated) training sources; val: annotated validation sources (best
    checkpoint, metrics); unlabeled: sources used only through their soft labels (Step 1)."""

    train: list[SourceConfig] = field(default_factory=list)
    val: list[SourceConfig] = field(default_factory=list)
    unlabeled: list[SourceConfig] = field(default_factory=list)
    cache_dir: str | None = None
    _nested = {"train": [SourceConfig], "val": [SourceConfig], "unlabeled": [SourceConfig]}


@dataclass
class PretrainConfig:
    """Spatial-teacher pretraining on still images with real human fixations."""

    data: StillImagesConfig = field(default_factory=StillImagesConfig)
    epochs: int = 10
    lr: float = 3e-4
    batch_size: int = 8
    val_fraction: float = 0.1
    _nested = {"data": StillImagesConfig}


@dataclass
class TeacherConfig:
    """type: builtin (trained here), torchscript / onnx (a model file), precomputed (a folder of maps).
    frame_step: a built-in teacher trains on every n-th annotated training frame (a teacher step costs
    many student steps; neighbouring video frames are nearly alike)."""

    type: str = "builtin"
    path: str | None = None
    normalization: str = "imagenet"
    widths: list[int] | None = None
    frame_step: int = 1
    epochs: int = 4
    lr: float = 3e-4
    batch_size: int = 8
    loss: LossConfig = field(default_factory=LossConfig)
    pretrain: PretrainConfig | None = None
    _nested = {"loss": LossConfig, "pretrain": PretrainConfig}
    _optional = ("pretrain",)

    def __post_init__(self):
        if self.type not in TEACHER_TYPES:
            raise ValueError(f"teacher type must be one of {TEACHER_TYPES}, got {self.type!r}")
        if self.type != "builtin" and not self.path:
            raise ValueError(f"a {self.type} teacher needs a path")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.frame_step < 1:
            raise ValueError(f"frame_step must be >= 1, got {self.frame_step}")


@dataclass
class TeachersConfig:
    spatial: TeacherConfig = field(default_factory=TeacherConfig)
    temporal: TeacherConfig = field(default_factory=TeacherConfig)
    _nested = {"spatial": TeacherConfig, "temporal": TeacherConfig}


@dataclass
class StudentsConfig:
    """Step 1: lam weighs the soft (teacher) loss against the hard (ground truth) loss."""

    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 16
    lam: float = 0.5
    loss: LossConfig = field(default_factory=LossConfig)
    _nested = {"loss": LossConfig}

    def __post_init__(self):
        check_lambda(self.lam)


@dataclass
class FuseConfig:
    """Step 2 (and Ablation-O): the fused model on the hard loss (the paper's Step 2, lam = 0).

    head_std: the fusion head's truncated-normal standard deviation; null (default) scales it per layer
    as sqrt(2 / fan_in). A small fixed value (0.02) leaves the five-layer head's output almost constant
    (a contrast of 0.002 after Step 2 in our runs), which CC and NSS do not see but the node's ROIs do.

    lam > 0 goes beyond the paper: Step 2 also learns from the ``soft_from`` teacher's soft labels
    ('spatial', 'temporal' or 'both': the mean of the two maps), as the students do (same lam mix), and
    so also from ``data.unlabeled`` video. Ablation-O has no
    teachers and always uses the hard loss alone."""

    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 16
    lam: float = 0.0
    soft_from: str = "temporal"
    head_std: float | None = None
    loss: LossConfig = field(default_factory=LossConfig)
    _nested = {"loss": LossConfig}

    def __post_init__(self):
        check_lambda(self.lam)
        if self.head_std is not None and self.head_std <= 0:
            raise ValueError(f"fuse.head_std must be positive or null, got {self.head_std}")
        if self.soft_from not in (*KINDS, "both"):
            raise ValueError(f"fuse.soft_from must be one of {(*KINDS, 'both')}, got {self.soft_from!r}")


@dataclass
class PipelineConfig:
    name: str = "skd"
    run_dir: str = "runs/skd"
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    progress: bool = True
    resolution: int = 64
    teacher_resolution: int = 128
    widths: dict = field(default_factory=lambda: Widths().as_dict())
    ablation: str = "none"
    select_metric: str = "cc"
    data: DataConfig = field(default_factory=DataConfig)
    teachers: TeachersConfig = field(default_factory=TeachersConfig)
    students: StudentsConfig = field(default_factory=StudentsConfig)
    fuse: FuseConfig = field(default_factory=FuseConfig)
    _nested = {"data": DataConfig, "teachers": TeachersConfig, "students": StudentsConfig, "fuse": FuseConfig}

    def __post_init__(self):
        check_resolution(self.resolution)
        check_resolution(self.teacher_resolution)
        if self.ablation not in ABLATIONS:
            raise ValueError(f"ablation must be one of {ABLATIONS}, got {self.ablation!r}")
        if self.select_metric not in SELECT:
            raise ValueError(f"select_metric must be one of {SELECT}, got {self.select_metric!r}")
        soft_labels = self.ablation != "O" and max(self.students.lam, self.fuse.lam) > 0
        if soft_labels and self.resolution > self.teacher_resolution:
            raise ValueError(
                f"resolution {self.resolution} is above teacher_resolution {self.teacher_resolution}: the students "
                "would learn from teacher maps upsampled to their resolution, not degraded to it (paper Sec. III-B); "
                f"set teacher_resolution >= {self.resolution}"
            )
        try:
            Widths(**self.widths)
        except TypeError as exc:
            raise ValueError(f"widths must have the keys c1, c2, c3, head: {exc}") from exc

    @property
    def model_widths(self) -> Widths:
        return Widths(**self.widths)

    def to_dict(self) -> dict:
        return asdict(self)

    def kinds(self) -> tuple[str, ...]:
        """The teacher/student kinds this configuration uses."""
        return {"none": KINDS, "S": ("spatial",), "T": ("temporal",), "O": ()}[self.ablation]


def config_from_dict(data: dict) -> PipelineConfig:
    return _from_dict(PipelineConfig, data, "config")


def bundled_config_names() -> list[str]:
    folder = resources.files("skd_training") / "configs"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_config_file(path_or_name: str | Path) -> dict:
    """A YAML file, or the name of a bundled config (``tiny``, ``default``)."""
    path = Path(path_or_name)
    if not path.is_file():
        bundled = resources.files("skd_training") / "configs" / f"{path_or_name}.yaml"
        if not bundled.is_file():
            raise ConfigError(
                f"config {path_or_name} is neither a file nor a bundled config ({', '.join(bundled_config_names())})"
            )
        text = bundled.read_text()
    else:
        text = path.read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path_or_name} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path_or_name} must be a YAML mapping")
    return data


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """``key.sub=value`` overrides (value parsed as YAML; list items by index: ``data.train.0.path=...``)."""
    data = copy.deepcopy(data)
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} must look like key.sub=value")
        key, raw = override.split("=", 1)
        value = yaml.safe_load(raw) if raw else None
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[int(part)]
            else:
                node = node.setdefault(part, {})
                if node is None:
                    raise ConfigError(f"override {override!r}: {part} is empty in the config")
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


def load_config(path_or_name: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    return config_from_dict(apply_overrides(read_config_file(path_or_name), overrides or []))
