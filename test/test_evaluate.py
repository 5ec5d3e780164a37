"""skd-eval: the evaluator scores predictors on tiny generated AVS1K-layout data."""

import csv
import logging
import math
import os

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from skd_ros.core.model import Student
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline
from skd_training import metrics
from skd_training.baselines import CentreBias
from skd_training.data.dataset import SaliencyVideoDataset
from skd_training.data.layouts import open_source
from skd_training.evaluate.cli import main
from skd_training.evaluate.cost import NetworkProfile, peak_activation_bytes, profile_network
from skd_training.evaluate.predictors import (
    Predictor,
    baseline_predictor,
    fused_predictor,
    student_predictor,
    teacher_predictor,
)
from skd_training.evaluate.report import busy_note, overall_table, unavailable_note, write_report
from skd_training.evaluate.results import Evaluation, PredictorSummary
from skd_training.evaluate.scoring import (
    FixationBank,
    evaluate,
    evaluate_predictor,
    fixations_from_density,
    select_frames,
)
from skd_training.teachers import BuiltinTeacher, build_teacher_net

VIDEOS = ("Vehicle_00001", "Human_00002", "Building_00003")


def write_avs1k(root, videos=VIDEOS, frames=5, size=(48, 64), fixations=True, split="testSet", seed=0):
    """A moving red square per video; density: a Gaussian on it; fixations: a few points on it."""
    rng = np.random.default_rng(seed)
    rows, cols = size
    yy, xx = np.mgrid[:rows, :cols]
    for name in videos:
        background = cv2.GaussianBlur((rng.random((rows, cols, 3)) * 90 + 60).astype(np.uint8), (0, 0), 2)
        x0, y0 = int(rng.integers(5, cols - 20)), int(rng.integers(5, rows - 15))
        for t in range(frames):
            x, y = x0 + 2 * t, y0
            frame = background.copy()
            cv2.rectangle(frame, (x, y), (x + 5, y + 5), (30, 30, 220), -1)
            density = np.exp(-((yy - y - 3) ** 2 + (xx - x - 3) ** 2) / (2 * 3.0**2))
            fixation = np.zeros((rows, cols), np.uint8)
            fixation[y + 2 : y + 5 : 2, x + 2 : x + 5 : 2] = 255
            maps = [("Frame", frame), ("Ground", (density * 255).astype(np.uint8))]
            if fixations:
                maps.append(("Fixation", fixation))
            for folder, image in maps:
                directory = root / split / folder / name
                directory.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(directory / f"{name}_{t + 1:05d}.png"), image)
    return root


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_avs1k(tmp_path_factory.mktemp("avs1k"))


def oracle(source, inverted=False):
    """Predicts the ground-truth density itself (or its negative image)."""

    def predict(previous, current, video, index):
        density = source.read_density(video, index)
        return 1.0 - density if inverted else density

    return Predictor(name="inverted oracle" if inverted else "oracle", predict=predict)


def test_oracle_scores_perfectly_and_its_inverse_badly(data_root):
    source = open_source(data_root)
    result = evaluate([oracle(source), oracle(source, inverted=True)], source, "test", progress=False)
    best, worst = result.overall_of("oracle"), result.overall_of("inverted oracle")
    assert best["CC"] == pytest.approx(1.0) and best["SIM"] == pytest.approx(1.0)
    assert best["KLD"] == pytest.approx(0.0, abs=1e-6)
    assert worst["CC"] == pytest.approx(-1.0)
    for metric in ("AUC", "sAUC", "NSS"):
        assert best[metric] > worst[metric]
    assert best["videos"] == 3 and best["frames"] == 15
    assert len(result.frames) == 2 * 15


def test_scores_are_means_over_videos_and_categories(data_root):
    source = open_source(data_root)
    result = evaluate([baseline_predictor(CentreBias())], source, "test", progress=False, profile=False)
    per_video = result.per_video()
    assert sorted(v["video"] for v in per_video) == sorted(VIDEOS)
    by_category = {r["category"]: r for r in result.per_category()}
    assert set(by_category) == {"Vehicle", "Human", "Building"}
    for metric in metrics.METRIC_NAMES:
        assert result.overall()[0][metric] == pytest.approx(np.mean([v[metric] for v in per_video]))
    vehicle = next(v for v in per_video if v["video"] == "Vehicle_00001")
    assert by_category["Vehicle"]["NSS"] == pytest.approx(vehicle["NSS"])
    frames = [r for r in result.frames if r["video"] == "Vehicle_00001"]
    assert vehicle["CC"] == pytest.approx(np.mean([r["CC"] for r in frames]))


