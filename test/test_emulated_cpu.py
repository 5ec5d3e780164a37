"""The ONNX Runtime engines on another CPU: an AVX2-only x86-64 (no AVX-512, no VNNI), emulated by Debian's
qemu-user (``qemu-x86_64 -cpu Haswell``), which CI installs (.ci/run).

On such CPUs ONNX Runtime runs other int8 kernels than on the AVX-512/VNNI machines the rest of the suite
usually runs on, and those once overflowed (maps off by 0.5). The models are exported and quantised here,
natively, by the project's own functions; only the ONNX Runtime sessions run emulated (an engine's whole
build under emulation takes minutes)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from skd_ros.core.checkpoint import load_default_or
from skd_ros.engines.backends import BACKENDS, MIN_CORRELATION
from skd_ros.engines.export import export_onnx, quantize_onnx_int8
from skd_ros.engines.probe import synthetic_pairs

REPO = Path(__file__).resolve().parents[1]
QEMU = shutil.which("qemu-x86_64")
pytestmark = [
    pytest.mark.skipif(platform.machine() != "x86_64", reason="emulates an x86-64 CPU on an x86-64 host"),
    pytest.mark.skipif(QEMU is None, reason="qemu-user is not installed (apt-get install qemu-user; .ci/run does)"),
]

# Run in the emulated process: the engines' own session set-up on each model, the probe pairs, and what
# CPUID says there (numpy's table), as JSON.
EMULATED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from numpy._core._multiarray_umath import __cpu_features__ as features
    from skd_ros.engines.ort import ort_session, run_session
    folder = sys.argv[1]
    previous, current = np.load(folder + "/previous.npy"), np.load(folder + "/current.npy")
    maps = {}
    for name in ("fp32", "int8"):
        session = ort_session(open(f"{folder}/{name}.onnx", "rb").read(), ["CPUExecutionProvider"], threads=1)
        maps[name] = run_session(session, previous, current)
        np.save(f"{folder}/maps_{name}.npy", maps[name])
    print(json.dumps({key: bool(features.get(key)) for key in ("AVX2", "AVX512F", "AVX512VNNI")}))
    """
)


def run_emulated(folder: Path) -> dict:
    """The script above under ``qemu-x86_64 -cpu Haswell``. qemu must be given the base interpreter: handed a
    venv's python (a symlink) it ran the process natively; the venv's packages come through PYTHONPATH."""
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), site_packages]), "OMP_NUM_THREADS": "1"}
    command = [QEMU, "-cpu", "Haswell", sys._base_executable, "-c", EMULATED, str(folder)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, f"emulated run failed:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


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
