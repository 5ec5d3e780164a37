"""The ONNX Runtime engines on another CPU: an AVX2-only x86-64 (no AVX-512, no VNNI), emulated by Debian's
qemu-user (``qemu-x86_64 -cpu Haswell``), which CI installs (.ci/run).

On such CPUs ONNX Runtime runs other int8 kernels than on the AVX-512/VNNI machines the rest of the suite
usually runs on, and those once overflowed (maps off by 0.5). The models are exported and quantised here,
natively, by the engines' own functions; only the ONNX Runtime sessions run emulated
(``skd_tools.bench.int8_portability``, which skd-bench uses for docs/BENCHMARKS.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skd_ros.core.checkpoint import load_default_or
from skd_ros.engines.backends import BACKENDS, MIN_CORRELATION
from skd_ros.engines.export import export_onnx, quantize_onnx_int8
from skd_ros.engines.probe import synthetic_pairs
from skd_tools.bench.int8_portability import qemu, run_emulated

pytestmark = pytest.mark.skipif(
    qemu() is None, reason="qemu-user is not installed (apt-get install qemu-user; .ci/run does) or not x86-64"
)


def test_int8_and_fp32_engines_compute_the_right_maps_on_an_avx2_only_cpu(tmp_path):
    model, resolution, _ = load_default_or(None)  # the shipped weights: what a user's node runs
    fp32 = export_onnx(model, resolution)
    (tmp_path / "fp32.onnx").write_bytes(fp32)
    (tmp_path / "int8.onnx").write_bytes(quantize_onnx_int8(fp32, synthetic_pairs(resolution, 64)))
    previous, current = synthetic_pairs(resolution, count=8, seed=1)
    np.save(tmp_path / "previous.npy", previous)
    np.save(tmp_path / "current.npy", current)

    features = run_emulated(tmp_path)

    assert features == {"AVX2": True, "AVX512F": False, "AVX512VNNI": False}, "not the emulated CPU"
    emulated = {name: np.load(tmp_path / f"maps_{name}.npy") for name in ("fp32", "int8")}
    with torch.no_grad():
        reference = model(torch.from_numpy(previous), torch.from_numpy(current))[:, 0].numpy()
    assert np.abs(emulated["fp32"] - reference).max() <= BACKENDS["onnxruntime"].tolerance
    int8_error = np.abs(emulated["int8"] - reference).max()
    correlation = np.corrcoef(emulated["int8"].ravel(), reference.ravel())[0, 1]
    assert int8_error <= BACKENDS["onnxruntime-int8"].tolerance, f"int8 off by {int8_error:.3f} on an AVX2-only CPU"
    assert correlation >= MIN_CORRELATION
