"""skd-synthetic-difficulty: its motion heuristic finds a mover under camera motion, the command scores
the baselines on a tiny generated benchmark, and its training recipe fits both networks."""

import cv2
import numpy as np

from skd_ros.core.model import SKDModel, Student
from skd_training.data import SaliencyVideoDataset
from skd_training.data.difficulty import CompensatedDifference, main, train_on_ground_truth
from skd_training.data.synthetic import generate


def test_compensated_difference_finds_the_mover_not_the_camera_motion():
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur((rng.random((200, 340, 3)) * 255).astype(np.uint8), (0, 0), 1.5)
    previous, current = texture[20:180, 10:330].copy(), texture[22:182, 14:334].copy()  # the camera moved
    cv2.rectangle(previous, (100, 60), (107, 66), (255, 255, 255), -1)
    cv2.rectangle(current, (106, 60), (113, 66), (255, 255, 255), -1)  # the target moved further
    saliency = CompensatedDifference(width=320)(previous, current)
    row, col = np.unravel_index(np.argmax(saliency), saliency.shape)
    assert 95 <= col <= 120 and 52 <= row <= 74


def test_command_scores_the_baselines(tmp_path, capsys):
    data = tmp_path / "bench"
    generate(data, 4, 6, (96, 64), seed=2, workers=1, progress=False)
    args = [
        str(data),
        "--split",
        "train",
        "--no-train",
        "--max-frames-per-video",
        "3",
        "--out",
        str(tmp_path / "report"),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    for name in ("Centre bias", "Spectral residual", "Flow magnitude", "camera-compensated"):
        assert name in out
    assert (tmp_path / "report" / "evaluation.md").is_file()
    assert main([str(data), "--split", "nope", "--no-train", "--out", str(tmp_path / "r2")]) == 2


def test_both_networks_learn_with_the_same_recipe(tmp_path):
    data = tmp_path / "bench"
    generate(data, 2, 4, (64, 48), seed=3, workers=1, progress=False)
    dataset = SaliencyVideoDataset(data, resolution=16, teacher_resolution=None)
    for model in (Student("spatial"), SKDModel()):
        history = train_on_ground_truth(model, dataset, epochs=4, batch_size=8, lr=3e-3, progress=False)
        assert len(history) == 4 and all(np.isfinite(history))
        assert history[-1] < history[0]
