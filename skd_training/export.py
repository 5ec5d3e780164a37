"""Write deployable files of a trained model (a fused SKD model, or any ``forward(previous, current)``
saliency network such as a teacher) and check that each computes what the eager model computes.

The conversions themselves live in one place, ``skd_ros.export`` (shared with the inference backends):
TorchScript traced and frozen; ONNX opset 17 with inputs ``previous``/``current`` (N x 3 x R x R, batch
dynamic) and output ``saliency``, made with the TorchScript-based exporter (torch's dynamo exporter needs
``onnxscript``, which the project does not depend on). This module adds the checkpoint's resolution and
meta to the files (``skd_meta.json`` in the TorchScript archive, a metadata property in ONNX), the
verification, and the command line.

Every export is verified: the file is loaded back (``torch.jit.load`` / onnxruntime / ncnn) and run on a
random batch of two pairs; a maximum absolute difference above ``atol`` raises ``ExportError``.

ncnn (for ARM boards and phones; the ``ncnn`` inference backend runs the same conversion): graph
``*.ncnn.param``, fp32 weights ``*.ncnn.bin``, metadata ``*.ncnn.json``; blobs ``in0`` (previous),
``in1`` (current), ``out0`` (saliency), one C x R x R image each.

Command line: ``skd-export CHECKPOINT [--format torchscript onnx ncnn] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from skd_ros import export as runtime_export
from skd_ros.checkpoint import CheckpointError, load_fused
from skd_ros.export import INPUT_NAMES

FORMATS = ("torchscript", "onnx", "ncnn")
META_FILE = "skd_meta.json"
DEFAULT_ATOL = 1e-4


class ExportError(RuntimeError):
    """An exported model is missing or does not reproduce the eager model's output."""


def _example_pair(resolution: int, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, 3, resolution, resolution, generator=generator) for _ in range(2))


def _meta_json(resolution: int, meta: dict | None) -> str:
    return json.dumps({"resolution": int(resolution), "meta": meta or {}}, default=str)


def export_torchscript(
    model: nn.Module, path: str | Path, resolution: int, meta: dict | None = None, atol: float = DEFAULT_ATOL
) -> Path:
    """Trace and freeze ``model`` at ``resolution`` (``skd_ros.export``), save it to ``path`` with the
    metadata; verified against eager."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13 but remains what C++ runtimes load
        warnings.simplefilter("ignore", DeprecationWarning)
        frozen = runtime_export.export_torchscript(model, resolution)
        torch.jit.save(frozen, str(path), _extra_files={META_FILE: _meta_json(resolution, meta)})
    verify_torchscript(model, path, resolution, atol)
    return path


def export_onnx(
    model: nn.Module, path: str | Path, resolution: int, meta: dict | None = None, atol: float = DEFAULT_ATOL
) -> Path:
    """Export ``model`` to ONNX (``skd_ros.export``: opset 17, dynamic batch), add the metadata, save it
    to ``path``; verified with onnxruntime."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the TorchScript-based ONNX exporter is deprecated, and the chosen path
        warnings.simplefilter("ignore", DeprecationWarning)
        proto = onnx.load_from_string(runtime_export.export_onnx(model, resolution))
    onnx.checker.check_model(proto)
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_FILE, _meta_json(resolution, meta)
    onnx.save(proto, str(path))
    verify_onnx(model, path, resolution, atol)
    return path


