"""The real-world teachers as rows of skd-eval-real, so one sees what distillation keeps.

Three rows from a ``skd-train-real`` run's cached maps: the spatial teacher alone (what the frame shows,
no prior), the motion teacher alone, and the soft labels the students learned from: each sequence's
labels made by the teacher mix that its fold chose on its training sequences (``folds.json``), never a mix
chosen on the sequence itself. None of the teachers was trained on drone footage.
"""

from __future__ import annotations

import json
from pathlib import Path

from skd_training.data.box_sequences import BoxSequence
from skd_training.data.layouts import DatasetError
from skd_training.evaluate.predictors import Predictor
from skd_training.real.distill import MANIFEST
from skd_training.real.soft_labels import MOTION_WIDTH, SoftLabels, TeacherMix, peak_normalised
from skd_training.real.spatial_teacher import SpatialTeacher, load_readout


def teacher_predictors(run_dir: Path, sequences: list[BoxSequence], priors: Path) -> list[Predictor]:
    run_dir = Path(run_dir)
    manifest_path, readout_path = run_dir / MANIFEST, run_dir / "spatial_readout.pt"
    for path in (manifest_path, readout_path):
        if not path.is_file():
            raise DatasetError(f"--teachers {run_dir}: no {path.name} (a finished skd-train-real run has it)")
    manifest = json.loads(manifest_path.read_text())
    mixes = {name: TeacherMix(**fold["teacher_mix"]) for fold in manifest["folds"] for name in fold["held_out"]}
    readout, _ = load_readout(readout_path)
    labels = SoftLabels(
        run_dir / "cache", SpatialTeacher(readout, width=manifest.get("teacher_width", 640)), priors,
        motion_width=manifest.get("motion_width", MOTION_WIDTH),
    )  # fmt: skip
    by_name = {s.name: s for s in sequences}

    def looked_up(maps_of):
        cached: dict[str, object] = {}

        def predict(previous, current, video, index):
            if video not in cached:
                cached[video] = maps_of(by_name[video])
            return cached[video][index]

        return predict

    def mix_labels(sequence: BoxSequence):
        if sequence.name not in mixes:
            raise DatasetError(f"{manifest_path}: no fold holds out {sequence.name!r}, so no honest teacher mix")
        return labels.soft_labels(sequence, mixes[sequence.name])

    return [
        Predictor("Spatial teacher (EfficientNet-Lite0, MIT1003 readout)",
                  looked_up(lambda s: peak_normalised(labels.spatial_maps(s))), group="teacher"),
        Predictor("Motion teacher (camera-compensated differences)",
                  looked_up(lambda s: peak_normalised(labels.motion_maps(s))), group="teacher"),
        Predictor("Teacher mix (soft labels, mix chosen per fold)", looked_up(mix_labels), group="teacher"),
    ]  # fmt: skip
