"""Saving and loading fused-model checkpoints, with clear errors for wrong or damaged files.

A checkpoint is a ``torch.save`` dict::

    {"format": "skd_ros.fused", "version": 1, "widths": {...}, "resolution": 64,
     "state_dict": {...}, "meta": {...}}

``meta`` is free-form provenance (training command, data, metrics), with keys the runtime reads:
``meta["pairs"]``, how the temporal stream was trained to see the previous frame ("aligned": with the camera's
motion taken out, ``skd_ros.core.registration``; absent or "raw": as it is, the paper's);
``meta["centre_prior"]``, a centred Gaussian the maps are multiplied by (``skd_ros.core.postprocess.CentrePrior``;
absent: none, the paper's); ``meta["pair_interval_s"]``, how far apart its training pairs' frames were
(``skd_ros.core.preprocess.FramePairBuffer``; absent: consecutive frames); and ``meta["input_resolution"]``, the
input side the runtime feeds it unless told another (``input_side``; absent: ``resolution``, the side it trained
at: the network is fully convolutional, and a side chosen on held-out footage can beat its own).
"""

from __future__ import annotations

import logging
import zipfile
import zlib
from importlib import resources
from pathlib import Path

import torch

from skd_ros.core.model import SKDModel, Widths
from skd_ros.core.postprocess import CentrePrior

FORMAT = "skd_ros.fused"
VERSION = 1
# the package ships two models (skd_ros/weights/README.md): by default one trained at 96x96 with dilated layers and
# run at 128x128, the better on real drone footage (docs/REAL_FOOTAGE.md), and 64x64 at a quarter of its
# multiply-adds, for several cameras in one node
DEFAULT_WEIGHTS = "skd_fused_96.pt"

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged or not a compatible SKD fused model."""


def save_fused(model: SKDModel, path: str | Path, resolution: int, meta: dict | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "widths": model.widths.as_dict(),
        "resolution": int(resolution),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a crash mid-save never leaves a half-written checkpoint behind


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict safely (tensors and plain data only), naming the problem on failure."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    damage = _damaged_record(path)
    if damage:
        raise CheckpointError(f"checkpoint {path} is damaged: {damage}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the (safe) unpickler raises whatever the bytes lead it to: IndexError, UnicodeError...
        raise CheckpointError(f"checkpoint {path} is damaged or not a PyTorch file: {_load_failure(exc)}") from exc


def _damaged_record(path: Path) -> str | None:
    """The first record of a zip checkpoint (what ``torch.save`` writes) whose bytes do not match the CRC-32
    stored with it, or None. ``torch.load`` does not check them: a flipped bit in a weight would load as a
    wrong weight without a word. Files that are no zip are left to ``torch.load`` to judge."""
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            for record in archive.infolist():
                if record.CRC == 0:  # written without a checksum (torch.serialization.set_crc32_options(False))
                    continue
                with archive.open(record) as data:  # zipfile compares the CRC-32 once the record is read
                    while data.read(1 << 20):
                        pass
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        return str(exc)
    return None


def _load_failure(exc: Exception) -> str:
    """torch.load's reason without its advice: for a safe load it suggests ``weights_only=False``, which
    is wrong for a damaged file and unsafe for a foreign one."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        reason = text.split(marker, 1)[1].strip().splitlines()
        return reason[0] if reason else "unreadable pickle"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def load_fused(path: str | Path) -> tuple[SKDModel, int, dict]:
    """Return (model in eval mode, its training resolution, meta) from a fused-model checkpoint."""
    payload = read_checkpoint(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path} is not an SKD fused-model checkpoint (format {found!r}, expected {FORMAT!r})")
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {payload.get('version')} is not supported (expected {VERSION})"
        )
    try:
        widths = Widths(**payload["widths"])
        model = SKDModel(widths)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the SKD fused model: {exc}") from exc
    try:
        resolution, meta = int(payload["resolution"]), dict(payload.get("meta", {}))
        CentrePrior.of(meta)  # a damaged prior fails here, naming the file, not at the first frame
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the resolution or meta of the checkpoint is unreadable: {exc!r}") from exc
    model.eval()
    return model, resolution, meta


def shipped_weights(name: str = DEFAULT_WEIGHTS) -> Path | None:
    """The file ``name`` among the weights shipped with the package, or None if this build has none."""
    path = Path(str(resources.files("skd_ros") / "weights" / name))
    return path if path.is_file() else None


def default_weights_path() -> Path | None:
    """The default weights shipped with the package, or None if this build has none."""
    return shipped_weights(DEFAULT_WEIGHTS)


def resolve_weights(path: str | Path) -> Path:
    """``path`` as given, or, for a bare file name that is not in the working directory, the shipped file of
    that name (``weights:=skd_fused_64.pt`` picks the shipped 64x64 model wherever the package is installed)."""
    path = Path(path)
    if not path.exists() and path.name == str(path):
        return shipped_weights(path.name) or path
    return path


def input_side(resolution: int, meta: dict) -> int:
    """The input side the runtime runs a checkpoint at by default: ``meta["input_resolution"]`` where it names one,
    else ``resolution``, the side it trained at."""
    return int(meta.get("input_resolution") or resolution)


def load_default_or(path: str | Path | None, resolution: int = 64) -> tuple[SKDModel, int, dict]:
    """Load ``path`` (a shipped file's bare name too); with None, the shipped default weights; without shipped
    weights, an untrained model."""
    if path:
        return load_fused(resolve_weights(path))
    shipped = default_weights_path()
    if shipped is not None:
        return load_fused(shipped)
    log.warning("no trained weights are shipped with this build: using UNTRAINED weights (seed 0)")
    torch.manual_seed(0)
    return SKDModel().eval(), resolution, {"untrained": True}
