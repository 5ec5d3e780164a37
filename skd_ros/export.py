"""One implementation of every model conversion: ONNX, TorchScript, int8 ONNX (static quantisation) and ncnn.

Any module with ``forward(previous, current)`` on N x 3 x R x R frames converts (the fused SKD model,
a teacher).

The inference backends (``skd_ros.backends``) build their engines with these functions, and the
training tools call the same ones to write deployable files, so an exported file runs exactly the
graph the node runs.

* ONNX: opset 17, inputs ``previous`` and ``current`` (N x 3 x R x R, ImageNet-normalised RGB), output
  ``saliency`` (N x 1 x R x R in [0, 1]); the batch axis is dynamic, the resolution fixed (the model is
  trained at one resolution and a fixed size lets runtimes plan memory and pick kernels once). Exported
  with the TorchScript-based exporter: torch 2.13's default (dynamo) exporter needs ``onnxscript``, which
  this project does not depend on.
* TorchScript: traced and frozen (weights folded into the graph), portable across machines;
  hardware-specific rewrites (``torch.jit.optimize_for_inference``) are left to load time. torch 2.13
  marks TorchScript deprecated in favour of torch.compile/torch.export, but it still runs, needs no
  compiler at load time and is the format C++/libtorch deployments load.
* ncnn: Tencent's inference engine for phones and embedded boards, converted by its own tool, pnnx, from
  the traced model; weights kept in fp32 (pnnx's default stores them in fp16). Input blobs ``in0``
  (previous) and ``in1`` (current), output ``out0``, each one C x R x R image (ncnn has no batch axis).
* int8: ONNX Runtime static quantisation, QDQ format, per-channel int8 weights and uint8 activations
  (the u8 x s8 pairing that x86 VNNI instructions run fastest), ranges calibrated on frame pairs.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from skd_ros.preprocess import check_resolution, preprocess

INPUT_NAMES = ("previous", "current")
OUTPUT_NAME = "saliency"
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


def synthetic_pairs(resolution: int, count: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` preprocessed (previous, current) pairs of synthetic aerial-like frames, each
    count x 3 x R x R, deterministic for a given seed. Used to calibrate int8 ranges and to compare
    backends on frames that look like input rather than noise.

    What matters for calibration is the range of every layer's activations, so the frames carry what
    aerial footage has: texture at every scale (value-noise octaves down to single pixels), varied
    brightness and contrast, hard-edged structures (roads, building blocks), a slight camera drift, and
    small objects that move on their own. (A version with only smooth terrain under-ranged the edge
    filters: its int8 model lost 0.02 NSS on the synthetic benchmark, this one none; docs/BENCHMARKS.md.)"""
    check_resolution(resolution)
    rng = np.random.default_rng(seed)
    side = 4 * resolution  # drawn larger than the model input, so preprocessing's area resize is exercised
    margin = 4  # room for the camera drift
    size = side + 2 * margin
    previous, current = [], []
    for _ in range(count):
        terrain = np.zeros((size, size, 3), np.float32)
        for octave, cells in enumerate((4, 16, 64, size // 2)):
            grid = rng.random((cells + 1, cells + 1, 3), dtype=np.float32)
            terrain += 0.5**octave * cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        terrain = (terrain - terrain.min()) / (np.ptp(terrain) + 1e-6)
        gain, offset = rng.uniform(0.4, 1.0), rng.uniform(0.0, 0.5)
        terrain = np.clip((terrain * gain + offset) * 255, 0, 255).astype(np.uint8)
        for _ in range(rng.integers(1, 4)):  # roads
            start, end = (tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2))
            cv2.line(terrain, start, end, _colour(rng), int(rng.integers(2, side // 24 + 3)))
        for _ in range(rng.integers(0, 6)):  # building blocks
            x, y = (int(v) for v in rng.integers(0, size - side // 8, 2))
            w, h = (int(v) for v in rng.integers(side // 32 + 2, side // 8, 2))
            cv2.rectangle(terrain, (x, y), (x + w, y + h), _colour(rng), -1)
        dy, dx = rng.integers(-margin + 1, margin, 2)
        before = terrain[margin : margin + side, margin : margin + side].copy()
        after = terrain[margin + dy : margin + dy + side, margin + dx : margin + dx + side].copy()
        for _ in range(rng.integers(1, 5)):  # movers
            box = int(rng.integers(side // 40 + 2, side // 12 + 3))
            x, y = (int(v) for v in rng.integers(box, side - 2 * box, 2))
            step_x, step_y = (int(v) for v in rng.integers(-side // 40 - 1, side // 40 + 2, 2))
            colour = _colour(rng)
            cv2.rectangle(before, (x, y), (x + box, y + box), colour, -1)
            cv2.rectangle(after, (x + step_x, y + step_y), (x + step_x + box, y + step_y + box), colour, -1)
        previous.append(preprocess(before, resolution))
        current.append(preprocess(after, resolution))
    return np.stack(previous), np.stack(current)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def quantize_onnx_int8(
    onnx_model: bytes,
    calibration: tuple[np.ndarray, np.ndarray],
    path: str | Path | None = None,
    batch: int = 8,
) -> bytes:
    """Static int8 quantisation of an exported ONNX model (see the module docstring), with activation
    ranges calibrated (min/max) on ``calibration`` = (previous, current), each N x 3 x R x R.

    The output layer and the node feeding it (for SKD: the sigmoid and the last transposed convolution)
    stay in float: quantising the logits and the map to 256 levels cost about 0.05 NSS on the synthetic
    benchmark, and those two layers hold under 1 % of the multiply-adds."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

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
            weight_type=QuantType.QInt8,
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
