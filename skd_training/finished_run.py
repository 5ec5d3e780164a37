"""A finished (or partly finished) ``skd-train`` run, opened for evaluation.

``open_run`` reads the run's ``config.yaml`` and gives the ``Pipeline`` of that configuration without
writing anything: ``.students()`` loads the best students, ``.teacher(kind)`` a teacher, each checked
against the configuration like a resume. ``run_predictors`` wraps them as ``skd-eval`` predictors. This
is the one place where evaluation meets the training pipeline: the evaluation library
(``skd_training.evaluate``) does not import it.
"""

from __future__ import annotations

from pathlib import Path

from skd_ros.core.device import resolve_device
from skd_training.config import ConfigError, load_config
from skd_training.engine import DistEnv
from skd_training.evaluate.predictors import Predictor, student_predictor, teacher_predictor
from skd_training.pipeline import Pipeline


def open_run(run_dir: str | Path, device: str = "cpu") -> Pipeline:
    """The pipeline of the run in ``run_dir`` on ``device`` (auto, cpu, cuda, cuda:N): ``.teacher(kind)``
    gives a ``Teacher``, ``.students()`` the best students, ``.config`` the run's configuration (read from
    its config.yaml)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a skd-train run directory (no config.yaml)")
    config = load_config(path, [f"run_dir={run_dir}", f"device={device}", "progress=false"])
    return Pipeline(config, DistEnv(device=resolve_device(device)), write_config=False)


def run_predictors(
    run_dir: str | Path, device: str = "auto", students: bool = True, teachers: bool = True
) -> list[Predictor]:
    """The students and teachers of a finished ``skd-train`` run, as predictors at their training
    resolutions."""
    run = open_run(run_dir, device)
    config = run.config
    found = []
    if students:
        dev = str(run.env.device)
        for kind, student in run.students().items():
            found.append(student_predictor(student, config.resolution, f"Student-{kind}-{config.resolution}", dev))
    if teachers:
        found += [
            teacher_predictor(run.teacher(kind), config.teacher_resolution, f"Teacher-{kind}")
            for kind in config.kinds()
        ]
    return found
