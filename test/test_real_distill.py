"""skd-train-real on generated box sequences: the samples' labels follow the crop and the flip, the folds
hold every sequence out exactly once, no fold trains on what it holds out, a rerun reuses what is done,
and skd-eval-real scores each sequence with the fold that never saw it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import cv2
import h5py
import numpy as np
import pytest
import torch
from test_real_teachers import write_stills

from skd_ros.core.checkpoint import load_fused, save_fused
from skd_ros.core.model import SKDModel
from skd_ros.core.postprocess import CentrePrior
from skd_ros.core.preprocess import MEAN_RGB, STD_RGB, preprocess
from skd_training.baselines import CentreBias
from skd_training.data.box_sequences import find_box_sequences, sequences_seen
from skd_training.evaluate.real_footage_cli import main as eval_real
from skd_training.real.cli import main as train_real
from skd_training.real.distill import (
    RealRecipe,
    SequenceSamples,
    box_blob,
    k_folds,
    photometric_jitter,
    working_frames,
)
from skd_training.real.soft_labels import SoftLabels, TeacherMix
from skd_training.real.spatial_teacher import Readout, save_readout

WIDTH, HEIGHT, SIDE = 192, 112, 16


def write_sequence(root, name: str, seed: int, frames: int = 5):
    """A bright square crossing a textured ground that pans under the camera, with its boxes."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 150, (HEIGHT // 8 + 2, WIDTH // 8 + 6, 3)).astype(np.float32)
    ground = cv2.resize(coarse, (WIDTH + 48, HEIGHT + 16), interpolation=cv2.INTER_CUBIC).astype(np.uint8)
    (root / name).mkdir(parents=True)
    start_x, y = int(rng.integers(10, 60)), int(rng.integers(10, HEIGHT - SIDE - 10))
    lines = []
    for i in range(frames):
        frame = np.ascontiguousarray(ground[8 : 8 + HEIGHT, 4 * i : 4 * i + WIDTH])
        x = start_x + 9 * i
        frame[y : y + SIDE, x : x + SIDE] = 245
        cv2.imwrite(str(root / name / f"{i + 1:06d}.jpg"), frame)
        lines.append(f"{x},{y},{SIDE},{SIDE}")
    (root / f"{name}_bbox_gt.txt").write_text("\n".join(lines) + "\n")


def write_priors(folder):
    """Stand-ins for the UAVSal prior files: a Gaussian, stored in MATLAB's order (N x W x H)."""
    folder.mkdir()
    rows, cols = np.mgrid[0:45, 0:80]
    gaussian = np.exp(-(((cols - 40) / 20) ** 2 + ((rows - 22) / 12) ** 2)).astype(np.float32)
    for name in ("AVS1K_ob_priors_train.mat", "UAV2_ob_priors_train.mat"):
        with h5py.File(folder / name, "w") as mat:
            mat["PriorMaps"] = np.stack([gaussian.T, gaussian.T])


def prepare_run(tmp_path) -> list[str]:
    """Four generated clips, stills and priors; the skd-train-real arguments for them (small and fast)."""
    for i, name in enumerate(("alpha", "bravo", "charlie", "delta")):
        write_sequence(tmp_path / "clips", name, seed=10 + i)
    write_stills(tmp_path / "stills", 8, np.random.default_rng(3))
    write_priors(tmp_path / "priors")
    return [str(tmp_path / "clips"), "--out", str(tmp_path / "run"), "--stills", str(tmp_path / "stills"),
            "--priors", str(tmp_path / "priors"), "--samples-per-sequence", "32", "--teacher-width", "128",
            "--resolution", "64"]  # fmt: skip


