"""Everything about model files: one implementation of every conversion (TorchScript, ONNX, int8 ONNX,
ncnn), loading ncnn files back, and writing deployable files that are checked against the eager model.

Any module with ``forward(previous, current)`` on N x 3 x R x R frames converts (the fused SKD model,
a teacher). The inference engines build from the in-memory conversions (``export_*``), and
``skd-export`` writes the same graphs to files (``save_*``, with the checkpoint's resolution and meta),
so an exported file runs exactly the graph the node runs.

* ONNX: opset 17, inputs ``previous`` and ``current`` (N x 3 x R x R, ImageNet-normalised RGB), output
  ``saliency`` (N x 1 x R x R in [0, 1]); the batch axis is dynamic, the resolution fixed (the model is
  trained at one resolution and a fixed size lets runtimes plan memory and pick kernels once). Exported
  with the TorchScript-based exporter: torch 2.13's default (dynamo) exporter needs ``onnxscript``, which
  this project does not depend on. A checkpoint trained on aligned pairs (``meta["pairs"]``, carried in
  every file's metadata) expects ``previous`` already warped onto ``current``: the graph holds the network
  only, the alignment is ``skd_ros.core.registration.align_previous``. Likewise a checkpoint's centre prior
  (``meta["centre_prior"]``) is the runtime's, applied to the graph's output
  (``skd_ros.core.postprocess.CentrePrior``).
* TorchScript: traced and frozen (weights folded into the graph), portable across machines;
  hardware-specific rewrites (``torch.jit.optimize_for_inference``) are left to load time. torch 2.13
  marks TorchScript deprecated in favour of torch.compile/torch.export, but it still runs, needs no
  compiler at load time and is the format C++/libtorch deployments load.
* ncnn: Tencent's inference engine for phones and embedded boards, converted by its own tool, pnnx, from
  the traced model; weights kept in fp32 (pnnx's default stores them in fp16). Input blobs ``in0``
  (previous) and ``in1`` (current), output ``out0``, each one C x R x R image (ncnn has no batch axis).
  Files: graph ``*.ncnn.param``, fp32 weights ``*.ncnn.bin``, metadata ``*.ncnn.json``.
* int8: ONNX Runtime static quantisation, QDQ format, per-channel int8 weights in a 7-bit range and
  uint8 activations, ranges calibrated on frame pairs. u8 x s8 is the pairing x86 CPUs run fastest; the
  7-bit weights (``reduce_range``) keep it right on CPUs without VNNI (AVX2 only), whose u8 x s8 kernels
  add pairs of products in 16 bits and overflow with full-range weights (the shipped model's maps were
  off by up to 0.50, correlation 0.88, under an emulated Haswell; 0.040 and 0.9994 with 7-bit weights;
  docs/BENCHMARKS.md, "int8 on CPUs without VNNI").

Every saved file is verified: it is loaded back (``torch.jit.load`` / onnxruntime / ncnn) and run on a
random batch of two pairs; a maximum absolute difference above ``atol`` raises ``ExportError``.

Command line: ``skd-export CHECKPOINT [--format torchscript onnx ncnn] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from skd_ros.core.checkpoint import CheckpointError, input_side, load_fused
from skd_ros.core.preprocess import check_resolution

INPUT_NAMES = ("previous", "current")
FORMATS = ("torchscript", "onnx", "ncnn")
META_FILE = "skd_meta.json"  # the checkpoint's resolution and meta inside an exported file
DEFAULT_ATOL = 1e-4
OUTPUT_NAME = "saliency"
INT8_WEIGHTS = ("s7", "s8", "u8")
ONNX_OPSET = 17

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Silence the known, expected warnings of tracing and exporting: tracing turns SKDModel's
    input-shape checks into constants (the backends check shapes themselves), and torch 2.13 marks
    TorchScript and the TorchScript-based ONNX exporter deprecated (both still work; see the module
    docstring for why they are used)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.(jit|onnx)")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        yield


@contextlib.contextmanager
def without_tf32() -> Iterator[None]:
    """cuDNN convolutions in IEEE fp32: PyTorch lets cuDNN round their inputs to TF32 (10-bit mantissa)
    by default, which moved the shipped model's maps by up to 4.5e-4 on an H200. The flag is
    process-wide, so it is cleared for the duration and put back. A trace records it as an argument of
    every convolution, so a traced model keeps the setting it was traced under wherever it runs later."""
    allowed = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = allowed


def example_inputs(resolution: int, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    check_resolution(resolution)
    generator = torch.Generator().manual_seed(0)
    shape = (batch, 3, resolution, resolution)
    return torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)


def export_onnx(model: nn.Module, resolution: int, path: str | Path | None = None) -> bytes:
    """The model as an ONNX graph (bytes); also written to ``path`` when given."""
    model = copy.deepcopy(model).cpu().float().eval()
    buffer = io.BytesIO()
    dynamic_batch = {name: {0: "batch"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    with quiet_tracing(), torch.no_grad():
        torch.onnx.export(
            model,
            example_inputs(resolution),
            buffer,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_batch,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    data = buffer.getvalue()
    if path is not None:
        _write_bytes(path, data)
    return data


def export_torchscript(
    model: nn.Module, resolution: int, path: str | Path | None = None, device: str | torch.device = "cpu"
) -> torch.jit.ScriptModule:
    """The model traced at ``resolution`` and frozen; saved with ``torch.jit.save`` when ``path`` is given.
    The trace holds for any batch size (every layer is a convolution, pooling or elementwise op)."""
    model = copy.deepcopy(model).to(device).eval()
    previous, current = (t.to(device) for t in example_inputs(resolution))
    with quiet_tracing(), without_tf32(), torch.no_grad():  # fp32 on a GPU too, wherever the file is loaded
        frozen = torch.jit.freeze(torch.jit.trace(model, (previous, current)))
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(frozen, str(path))
    return frozen


NCNN_INPUTS = ("in0", "in1")  # pnnx names a traced module's inputs in0, in1, ... in argument order
NCNN_OUTPUT = "out0"
PNNX_TIMEOUT_S = 300  # a conversion takes about a second; a hung converter must not hang a node's start-up


def export_ncnn(model: nn.Module, resolution: int, directory: str | Path) -> tuple[Path, Path]:
    """The model converted to ncnn by pnnx, written to ``directory`` as ``model.ncnn.param`` (the graph,
    text) and ``model.ncnn.bin`` (fp32 weights); returns both paths. Raises RuntimeError with pnnx's
    output when the conversion fails."""
    import pnnx

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).cpu().float().eval()
    traced_path = directory / "model.pt"
    with quiet_tracing(), torch.no_grad():
        torch.jit.trace(model, example_inputs(resolution)).save(str(traced_path))
    shape = f"[1,3,{resolution},{resolution}]f32"
    # pnnx writes its files (ncnn's and its own intermediate ones) next to the traced model
    command = [pnnx.EXEC_PATH, str(traced_path), f"inputshape={shape},{shape}", "fp16=0"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, cwd=directory, timeout=PNNX_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"pnnx did not finish converting the model to ncnn within {PNNX_TIMEOUT_S} s") from exc
    param, weights = directory / "model.ncnn.param", directory / "model.ncnn.bin"
    if result.returncode != 0 or not param.is_file() or not weights.is_file():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"pnnx failed to convert the model to ncnn (exit code {result.returncode}):\n{tail}")
    return param, weights


def quantize_onnx_int8(
    onnx_model: bytes,
    calibration: tuple[np.ndarray, np.ndarray],
    path: str | Path | None = None,
    batch: int = 8,
    weights: str = "s7",
) -> bytes:
    """Static int8 quantisation of an exported ONNX model (see the module docstring), with activation
    ranges calibrated (min/max) on ``calibration`` = (previous, current), each N x 3 x R x R.

    The output layer and the node feeding it (for SKD: the sigmoid and the last transposed convolution)
    stay in float: quantising the logits and the map to 256 levels cost about 0.05 NSS on the synthetic
    benchmark, and those two layers hold under 1 % of the multiply-adds.

    ``weights``: "s7" (signed, 7-bit range: right on every x86-64, the engines' choice), "s8" (signed, full
    range: overflows without VNNI) or "u8" (unsigned: right everywhere, but slow on VNNI CPUs) — the last two
    are kept to measure the choice (skd-bench, docs/BENCHMARKS.md)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if weights not in INT8_WEIGHTS:
        raise ValueError(f"int8 weights must be one of {', '.join(INT8_WEIGHTS)}, got {weights!r}")
    previous, current = calibration
    if previous.shape != current.shape or previous.ndim != 4 or len(previous) == 0:
        raise ValueError(f"calibration needs two equal N x 3 x R x R arrays, got {previous.shape} and {current.shape}")

    class PairReader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter(
                {INPUT_NAMES[0]: previous[i : i + batch], INPUT_NAMES[1]: current[i : i + batch]}
                for i in range(0, len(previous), batch)
            )

        def get_next(self):
            return next(self._batches, None)

    with tempfile.TemporaryDirectory(prefix="skd_int8_") as tmp:
        source, prepared, target = (Path(tmp) / name for name in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        source.write_bytes(onnx_model)
        quant_pre_process(str(source), str(prepared))  # shape inference and graph clean-up, as ORT recommends
        quantize_static(
            str(prepared),
            str(target),
            PairReader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QUInt8 if weights == "u8" else QuantType.QInt8,
            reduce_range=weights == "s7",  # no 16-bit overflow in the u8 x s8 kernels of CPUs without VNNI
            per_channel=True,
            nodes_to_exclude=output_layers(onnx_model),
        )
        data = target.read_bytes()
    if path is not None:
        _write_bytes(path, data)
    return data


def output_layers(onnx_model: bytes) -> list[str]:
    """Names of the node producing each graph output and of the node producing that node's first input."""
    import onnx

    graph = onnx.load_from_string(onnx_model).graph
    producer = {output: node for node in graph.node for output in node.output}
    names = []
    for graph_output in graph.output:
        node = producer.get(graph_output.name)
        if node is not None:
            names.append(node.name)
            if node.input and node.input[0] in producer:
                names.append(producer[node.input[0]].name)
    return names


def _write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def load_ncnn(param: str | Path, weights: str | Path, threads: int | None = None):
    """An ncnn network from the files ``export_ncnn`` writes, set up for fp32 Winograd inference on
    ``threads`` threads (default: ncnn's count of big cores)."""
    import ncnn

    net = ncnn.Net()
    options = net.opt
    options.num_threads = threads or ncnn.get_big_cpu_count()
    # Idle OpenMP threads sleep at once instead of spinning: a node shares its cores with ROS transport.
    options.openmp_blocktime = 0
    options.use_winograd_convolution = True
    # fp32 storage and arithmetic throughout, like the other fp32 backends (ncnn may otherwise keep
    # activations in fp16 or bf16 where the CPU supports them)
    options.use_fp16_storage = options.use_fp16_packed = options.use_fp16_arithmetic = False
    options.use_bf16_storage = False
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise RuntimeError(f"ncnn could not load the model from {param} and {weights}")
    return net


def run_ncnn(net, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """N x R x R maps from an ncnn network (``load_ncnn``) on N x 3 x R x R (previous, current), pair by
    pair: ncnn has no batch axis."""
    import ncnn

    maps = np.empty((len(previous), *previous.shape[2:]), np.float32)
    for index, pair in enumerate(zip(previous, current, strict=True)):
        extractor = net.create_extractor()
        for blob, frame in zip(NCNN_INPUTS, pair, strict=True):
            extractor.input(blob, ncnn.Mat(np.ascontiguousarray(frame, np.float32)))
        status, saliency = extractor.extract(NCNN_OUTPUT)
        if status != 0:
            raise RuntimeError(f"ncnn failed to run the model (status {status})")
        maps[index] = np.asarray(saliency)[0]
    return maps


# --- deployable files --------------------------------------------------------------------------------


class ExportError(RuntimeError):
    """An exported model is missing or does not reproduce the eager model's output."""


def _example_pair(resolution: int, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, 3, resolution, resolution, generator=generator) for _ in range(2))


def _meta_json(resolution: int, meta: dict | None) -> str:
    return json.dumps({"resolution": int(resolution), "meta": meta or {}}, default=str)


def save_torchscript(
    model: nn.Module, path: str | Path, resolution: int, meta: dict | None = None, atol: float = DEFAULT_ATOL
) -> Path:
    """Trace and freeze ``model`` at ``resolution`` (above), save it to ``path`` with the
    metadata; verified against eager."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13 but remains what C++ runtimes load
        warnings.simplefilter("ignore", DeprecationWarning)
        frozen = export_torchscript(model, resolution)
        torch.jit.save(frozen, str(path), _extra_files={META_FILE: _meta_json(resolution, meta)})
    verify_torchscript(model, path, resolution, atol)
    return path


def save_onnx(
    model: nn.Module, path: str | Path, resolution: int, meta: dict | None = None, atol: float = DEFAULT_ATOL
) -> Path:
    """Export ``model`` to ONNX (opset 17, dynamic batch), add the metadata, save it
    to ``path``; verified with onnxruntime."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the TorchScript-based ONNX exporter is deprecated, and the chosen path
        warnings.simplefilter("ignore", DeprecationWarning)
        proto = onnx.load_from_string(export_onnx(model, resolution))
    onnx.checker.check_model(proto)
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_FILE, _meta_json(resolution, meta)
    onnx.save(proto, str(path))
    verify_onnx(model, path, resolution, atol)
    return path


def save_ncnn(
    model: nn.Module, path: str | Path, resolution: int, meta: dict | None = None, atol: float = DEFAULT_ATOL
) -> Path:
    """Convert ``model`` to ncnn with pnnx (above): the graph to ``path`` (``*.ncnn.param``),
    the fp32 weights beside it (``*.ncnn.bin``) and the metadata in ``*.ncnn.json``; verified with ncnn."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="skd_ncnn_") as tmp:  # keeps pnnx's intermediate files out
        param, weights = export_ncnn(model, resolution, tmp)
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


@contextlib.contextmanager
def _as_export_error(path: Path, what: str) -> Iterator[None]:
    """Loading or running a damaged or foreign model file raises the runtime's own exceptions (onnxruntime's
    derive from Exception alone, torch's RuntimeError often omits the file): an ExportError naming the file."""
    try:
        yield
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{path}: cannot load or run the {what} file: {reason}") from exc


def verify_torchscript(model: nn.Module, path: str | Path, resolution: int, atol: float = DEFAULT_ATOL) -> float:
    """Largest absolute difference between ``model`` and the TorchScript file on a random batch of 2."""
    path = Path(path)
    pair = _example_pair(resolution, batch=2, seed=1)
    with _as_export_error(path, "TorchScript"), warnings.catch_warnings():
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
    with _as_export_error(path, "ONNX"):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {name: x.numpy() for name, x in zip(INPUT_NAMES, pair, strict=True)})[0]
    return _compare(_eager(model, pair), got, path, atol)


