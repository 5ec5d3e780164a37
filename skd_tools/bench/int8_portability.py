"""int8 on every x86-64: the quantisation choices measured natively and on an emulated AVX2-only CPU.

CPUs without VNNI (AVX2 only: many laptops and cloud machines) run ONNX Runtime's u8 x s8 kernels with
16-bit intermediate sums, which overflow with full-range 8-bit weights. Debian's qemu-user emulates such
a CPU (``qemu-x86_64 -cpu Haswell``); the models are exported and quantised here, natively, and only the
ONNX Runtime sessions run emulated (a whole engine build under emulation takes minutes).
test/test_emulated_cpu.py runs the same emulated sessions.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skd_ros.core.checkpoint import input_side, load_default_or
from skd_ros.engines.export import export_onnx, quantize_onnx_int8
from skd_ros.engines.ort import ort_session, run_session
from skd_ros.engines.probe import synthetic_pairs

REPO = Path(__file__).resolve().parents[2]
EMULATED_CPU = "Haswell"
# the int8 weight choices of skd_ros.engines.export.quantize_onnx_int8, as the report names them
VARIANTS = {"s8": "u8 x s8, 8-bit weights", "s7": "u8 x s8, 7-bit weights (the engine's)", "u8": "u8 x u8"}

# Runs in the emulated process: every model in the folder through the engines' own session set-up, on the
# probe pairs there; prints what CPUID says there (numpy's table) as JSON.
EMULATED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    from numpy._core._multiarray_umath import __cpu_features__ as features
    from skd_ros.engines.ort import ort_session, run_session
    folder = Path(sys.argv[1])
    previous, current = np.load(folder / "previous.npy"), np.load(folder / "current.npy")
    for model in sorted(folder.glob("*.onnx")):
        session = ort_session(model.read_bytes(), ["CPUExecutionProvider"], threads=1)
        np.save(folder / f"maps_{model.stem}.npy", run_session(session, previous, current))
    print(json.dumps({key: bool(features.get(key)) for key in ("AVX2", "AVX512F", "AVX512VNNI")}))
    """
)


def qemu() -> str | None:
    """The qemu-user binary that can emulate an x86-64 CPU here, or None (not installed, or not x86-64)."""
    return shutil.which("qemu-x86_64") if platform.machine() == "x86_64" else None


def run_emulated(folder: Path, timeout: float = 1800.0) -> dict:
    """``EMULATED_SCRIPT`` under ``qemu-x86_64 -cpu Haswell`` on every ``*.onnx`` in ``folder`` (with
    ``previous.npy`` and ``current.npy``), writing ``maps_<model>.npy``; returns the emulated CPU's features.
    qemu is given the base interpreter: handed a venv's python (a symlink) it ran the process natively."""
    binary = qemu()
    if binary is None:
        raise RuntimeError("qemu-user is not installed (apt-get install qemu-user), or this is not an x86-64 host")
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), site_packages]), "OMP_NUM_THREADS": "1"}
    command = [binary, "-cpu", EMULATED_CPU, sys._base_executable, "-c", EMULATED_SCRIPT, str(folder)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"the emulated run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclass
class PortabilityRow:
    variant: str
    native_max_abs_diff: float  # versus eager fp32 on the probe pairs
    native_correlation: float
    native_ms: float  # ONNX Runtime, 1 thread, batch 1
    emulated_max_abs_diff: float = float("nan")
    emulated_correlation: float = float("nan")


def agreement(maps: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    return float(np.abs(maps - reference).max()), float(np.corrcoef(maps.ravel(), reference.ravel())[0, 1])


def median_ms(session, previous: np.ndarray, current: np.ndarray, runs: int = 200) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run_session(session, previous, current)
        times.append(time.perf_counter() - start)
    return float(np.median(times[runs // 10 :]) * 1e3)


def run_int8_portability(weights: Path | None, emulate: bool = True) -> tuple[list[PortabilityRow], str]:
    """Each int8 weight choice (and fp32) on 8 probe pairs against eager fp32, natively (with its speed) and,
    when ``emulate`` and qemu-user is there, on the emulated AVX2-only CPU. Returns the rows and a note."""
    model, trained_resolution, meta = load_default_or(weights)
    resolution = input_side(trained_resolution, meta)  # the side the runtime feeds it
    previous, current = synthetic_pairs(resolution, count=8, seed=1)
    with torch.no_grad():
        reference = model(torch.from_numpy(previous), torch.from_numpy(current))[:, 0].numpy()
    fp32 = export_onnx(model, resolution)
    calibration = synthetic_pairs(resolution, 64)
    models = {"fp32": fp32, **{v: quantize_onnx_int8(fp32, calibration, weights=v) for v in VARIANTS}}
    rows = {}
    for name, onnx_model in models.items():
        session = ort_session(onnx_model, ["CPUExecutionProvider"], threads=1)
        diff, corr = agreement(run_session(session, previous, current), reference)
        ms = median_ms(session, previous[:1], current[:1])
        rows[name] = PortabilityRow(VARIANTS.get(name, "fp32"), diff, corr, ms)
    if not emulate:
        return list(rows.values()), "the emulated CPU was not measured (--skip-emulation)"
    if qemu() is None:
        return list(rows.values()), "the emulated CPU was not measured: qemu-user is not installed"
    with tempfile.TemporaryDirectory(prefix="skd_int8_emulated_") as tmp:
        folder = Path(tmp)
        np.save(folder / "previous.npy", previous)
        np.save(folder / "current.npy", current)
        for name, onnx_model in models.items():
            (folder / f"{name}.onnx").write_bytes(onnx_model)
        features = run_emulated(folder)
        for name, row in rows.items():
            row.emulated_max_abs_diff, row.emulated_correlation = agreement(
                np.load(folder / f"maps_{name}.npy"), reference
            )
    cpu = ", ".join(f"{key} {'yes' if on else 'no'}" for key, on in features.items())
    return list(rows.values()), f"emulated CPU: qemu-x86_64 -cpu {EMULATED_CPU} ({cpu})"