def test_the_labels_follow_the_crop_and_the_flip(tmp_path):
    write_sequence(tmp_path, "clip", seed=1)
    (sequence,) = find_box_sequences([tmp_path / "clip"])
    frame_height, frame_width = sequence.read(0).shape[:2]
    # a soft label that is the box's own blob over the whole frame: after any crop and flip, its peak must
    # sit where the hard label's (computed from the box in the crop's coordinates) does
    whole = (0.0, 0.0, float(frame_width), float(frame_height))
    soft = np.stack([box_blob(box, whole, False, 64) for _, box in sequence.scored()])
    samples = SequenceSamples(sequence, working_frames(sequence), soft, 64)
    rng = np.random.default_rng(0)
    recipe = RealRecipe(min_crop=0.8)
    checked = 0
    for _ in range(40):
        previous, current, soft_label, hard, prior = samples.sample(rng, recipe)
        assert prior is None
        assert previous.shape == current.shape == (3, 64, 64) and soft_label.shape == (64, 64)
        if hard is None:
            continue
        checked += 1
        soft_peak = np.array(np.unravel_index(np.argmax(soft_label), soft_label.shape))
        hard_peak = np.array(np.unravel_index(np.argmax(hard), hard.shape))
        assert np.abs(soft_peak - hard_peak).max() <= 2, (soft_peak, hard_peak)
        # the bright square is where the labels say (the image went through the same crop and flip)
        brightness = current.mean(axis=0)
        assert brightness[tuple(hard_peak)] > np.percentile(brightness, 90)
    assert checked > 20
    assert box_blob(np.array([0.0, 0.0, 4.0, 4.0]), (100.0, 0.0, 50.0, 50.0), False, 64) is None  # cut away


def test_the_prior_in_the_loss_follows_the_crop_and_the_flip_as_the_soft_label_does(tmp_path):
    write_sequence(tmp_path, "clip", seed=1)
    (sequence,) = find_box_sequences([tmp_path / "clip"])
    prior = CentrePrior(0.1, 0.3, 1.0).weights(64, 64)
    prior[:, :20] *= 0.5  # not mirror-symmetric, so that a flip shows
    soft = np.stack([prior] * len(sequence.boxes))  # a soft label that is the prior itself
    samples = SequenceSamples(sequence, working_frames(sequence), soft, 64)
    samples.prior = prior
    rng, recipe = np.random.default_rng(1), RealRecipe(min_crop=0.75)
    found = [samples.sample(rng, recipe) for _ in range(10)]
    for _, _, soft_label, _, cropped in found:
        assert cropped.shape == (64, 64) and np.array_equal(cropped, soft_label)
    assert len({float(cropped[32, 5]) for *_, cropped in found}) > 5  # crops and flips that differ
    with pytest.raises(ValueError, match="prior_in_loss needs centre_prior"):
        RealRecipe(prior_in_loss=True, centre_prior=False)


def test_training_pairs_are_aligned_as_the_runtime_aligns_them(tmp_path):
    write_sequence(tmp_path, "clip", seed=2)
    (sequence,) = find_box_sequences([tmp_path / "clip"])
    soft = np.zeros((len(sequence.boxes), 64, 64), np.float32)
    samples = SequenceSamples(sequence, working_frames(sequence), soft, 64)
    differences = {}
    for pairs in ("aligned", "raw"):
        recipe, rng = RealRecipe(pairs=pairs, self_pair=0.0), np.random.default_rng(7)
        found = [samples.sample(rng, recipe) for _ in range(12)]  # the same crops, flips and frames for both
        # the ground pans under the camera: raw pairs differ all over it, aligned ones only where the square is
        differences[pairs] = np.median([np.median(np.abs(p - c)) for p, c, *_ in found])
    assert differences["aligned"] < 0.5 * differences["raw"], differences


def test_a_pasted_target_is_where_its_labels_say_and_the_clips_stay_untouched(tmp_path):
    for name, seed in (("donor", 3), ("host", 4)):
        write_sequence(tmp_path, name, seed=seed)
    donor, host = (find_box_sequences([tmp_path / n])[0] for n in ("donor", "host"))
    soft = np.zeros((len(host.boxes), 64, 64), np.float32)  # the host's teachers see nothing
    samples = SequenceSamples(host, working_frames(host), soft, 64)
    before = [f.copy() for f in samples.frames]
    samples.donors = SequenceSamples(donor, working_frames(donor), soft, 64).patches()
    assert samples.donors
    rng, recipe = np.random.default_rng(5), RealRecipe(paste=1.0, min_crop=1.0)
    for _ in range(20):
        previous, current, soft_label, hard, _ = samples.sample(rng, recipe)
        assert soft_label.max() > 0.5  # only the pasted target can have put anything there
        peak = np.unravel_index(np.argmax(soft_label), soft_label.shape)
        brightness = current.mean(axis=0)
        assert brightness[peak] > np.percentile(brightness, 90)
        assert hard is not None and hard[peak] > 0.5
    assert all(np.array_equal(a, b) for a, b in zip(before, samples.frames, strict=True))