def verify_ncnn(model: nn.Module, path: str | Path, resolution: int, atol: float = DEFAULT_ATOL) -> float:
    """Largest absolute difference between ``model`` and the ncnn files (graph ``path``, weights beside
    it) on a random batch of 2, run pair by pair."""
    path = Path(path)
    pair = _example_pair(resolution, batch=2, seed=1)
    with _as_export_error(path, "ncnn"):
        net = load_ncnn(path, ncnn_weights_path(path), threads=1)
        got = run_ncnn(net, *(x.numpy() for x in pair))[:, None]
    return _compare(_eager(model, pair), got, path, atol)


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, formats=FORMATS) -> dict[str, Path]:
    """Export a fused-model checkpoint (skd_ros.core.checkpoint format) to the given formats."""
    model, resolution, meta = load_fused(checkpoint)
    resolution = input_side(resolution, meta)  # what the runtime feeds it
    out_dir = Path(out_dir)
    stem = Path(checkpoint).stem
    written = {}
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"export format must be one of {FORMATS}, got {fmt!r}")
        if fmt == "torchscript":
            written[fmt] = save_torchscript(model, out_dir / f"{stem}.torchscript.pt", resolution, meta)
        elif fmt == "ncnn":
            written[fmt] = save_ncnn(model, out_dir / f"{stem}.ncnn.param", resolution, meta)
        else:
            written[fmt] = save_onnx(model, out_dir / f"{stem}.onnx", resolution, meta)
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