def export_ncnn(
    model: nn.Module, path: str | Path, resolution: int, meta: dict | None = None, atol: float = DEFAULT_ATOL
) -> Path:
    """Convert ``model`` to ncnn with pnnx (``skd_ros.export``): the graph to ``path`` (``*.ncnn.param``),
    the fp32 weights beside it (``*.ncnn.bin``) and the metadata in ``*.ncnn.json``; verified with ncnn."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="skd_ncnn_") as tmp:  # keeps pnnx's intermediate files out
        param, weights = runtime_export.export_ncnn(model, resolution, tmp)
        shutil.copyfile(param, path)
        shutil.copyfile(weights, ncnn_weights_path(path))
    path.with_suffix(".json").write_text(_meta_json(resolution, meta))
    verify_ncnn(model, path, resolution, atol)
    return path


def ncnn_weights_path(param: str | Path) -> Path:
    """The weights file that goes with an ncnn graph file: ``m.ncnn.param`` -> ``m.ncnn.bin``."""
    return Path(param).with_suffix(".bin")


def _eager(model: nn.Module, pair) -> np.ndarray:
    with torch.inference_mode():
        return model.cpu().eval()(*pair).float().numpy()


def _compare(expected: np.ndarray, got: np.ndarray, path: Path, atol: float) -> float:
    if expected.shape != got.shape:
        raise ExportError(f"{path}: output shape {got.shape} differs from the eager model's {expected.shape}")
    error = float(np.abs(expected - got).max())
    if not error <= atol:
        raise ExportError(f"{path}: output differs from the eager model by {error:.3g} (tolerance {atol:g})")
    return error


def verify_torchscript(model: nn.Module, path: str | Path, resolution: int, atol: float = DEFAULT_ATOL) -> float:
    """Largest absolute difference between ``model`` and the TorchScript file on a random batch of 2."""
    path = Path(path)
    pair = _example_pair(resolution, batch=2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path), map_location="cpu").eval()
    with torch.inference_mode():
        got = loaded(*pair).float().numpy()
    return _compare(_eager(model, pair), got, path, atol)


def verify_onnx(model: nn.Module, path: str | Path, resolution: int, atol: float = DEFAULT_ATOL) -> float:
    """Largest absolute difference between ``model`` and the ONNX file (onnxruntime, CPU) on a batch of 2."""
    import onnxruntime as ort

    path = Path(path)
    pair = _example_pair(resolution, batch=2, seed=1)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {name: x.numpy() for name, x in zip(INPUT_NAMES, pair, strict=True)})[0]
    return _compare(_eager(model, pair), got, path, atol)


def verify_ncnn(model: nn.Module, path: str | Path, resolution: int, atol: float = DEFAULT_ATOL) -> float:
    """Largest absolute difference between ``model`` and the ncnn files (graph ``path``, weights beside
    it) on a random batch of 2, run pair by pair."""
    from skd_ros.backends import load_ncnn, run_ncnn

    path = Path(path)
    pair = _example_pair(resolution, batch=2, seed=1)
    try:
        net = load_ncnn(path, ncnn_weights_path(path), threads=1)
    except RuntimeError as exc:
        raise ExportError(str(exc)) from exc
    got = run_ncnn(net, *(x.numpy() for x in pair))[:, None]
    return _compare(_eager(model, pair), got, path, atol)


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, formats=FORMATS) -> dict[str, Path]:
    """Export a fused-model checkpoint (skd_ros.checkpoint format) to the given formats."""
    model, resolution, meta = load_fused(checkpoint)
    out_dir = Path(out_dir)
    stem = Path(checkpoint).stem
    written = {}
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"export format must be one of {FORMATS}, got {fmt!r}")
        if fmt == "torchscript":
            written[fmt] = export_torchscript(model, out_dir / f"{stem}.torchscript.pt", resolution, meta)
        elif fmt == "ncnn":
            written[fmt] = export_ncnn(model, out_dir / f"{stem}.ncnn.param", resolution, meta)
        else:
            written[fmt] = export_onnx(model, out_dir / f"{stem}.onnx", resolution, meta)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="skd-export",
        description="Export a fused SKD checkpoint to TorchScript, ONNX and/or ncnn (each export is checked "
        "against the eager model).",
    )
    parser.add_argument("checkpoint", help="fused-model checkpoint (.pt), e.g. runs/default/final/skd_fused_64.pt")
    parser.add_argument("--format", nargs="+", choices=FORMATS, default=list(FORMATS), dest="formats")
    parser.add_argument("--out", default=None, help="output folder (default: the checkpoint's folder)")
    args = parser.parse_args(argv)
    out_dir = args.out or str(Path(args.checkpoint).parent)
    try:
        written = export_checkpoint(args.checkpoint, out_dir, args.formats)
    except (CheckpointError, ExportError) as exc:
        print(f"skd-export: {exc}", file=sys.stderr)
        return 2
    for fmt, path in written.items():
        print(f"{fmt}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