def test_photometric_jitter_changes_a_pair_alike_and_keeps_what_moved():
    rng = np.random.default_rng(2)
    still = rng.integers(30, 220, (48, 48, 3), dtype=np.uint8)
    moved = still.copy()
    moved[10:20, 10:20] = 250
    previous, current = (preprocess(f, 48) for f in (still, moved))
    seen = set()
    for _ in range(20):
        jittered_previous, jittered_current = photometric_jitter([previous, current], 0.3, rng)
        # one change for both frames: where they were equal they stay equal, where the square was they differ
        unchanged = np.abs(jittered_previous - jittered_current).max(axis=0)
        assert unchanged[30:, 30:].max() < 1e-5 and unchanged[12:18, 12:18].min() > 0.1
        seen.add(round(float(jittered_previous.mean()), 3))
        # still a frame the preprocessing could have made: RGB in [0, 1] once the normalisation is undone
        pixels = jittered_current * STD_RGB[:, None, None] + MEAN_RGB[:, None, None]
        assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    assert len(seen) > 15  # a new change each time
    with pytest.raises(ValueError, match="photometric"):
        RealRecipe(photometric=1.0)
    for crop in (0.0, 1.5):
        with pytest.raises(ValueError, match="min_crop"):
            RealRecipe(min_crop=crop)


def test_the_runtime_prior_is_the_teacher_mixs_prior_as_a_centred_gaussian(tmp_path):
    write_priors(tmp_path / "priors")
    no_spatial_teacher = SimpleNamespace(width=128, centre=False)  # the prior needs none
    labels = SoftLabels(tmp_path / "cache", no_spatial_teacher, tmp_path / "priors")
    # write_priors' Gaussian: exp(-(dx / 20)^2 - (dy / 12)^2) on 80 x 45 cells, i.e. standard deviations of
    # 20 / sqrt(2) / 80 frame widths and 12 / sqrt(2) / 45 frame heights, a little less where the frame's
    # border cuts the tails
    aerial = labels.centre_prior(TeacherMix(0.5, "aerial", 0.5))
    assert aerial.power == 0.5
    assert aerial.sigma_x == pytest.approx(20 / np.sqrt(2) / 80, abs=0.01)
    assert aerial.sigma_y == pytest.approx(12 / np.sqrt(2) / 45, abs=0.01)
    centre = labels.centre_prior(TeacherMix(0.5, "centre", 0.5))
    assert centre.sigma_x == centre.sigma_y == CentreBias().sigma
    assert labels.centre_prior(TeacherMix(0.5, None, 0.0)) is None


def test_folds_hold_every_sequence_out_once():
    names = [f"s{i}" for i in range(7)]
    folds = k_folds(names, 3, seed=5)
    assert sorted(sum(folds, [])) == names and all(folds)
    assert folds == k_folds(names, 3, seed=5) and folds != k_folds(names, 3, seed=6)
    with pytest.raises(ValueError, match="2 <= k <= 7"):
        k_folds(names, 8, seed=0)