def test_evaluation_is_seeded_and_the_same_for_every_predictor(data_root):
    source = open_source(data_root)
    twins = [baseline_predictor(CentreBias(), "a"), baseline_predictor(CentreBias(), "b")]
    first = evaluate(twins, source, "test", progress=False)
    again = evaluate(twins, source, "test", progress=False)
    assert first.overall()[0]["sAUC"] == again.overall()[0]["sAUC"]
    a, b = first.overall()
    for metric in metrics.METRIC_NAMES:
        assert a[metric] == b[metric]  # identical maps, identical jitter and draws: identical scores


def test_fused_model_matches_the_runtime_pipeline(data_root):
    source = open_source(data_root)
    estimator = SaliencyEstimator(device="cpu", backend="eager")
    predictor = fused_predictor(estimator)
    pipeline = SaliencyPipeline(estimator)
    video = VIDEOS[0]
    for index in range(3):
        frame = source.read_frame(video, index)
        # 10 fps: the shipped checkpoint pairs frames 0.1 s apart, here consecutive ones as skd-eval pairs them
        streamed = pipeline.step(frame, stamp_ns=index * 100_000_000, frame_id=video).saliency
        previous = source.read_frame(video, index - 1) if index else frame
        np.testing.assert_allclose(predictor.predict(previous, frame, video, index), streamed, atol=1e-6)
    assert predictor.parameters == sum(p.numel() for p in estimator.model.parameters())


def test_students_and_teachers_as_predictors(data_root):
    source = open_source(data_root)
    torch.manual_seed(0)
    teacher = BuiltinTeacher(build_teacher_net("spatial", (4, 8)))
    predictors = [
        student_predictor(Student("spatial"), 32),
        student_predictor(Student("temporal"), 32),
        teacher_predictor(teacher, 32, "teacher"),
    ]
    result = evaluate(predictors, source, "test", max_frames_per_video=2, profile_seconds=0.02, progress=False)
    assert [s.name for s in result.predictors] == ["Student-spatial-32", "Student-temporal-32", "teacher"]
    assert all(s.profile is not None and s.profile.parameters > 0 for s in result.predictors)
    assert all(math.isfinite(r["CC"]) for r in result.frames)
    assert len(result.frames) == 3 * 3 * 2


def test_fixation_bank_draws_negatives_from_other_videos():
    bank = FixationBank()
    for video, column in (("a", 1), ("b", 5), ("c", 9)):
        fixation = np.zeros((10, 10), bool)
        fixation[2, column] = True
        bank.add(video, 0, fixation)
    negatives = bank.negatives("a", 0, (20, 20), 10, np.random.default_rng(0))
    assert negatives.shape == (20, 20)
    assert set(np.nonzero(negatives)[1]) == {11, 19}  # b's and c's columns at twice the size; never a's
    single = FixationBank()
    for index in range(3):
        fixation = np.zeros((4, 4), bool)
        fixation[index, index] = True
        single.add("only", index, fixation)
    assert single.single_video
    assert not single.negatives("only", 0, (4, 4), 10, np.random.default_rng(0))[0, 0]


def test_single_video_is_noted_and_missing_fixations_leave_fixation_metrics_out(tmp_path):
    root = write_avs1k(tmp_path / "one", videos=("Vehicle_00009",), frames=3)
    result = evaluate([baseline_predictor(CentreBias())], open_source(root), "test", progress=False)
    assert any("one video" in note for note in result.info["notes"])
    assert math.isfinite(result.overall()[0]["sAUC"])
    root = write_avs1k(tmp_path / "nofix", frames=3, fixations=False)
    result = evaluate([baseline_predictor(CentreBias())], open_source(root), "test", progress=False)
    row = result.overall()[0]
    assert math.isnan(row["AUC"]) and math.isnan(row["NSS"]) and math.isfinite(row["CC"])
    assert set(result.info["unavailable"]) == {"AUC", "sAUC", "NSS"}
    assert "the test split has no fixation maps" in result.info["unavailable"]["NSS"]


