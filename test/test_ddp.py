"""`skd-train all` under torchrun with 2 CPU processes (DistributedDataParallel, gloo) follows the
single-process run's loss trajectory."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_train_pipeline import make_tiny_data, tiny_args

STAGES = ("teacher_spatial", "teacher_temporal", "student_spatial", "student_temporal", "fused")


def torchrun() -> str | None:
    beside_python = Path(sys.executable).with_name("torchrun")
    return str(beside_python) if beside_python.exists() else shutil.which("torchrun")


def run(command, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def step_losses(run_dir: Path, stage: str) -> list[float]:
    history = json.loads((run_dir / stage / "history.json").read_text())
    return [loss for record in history for loss in record["step_losses"]]


@pytest.mark.skipif(torchrun() is None, reason="torchrun is not installed")
def test_two_process_run_matches_the_single_process_loss_trajectory(tmp_path):
    data = make_tiny_data(tmp_path / "data")
    # the tiny config's batch size 4 splits into 2 x 2 across the processes
    module = [sys.executable, "-m", "skd_training.train", "all"]
    run([*module, *tiny_args(data, tmp_path / "single")], tmp_path)
    run(
        [
            torchrun(),
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "skd_training.train",
            "all",
            *tiny_args(data, tmp_path / "ddp"),
        ],
        tmp_path,
    )
    for stage in STAGES:
        assert json.loads((tmp_path / "ddp" / stage / "history.json").read_text())[0]["processes"] == 2
        single, ddp = step_losses(tmp_path / "single", stage), step_losses(tmp_path / "ddp", stage)
        assert len(single) == len(ddp) > 0, stage
        assert ddp == pytest.approx(single, rel=1e-4, abs=1e-6), stage
    assert (tmp_path / "ddp" / "final" / "skd_fused_16.pt").exists()
