"""skd-eval-real on generated box sequences: the four scores mean what they say, nothing scores a sequence
it trained on, k-fold manifests route each sequence to the fold that held it out, and bad folders get a
clear message. (The real sequences live outside the repository; see docs/REAL_FOOTAGE.md.)"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from skd_ros.core.checkpoint import load_fused, save_fused
from skd_ros.core.postprocess import ROI, Peak
from skd_training.baselines import CentreBias
from skd_training.data.box_sequences import find_box_sequences
from skd_training.data.layouts import DatasetError
from skd_training.evaluate.predictors import baseline_predictor
from skd_training.evaluate.real_footage import FoldedModel, evaluate_maps, evaluate_model, score_frame, single_model
from skd_training.evaluate.real_footage_cli import main, models_from

WIDTH, HEIGHT, SIDE = 160, 96, 14


def write_sequence(root, name: str, frames: int = 6, hidden: tuple[int, ...] = (), corner: bool = True):
    """Frames of a bright square moving along a corner of a textured grey frame, and its boxes (NaN where
    ``hidden``); the square stays off-centre, so a centred Gaussian misses it."""
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(name))
    lines = []
    for i in range(frames):
        frame = rng.integers(60, 110, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        x, y = (8 + 3 * i, 8) if corner else (WIDTH // 2 - SIDE // 2, HEIGHT // 2 - SIDE // 2)
        frame[y : y + SIDE, x : x + SIDE] = 250
        cv2.imwrite(str(folder / f"{i + 1:06d}.png"), frame)
        lines.append("NaN,NaN,NaN,NaN" if i in hidden else f"{x},{y},{SIDE},{SIDE}")
    (root / f"{name}_bbox_gt.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_scores_of_one_frame():
    box = np.array([40.0, 20.0, 10.0, 10.0])
    saliency = np.zeros((8, 8), np.float32)
    saliency[2, 3] = 1.0  # the cell covering x 60-80, y 24-36 of a 160 x 96 frame
    inside, beside = ROI(45, 22, 10, 10, 0.6), ROI(100, 60, 10, 10, 0.4)
    near = Peak(52.0, 25.0, 1.0)  # 2 px right of the box: inside the 2.5 % (4 px) margin
    scores = score_frame(saliency, [beside, inside], near, box, WIDTH, HEIGHT)
    assert scores["peak_on_target"] == 1.0
    assert scores["top1_roi_hit"] == 0.0 and scores["top3_roi_hit"] == 1.0
    far = score_frame(saliency, [inside], Peak(60.0, 25.0, 1.0), box, WIDTH, HEIGHT)
    assert far["peak_on_target"] == 0.0 and far["top1_roi_hit"] == 1.0
    assert scores["box_nss"] < 0  # the map's mass is right of the box
    on_box = np.zeros((8, 8), np.float32)
    on_box[2, 2] = 1.0  # x 40-60, y 24-36: over the box
    assert score_frame(on_box, [], near, box, WIDTH, HEIGHT)["box_nss"] > 1


def test_a_model_that_looks_at_bright_things_finds_the_target(tmp_path, brightness_weights):
    write_sequence(tmp_path, "square", hidden=(2,))
    (sequence,) = find_box_sequences([tmp_path])
    assert sequence.name == "square" and len(sequence.boxes) == 6
    row = evaluate_model(single_model("bright", brightness_weights, [sequence]), [sequence], sheet_count=3)
    score = row.per_sequence["square"]
    assert score.frames == 5  # the hidden frame is not scored
    assert score.scores["peak_on_target"] == 1.0 and score.scores["top1_roi_hit"] == 1.0
    assert score.scores["box_nss"] > 2
    assert len(score.outcomes) == 3
    centre = evaluate_maps(baseline_predictor(CentreBias(), "Centred Gaussian"), [sequence])
    assert centre.per_sequence["square"].scores["peak_on_target"] == 0.0
    assert centre.mean("box_nss") < score.scores["box_nss"]


def test_nothing_scores_a_sequence_it_trained_on(tmp_path, brightness_weights):
    for name in ("seen", "unseen"):
        write_sequence(tmp_path, name)
    sequences = find_box_sequences([tmp_path])
    model, resolution, meta = load_fused(brightness_weights)
    trained = tmp_path / "trained.pt"
    save_fused(model, trained, resolution, {**meta, "real_sequences": ["seen"]})
    row = evaluate_model(single_model("trained", str(trained), sequences), sequences)
    assert row.per_sequence["seen"] is None and row.per_sequence["unseen"] is not None
    assert not row.complete
    with pytest.raises(DatasetError, match="trained on 'seen'"):
        evaluate_model(FoldedModel("forced", {str(trained): ["seen", "unseen"]}), sequences)
    # an skd-train run that read the sequence's frames (e.g. as unlabeled video) saw it too
    read = tmp_path / "read.pt"
    save_fused(model, read, resolution, {**meta, "data": {"unlabeled": [{"path": str(tmp_path / "seen")}]}})
    row = evaluate_model(single_model("read", str(read), sequences), sequences)
    assert row.per_sequence["seen"] is None and row.per_sequence["unseen"] is not None


def test_a_k_fold_manifest_scores_each_sequence_with_the_fold_that_held_it_out(tmp_path, brightness_weights):
    data = tmp_path / "data"
    for name in ("a", "b"):
        write_sequence(data, name)
    model, resolution, meta = load_fused(brightness_weights)
    folds = []
    for held_out, trained_on in (("a", "b"), ("b", "a")):
        save_fused(model, tmp_path / f"fold_{held_out}.pt", resolution, {**meta, "real_sequences": [trained_on]})
        folds.append({"checkpoint": f"fold_{held_out}.pt", "held_out": [held_out]})
    (tmp_path / "folds.json").write_text(json.dumps({"folds": folds}))
    out = tmp_path / "report" / "REAL.md"
    reading = tmp_path / "reading.md"
    reading.write_text("The folds disagree on purpose.\n")
    code = main([str(data), "--model", f"k-fold={tmp_path / 'folds.json'}", "--no-baselines", "--out", str(out),
                 "--figures", str(tmp_path / "report" / "figs"), "--sheet-frames", "2",
                 "--reading", str(reading)])  # fmt: skip
    assert code == 0
    assert "## Reading\n\nThe folds disagree on purpose." in out.read_text()
    report = json.loads(out.with_suffix(".json").read_text())["k-fold"]["per_sequence"]
    assert report["a"]["scored_by"] == "fold_a.pt" and report["b"]["scored_by"] == "fold_b.pt"
    text = out.read_text()
    assert "## peak on target" in text and "Which model scored which sequence" in text
    assert (tmp_path / "report" / "figs" / "a.jpg").is_file()


def test_a_model_runs_at_the_input_side_its_argument_names(tmp_path, brightness_weights):
    """``@SIDE`` runs a checkpoint at another input side, as the node's ``resolution`` parameter does."""
    write_sequence(tmp_path, "square")
    sequences = find_box_sequences([tmp_path])
    own, larger = models_from([f"own={brightness_weights}", f"larger={brightness_weights}@96"], sequences)
    assert own.resolution is None and larger.resolution == 96 and larger.folds == own.folds
    row = evaluate_model(larger, sequences, sheet_count=1)
    assert row.per_sequence["square"].outcomes[0].saliency.shape == (96, 96)
    with pytest.raises(DatasetError, match="multiple of 4"):
        models_from([f"odd={brightness_weights}@30"], sequences)


def test_missing_or_empty_folders_are_named(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "--no-baselines"]) == 2
    assert "nowhere does not exist" in capsys.readouterr().err
    assert main([str(tmp_path), "--no-baselines", "--reading", str(tmp_path / "no_reading.md")]) == 2
    assert "no_reading.md" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), "--no-baselines"]) == 2
    assert "holds no sequence" in capsys.readouterr().err
    write_sequence(tmp_path / "short", "clip", frames=3)
    (tmp_path / "short" / "clip_bbox_gt.txt").write_text("1,1,5,5\n" * 4)
    assert main([str(tmp_path / "short"), "--no-baselines"]) == 2
    assert "4 boxes but" in capsys.readouterr().err