def test_a_metric_without_fixations_is_na_with_its_reason_in_the_table_and_the_log(tmp_path, caplog):
    root = write_avs1k(tmp_path / "nofix", frames=3, fixations=False)
    with caplog.at_level(logging.WARNING, logger="skd_training.evaluate.scoring"):
        result = evaluate([baseline_predictor(CentreBias())], open_source(root), "test", progress=False)
    assert "NSS is n/a: the test split has no fixation maps" in caplog.text
    table = overall_table(result).splitlines()
    assert table[0].split(" | ")[2:5] == ["AUC", "sAUC", "NSS"]
    assert table[2].split(" | ")[2:5] == ["n/a", "n/a", "n/a"]
    assert unavailable_note(result).startswith("n/a (AUC, sAUC, NSS): the test split has no fixation maps")
    report = write_report(result, tmp_path / "report").read_text()
    assert "n/a (AUC, sAUC, NSS): the test split has no fixation maps" in report


def test_fixations_sampled_from_density_score_every_metric_and_say_so(tmp_path):
    root = write_avs1k(tmp_path / "nofix", frames=3, fixations=False)
    result = evaluate(
        [baseline_predictor(CentreBias())], open_source(root), "test", progress=False, sampled_fixations=20
    )
    row = result.overall()[0]
    assert all(math.isfinite(row[m]) for m in metrics.METRIC_NAMES) and not result.info["unavailable"]
    assert result.info["fixations"] == "sampled"
    assert overall_table(result).splitlines()[0].split(" | ")[2:5] == [
        "AUC (sampled fixations)",
        "sAUC (sampled fixations)",
        "NSS (sampled fixations)",
    ]
    assert any("sampled from the density map" in note for note in result.info["notes"])
    again = evaluate(
        [baseline_predictor(CentreBias())], open_source(root), "test", progress=False, sampled_fixations=20
    )
    assert again.overall()[0]["NSS"] == row["NSS"]  # the draws are seeded


def test_fixations_from_density_land_where_the_density_is():
    density = np.zeros((8, 8))
    density[2, 3], density[6, 1] = 1.0, 3.0
    fixation = fixations_from_density(density, 50, np.random.default_rng(0))
    assert set(zip(*np.nonzero(fixation), strict=True)) == {(2, 3), (6, 1)}
    assert not fixations_from_density(np.zeros((4, 4)), 5, np.random.default_rng(0)).any()


def test_evaluate_predictor_on_a_dataset(data_root):
    dataset = SaliencyVideoDataset(
        data_root, split="test", resolution=32, teacher_resolution=None, frame_step=2, progress=False
    )
    scores = evaluate_predictor(baseline_predictor(CentreBias()), dataset, max_frames_per_video=2)
    assert set(scores) == set(metrics.METRIC_NAMES)
    assert all(math.isfinite(v) for v in scores.values())
    with pytest.raises(ValueError, match="already chose"):
        evaluate_predictor(baseline_predictor(CentreBias()), dataset, split="test")


def test_select_frames():
    assert select_frames(10, 3) == [0, 3, 6, 9]
    assert select_frames(10, 1, 3) == [0, 4, 9]
    with pytest.raises(ValueError):
        select_frames(10, 0)


def test_network_profile_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True))
    x = torch.zeros(1, 3, 10, 10)
    # the convolution holds its input (3 x 10 x 10) and output (8 x 10 x 10) floats; the in-place ReLU less
    assert peak_activation_bytes(net, (x,)) == (300 + 800) * 4
    profile = profile_network(net, (x,), min_seconds=0.01)
    assert profile.parameters == 3 * 8 * 9 + 8
    assert profile.weights_mb == pytest.approx(profile.parameters * 4 / 2**20)
    assert profile.memory_mb == pytest.approx(profile.weights_mb + profile.activations_mb)
    assert profile.fps > 0