def test_pairs_lie_pair_gap_frames_apart_and_the_first_frames_pair_with_the_oldest(tmp_path):
    write_sequence(tmp_path, "clip", seed=2, frames=6)
    (sequence,) = find_box_sequences([tmp_path / "clip"])
    shape = working_frames(sequence)[0].shape
    levels = [20 + 40 * i for i in range(6)]  # frame i is grey level 20 + 40 i all over
    frames = [np.full(shape, level, np.uint8) for level in levels]
    samples = SequenceSamples(sequence, frames, np.zeros((6, 64, 64), np.float32), 64)

    def index_of(tensor: np.ndarray) -> int:
        return levels.index(int(round(float((tensor[0] * STD_RGB[0] + MEAN_RGB[0]).mean() * 255))))

    rng = np.random.default_rng(0)
    found = set()
    for _ in range(40):
        previous, current, *_ = samples.sample(rng, RealRecipe(pairs="raw", pair_gap=2, self_pair=0.0))
        found.add((index_of(previous), index_of(current)))
    assert found == {(0, 0), (0, 1)} | {(i - 2, i) for i in range(2, 6)}
    with pytest.raises(ValueError, match="pair_gap"):
        RealRecipe(pair_gap=0)


def test_train_real_k_fold_then_final_and_the_evaluation_routes_each_sequence(tmp_path, restore_torch_threads, capsys):
    out = tmp_path / "run"
    # a clip of one's own without boxes: the teachers label it and every student trains on it
    write_sequence(tmp_path / "mine", "echo", seed=20)
    (tmp_path / "mine" / "echo_bbox_gt.txt").unlink()
    args = [*prepare_run(tmp_path), "--folds", "2", "--epochs", "2", "--unlabeled", str(tmp_path / "mine" / "echo"),
            "--seed", "3", "--fold-seed", "0", "--motion-width", "192"]  # fmt: skip
    assert train_real(args) == 0
    manifest = json.loads((out / "folds.json").read_text())
    held = [name for fold in manifest["folds"] for name in fold["held_out"]]
    assert sorted(held) == ["alpha", "bravo", "charlie", "delta"]  # the unlabeled clip is never held out
    # the split of --fold-seed, not of the training's --seed
    names = ["alpha", "bravo", "charlie", "delta"]
    assert [fold["held_out"] for fold in manifest["folds"]] == k_folds(names, 2, 0) != k_folds(names, 2, 3)
    assert manifest["fold_seed"] == 0 and manifest["recipe"]["seed"] == 3
    assert manifest["teacher_width"] == 128 and manifest["motion_width"] == 192  # what the teacher rows recompute
    for fold in manifest["folds"]:
        model, resolution, meta = load_fused(out / fold["checkpoint"])
        assert resolution == 64 and not set(meta["real_sequences"]) & set(fold["held_out"])
        assert "echo" in meta["real_sequences"] and meta["unlabeled_sequences"] == ["echo"]
        assert meta["teacher_mix"] == fold["teacher_mix"]
        assert meta["pairs"] == "aligned"  # the default: the runtime aligns the pairs for such a checkpoint
        assert meta["pair_interval_s"] == 0.1  # consecutive frames of 10 fps clips: the runtime pairs live ones so
        # the runtime's centre prior is the prior of the teacher mix the fold learned from
        prior = CentrePrior.of(meta)
        if fold["teacher_mix"]["prior"] is None:
            assert prior is None
        else:
            assert prior is not None and prior.power == fold["teacher_mix"]["prior_power"]
        with torch.no_grad():
            saliency = model(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 64))
        assert saliency.shape == (1, 1, 64, 64) and torch.isfinite(saliency).all()
    final_meta = load_fused(out / "skd_fused_64.pt")[2]
    assert final_meta["real_sequences"] == ["alpha", "bravo", "charlie", "delta", "echo"]
    for name in ("alpha", "echo"):
        assert (out / "cache" / name / "motion_w192_r64.npz").is_file()
        assert (out / "cache" / name / "spatial_w128_content_r64.npz").is_file()
    capsys.readouterr()

    assert train_real(args) == 0  # a rerun reuses the readout, the maps and the checkpoints
    assert capsys.readouterr().out.count("already trained on these sequences, reused") == 3

    report = tmp_path / "report" / "REAL.md"
    code = eval_real([str(tmp_path / "clips"), "--model", f"k-fold={out / 'folds.json'}",
                      "--model", f"final={out / 'skd_fused_64.pt'}", "--teachers", str(out),
                      "--priors", str(tmp_path / "priors"), "--no-baselines", "--out", str(report),
                      "--figures", str(tmp_path / "report" / "figs"), "--sheet-frames", "0"])  # fmt: skip
    assert code == 0
    results = json.loads(report.with_suffix(".json").read_text())
    by_fold = {name: fold["checkpoint"] for fold in manifest["folds"] for name in fold["held_out"]}
    scored = results["k-fold"]["per_sequence"]
    assert {name: scored[name]["scored_by"] for name in scored} == by_fold
    assert not any(results["final"]["per_sequence"].values())  # it saw every sequence: it scores none
    teachers = {name: row for name, row in results.items() if row["group"] == "teacher"}
    assert len(teachers) == 3 and all(all(row["per_sequence"].values()) for row in teachers.values())
    assert "echo" not in scored

    # the bright square moves against the pan: the motion teacher's peak finds it
    motion = next(row for name, row in teachers.items() if name.startswith("Motion teacher"))
    assert motion["mean"]["peak_on_target"] > 0.5


