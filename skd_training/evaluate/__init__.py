"""Evaluation of saliency predictors with the MIT benchmark's metrics: the library behind ``skd-eval``.

One room per part (docs/EVALUATION.md describes the protocol):

* ``predictors``: the fused model, students, teachers and baselines behind one ``Predictor`` call;
* ``cost``: what a network costs (parameters, memory footprint, model-only speed);
* ``scoring``: the loop that scores every predictor on a split (``evaluate``, ``evaluate_predictor``);
* ``results``: what an evaluation holds and its averages per video, category and overall;
* ``report``: Markdown tables, CSVs and figures (``write_report``);
* ``cli``: the ``skd-eval`` command, the one module here that opens a training run
  (``skd_training.finished_run``), so the library needs nothing of the training pipeline.

The names below are the library's public interface, as docs/EVALUATION.md shows it
(``from skd_training.evaluate import Predictor, evaluate, write_report``); the rest is imported from
the module that owns it.
"""

from skd_training.evaluate.cost import MB, NetworkProfile, peak_activation_bytes, profile_network
from skd_training.evaluate.predictors import (
    Predictor,
    baseline_predictor,
    fused_predictor,
    student_predictor,
    teacher_predictor,
)
from skd_training.evaluate.report import write_report
from skd_training.evaluate.results import Evaluation
from skd_training.evaluate.scoring import evaluate, evaluate_predictor

__all__ = [
    "MB",
    "Evaluation",
    "NetworkProfile",
    "Predictor",
    "baseline_predictor",
    "evaluate",
    "evaluate_predictor",
    "fused_predictor",
    "peak_activation_bytes",
    "profile_network",
    "student_predictor",
    "teacher_predictor",
    "write_report",
]