def test_report_files(data_root, tmp_path):
    source = open_source(data_root)
    result = evaluate([oracle(source), baseline_predictor(CentreBias())], source, "test", progress=False)
    report = write_report(result, tmp_path / "out")
    text = report.read_text()
    for heading in ("## Overall", "## Per category", "## ROC curves", "## Examples", "**Vehicle**"):
        assert heading in text
    for name in ("overall.csv", "per_category.csv", "per_video.csv", "per_frame.csv", "roc.png", "examples.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    with (tmp_path / "out" / "per_video.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * len(VIDEOS) and {"video", "category", "NSS", "sAUC"} <= set(rows[0])


def test_command_line(data_root, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main([str(data_root), "--no-model", "--baselines", "centre", "flow", "--out", str(out)]) == 0
    assert "Flow magnitude" in (out / "evaluation.md").read_text()
    assert main([str(data_root), "--split", "train", "--out", str(out)]) == 2
    assert "no videos in split 'train'" in capsys.readouterr().err


def test_command_line_prints_why_a_metric_is_na_and_samples_fixations_on_request(tmp_path, capsys):
    root = write_avs1k(tmp_path / "nofix", frames=3, fixations=False)
    argv = [str(root), "--no-model", "--baselines", "centre", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    assert "n/a (AUC, sAUC, NSS): the test split has no fixation maps" in capsys.readouterr().out
    assert main([*argv, "--sampled-fixations", "10"]) == 0
    printed = capsys.readouterr().out
    assert "NSS (sampled fixations)" in printed and "n/a" not in printed


def test_a_bad_prediction_is_an_error_naming_the_predictor(data_root):
    negative = Predictor("negative", lambda previous, current, video, index: -np.ones((4, 4)))
    with pytest.raises(ValueError, match="'negative' on frame 0 of video .* negative values"):
        evaluate([negative], open_source(data_root), "test", progress=False)
    flat = Predictor("flat", lambda previous, current, video, index: np.ones(4))
    with pytest.raises(ValueError, match="not a non-empty 2-D map"):
        evaluate([flat], open_source(data_root), "test", progress=False)


def test_timings_on_a_busy_machine_are_flagged():
    def evaluation_with_load(load):
        profile = NetworkProfile(1, 0.1, 0.1, 1.0, "cpu", 2, load)
        return Evaluation([PredictorSummary("m", "SKD", 64, profile)], [], {}, {}, [], {})

    cores = os.cpu_count() or 1
    assert "busy" in busy_note(evaluation_with_load(4.0 * cores))
    assert busy_note(evaluation_with_load(0.1)) == ""


def test_fps_gives_a_time_pairing_checkpoint_the_nodes_pairs_even_on_thinned_frames(tmp_path, caplog):
    """A checkpoint trained on pairs 0.1 s apart, 30 fps video: with the frame rate the evaluator's maps are the
    node's (a SaliencyPipeline over every frame, stamped index / 30), also when it scores only every 4th frame;
    without, the pairs are consecutive frames and the maps differ."""
    from skd_ros.core.checkpoint import save_fused
    from skd_ros.core.model import SKDModel

    root = write_avs1k(tmp_path / "avs1k", videos=VIDEOS[:2], frames=12)
    source = open_source(root)
    torch.manual_seed(0)
    weights = tmp_path / "paired.pt"
    save_fused(SKDModel(), weights, resolution=32, meta={"pair_interval_s": 0.1, "pairs": "aligned"})
    estimator = SaliencyEstimator(weights, device="cpu", backend="eager")
    streamed = {}
    for video in VIDEOS[:2]:
        pipeline = SaliencyPipeline(estimator)
        for index in range(12):
            frame = source.read_frame(video, index)
            streamed[video, index] = pipeline.step(frame, round(index * 1e9 / 30), video).saliency
    paced = fused_predictor(estimator, fps=30, read_frame=source.read_frame)
    consecutive = fused_predictor(estimator)
    for video in VIDEOS[:2]:
        for index in (0, 4, 8, 9, 11):
            current, previous = source.read_frame(video, index), source.read_frame(video, max(index - 1, 0))
            np.testing.assert_array_equal(paced.predict(previous, current, video, index), streamed[video, index])
    assert not np.allclose(consecutive.predict(previous, current, VIDEOS[1], 11), streamed[VIDEOS[1], 11])

    looked_up = Predictor("streamed", lambda previous, current, video, index: streamed[video, index], group="SKD")
    pair = [fused_predictor(estimator, "paced", fps=30, read_frame=source.read_frame), looked_up]
    paced_row, streamed_row = evaluate(pair, source, "test", frame_step=4, progress=False, profile=False).overall()
    for metric in metrics.METRIC_NAMES:
        assert paced_row[metric] == streamed_row[metric]
    with pytest.raises(ValueError, match="positive fps"):
        fused_predictor(estimator, fps=0, read_frame=source.read_frame)

    out = tmp_path / "out"
    assert main([str(root), "--weights", str(weights), "--baselines", "--profile-seconds", "0", "--out", str(out)]) == 0
    assert "without --fps it is given consecutive frames" in caplog.text
    assert main([str(root), "--weights", str(weights), "--fps", "-1", "--out", str(out)]) == 2