def test_a_missing_unlabeled_folder_is_named_before_any_training(tmp_path, capsys):
    args = [*prepare_run(tmp_path), "--unlabeled", str(tmp_path / "no_such_flight")]
    assert train_real(args) == 2
    assert "no_such_flight does not exist" in capsys.readouterr().err
    assert not (tmp_path / "run" / "spatial_readout.pt").exists()


def test_a_motion_width_too_small_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_real([*prepare_run(tmp_path), "--motion-width", "8"])
    assert exit_info.value.code == 2
    assert "--motion-width: must be at least 32 pixels, got 8" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_readout_trained_at_another_side_is_refused_before_it_labels_anything(tmp_path, capsys):
    """The run folder's readout and its cached maps belong together: asked for another --readout-side, the run
    stops and says so instead of mixing the two teachers' maps."""
    args = prepare_run(tmp_path)
    channels = 416
    save_readout(Readout(torch.zeros(channels), torch.ones(channels)), tmp_path / "run" / "spatial_readout.pt",
                 {"long_side": 448})  # fmt: skip
    assert train_real([*args, "--readout-side", "640"]) == 2
    assert "trained on stills 448 px on the long side, not --readout-side 640" in capsys.readouterr().err
    assert not (tmp_path / "run" / "cache").exists()


def test_missing_stills_are_named(tmp_path, capsys):
    write_sequence(tmp_path / "clips", "alpha", seed=1)
    code = train_real([str(tmp_path / "clips"), "--out", str(tmp_path / "run"), "--stills", str(tmp_path / "none")])
    assert code == 2
    assert "none/stimuli does not exist" in capsys.readouterr().err


def test_a_fold_never_starts_from_weights_that_saw_what_it_holds_out(tmp_path, restore_torch_threads, capsys):
    base = prepare_run(tmp_path)
    # a model of synthetic scenes whose run also read alpha's frames (unlabeled), and bravo by name
    start = tmp_path / "synthetic.pt"
    save_fused(SKDModel(), start, 64, {"data": {"unlabeled": [{"path": str(tmp_path / "clips" / "alpha")}]},
                                       "real_sequences": ["bravo"]})  # fmt: skip
    assert sequences_seen(load_fused(start)[2], find_box_sequences([tmp_path / "clips"])) == {"alpha", "bravo"}
    out = tmp_path / "run"
    args = [*base, "--init", str(start), "--folds", "4", "--epochs", "1"]
    assert train_real(args) == 0
    for fold in json.loads((out / "folds.json").read_text())["folds"]:
        (held_out,) = fold["held_out"]
        assert fold["init"] == ("scratch" if held_out in ("alpha", "bravo") else str(start)), fold
        seen = load_fused(out / fold["checkpoint"])[2]["real_sequences"]
        assert held_out not in seen
    final = load_fused(out / "skd_fused_64.pt")[2]
    assert final["init"] == str(start) and final["real_sequences"] == ["alpha", "bravo", "charlie", "delta"]
    assert "from scratch, as" in capsys.readouterr().out
    assert train_real([*args, "--init", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt does not exist" in capsys.readouterr().err
