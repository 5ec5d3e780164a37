"""skd-train end to end on tiny generated data: the full pipeline, stream initialisation, resume,
ablations, config and stage-order errors."""

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from skd_ros.core.checkpoint import load_fused
from skd_ros.core.model import SKDModel, Student, Widths
from skd_ros.runtime import SaliencyEstimator
from skd_training import pipeline
from skd_training.config import ConfigError, load_config
from skd_training.finished_run import open_run
from skd_training.init_fused import fused_from_student
from skd_training.pipeline import write_precomputed_soft_labels
from skd_training.teachers import PrecomputedTeacher
from skd_training.train import main


def make_tiny_data(root, seed=0, frames=6, size=(48, 64)):
    """AVS1K layout: 2 train videos and 1 val video of a small red square moving over blurred noise, with
    a Gaussian density and a one-pixel fixation on the square; plus an unlabeled frame folder."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    for split, folder, count in (("train", "trainSet", 2), ("val", "validSet", 1), ("unlabeled", None, 1)):
        for v in range(count):
            name = f"Vehicle_{split}{v}"
            if folder is None:
                dirs = {"Frame": root / "unlabeled" / name}
            else:
                dirs = {kind: root / "avs" / folder / kind / name for kind in ("Frame", "Ground", "Fixation")}
            for d in dirs.values():
                d.mkdir(parents=True)
            background = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 3)
            y, x = rng.integers(8, h - 16), rng.integers(8, w - 16)
            dy, dx = rng.integers(-2, 3, 2)
            for t in range(frames):
                cy, cx = int(np.clip(y + dy * t, 4, h - 12)), int(np.clip(x + dx * t, 4, w - 12))
                frame = background.copy()
                frame[cy : cy + 8, cx : cx + 8] = (40, 40, 250)
                file = f"{name}_{t + 1:05d}.png"
                cv2.imwrite(str(dirs["Frame"] / file), frame)
                if "Ground" in dirs:
                    density = np.exp(-((yy - cy - 4) ** 2 + (xx - cx - 4) ** 2) / 32.0)
                    cv2.imwrite(str(dirs["Ground"] / file), (density * 255).astype(np.uint8))
                    fixation = np.zeros((h, w), np.uint8)
                    fixation[cy + 4, cx + 4] = 255
                    cv2.imwrite(str(dirs["Fixation"] / file), fixation)
    return root


def tiny_args(data, run_dir, *extra):
    return [
        "--config",
        "tiny",
        "--run-dir",
        str(run_dir),
        "--no-progress",
        "--set",
        f"data.train.0.path={data / 'avs'}",
        "--set",
        f"data.val.0.path={data / 'avs'}",
        "--set",
        f"data.unlabeled=[{{path: {data / 'unlabeled'}, layout: frames}}]",
        *extra,
    ]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One `skd-train all` run on tiny data, recording the fused model's weights before Step 2 trains."""
    root = tmp_path_factory.mktemp("pipeline")
    data = make_tiny_data(root / "data")
    initial = {}
    original = pipeline.train_stage

    def spy(stage, *args, **kwargs):
        initial[stage.name] = {k: v.clone() for k, v in stage.model.state_dict().items()}
        return original(stage, *args, **kwargs)

    pipeline.train_stage = spy
    try:
        assert main(["all", *tiny_args(data, root / "run")]) == 0
    finally:
        pipeline.train_stage = original
    return {"data": data, "run": root / "run", "initial": initial}


def test_all_produces_a_checkpoint_the_node_loads(tiny_run):
    path = tiny_run["run"] / "final" / "skd_fused_16.pt"
    model, resolution, meta = load_fused(path)
    assert resolution == 16 and model.widths == Widths(4, 8, 8, 8)
    assert meta["command"].startswith("skd-train all --config tiny")
    assert {"nss", "cc", "l2"} <= set(meta["val_metrics"])
    assert meta["data"]["unlabeled"][0]["frames"] == 6
    estimator = SaliencyEstimator(weights=path, device="cpu")
    frame = np.zeros((48, 64, 3), np.uint8)
    saliency = estimator.infer(estimator.prepare(frame), estimator.prepare(frame))
    assert saliency.shape == (16, 16)
    for stage in ("teacher_spatial", "teacher_temporal", "student_spatial", "student_temporal", "fused"):
        assert (tiny_run["run"] / stage / "best.pt").exists(), stage
    # the unlabeled video was labelled by both teachers
    for kind in ("spatial", "temporal"):
        assert len(list((tiny_run["run"] / "soft_labels" / kind).rglob("Vehicle_unlabeled0/*.png"))) == 6


def test_a_finished_run_opens_for_evaluation(tiny_run):
    run = open_run(tiny_run["run"])
    students = run.students()
    assert students["temporal"].kind == "temporal" and not students["temporal"].training
    teacher = run.teacher("spatial")
    maps = teacher.predict({"previous_hr": torch.zeros(1, 3, 32, 32), "current_hr": torch.zeros(1, 3, 32, 32)})
    assert maps.shape == (1, 1, 32, 32)


def test_fused_streams_start_as_the_students_first_eight_layers(tiny_run):
    fused_start = tiny_run["initial"]["fused"]
    for kind in ("spatial", "temporal"):
        student = torch.load(tiny_run["run"] / f"student_{kind}" / "best.pt", weights_only=True)["state_dict"]
        stream = {k[len("stream.") :]: v for k, v in student.items() if k.startswith("stream.")}
        assert stream
        for key, value in stream.items():
            assert torch.equal(fused_start[f"{kind}.{key}"], value), key
    # a truncated normal cut at 2 std, std = sqrt(2 / fan_in) (a stride-2 transposed conv: 1/4 of its kernel)
    head = SKDModel(Widths(4, 8, 8, 8)).head
    for name, module in head.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
            fan_in //= 4 if isinstance(module, torch.nn.ConvTranspose2d) else 1
            weights = fused_start[f"head.{name}.weight"]
            assert 0 < weights.abs().max() <= 2 * (2 / fan_in) ** 0.5 + 1e-6
            assert not fused_start[f"head.{name}.bias"].any()


def test_resume_continues_from_the_saved_epoch(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run["run"], run)
    before = json.loads((run / "student_spatial" / "history.json").read_text())
    assert main(["students", *tiny_args(tiny_run["data"], run, "--resume", "--set", "students.epochs=3")]) == 0
    after = json.loads((run / "student_spatial" / "history.json").read_text())
    assert [r["epoch"] for r in after] == [1, 2, 3]
    assert after[:2] == before


def test_step2_can_also_learn_from_soft_labels_and_unlabeled_video(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run["run"], run)
    args = tiny_args(tiny_run["data"], run, "--overwrite", "--set", "fuse.lam=0.5", "--set", "fuse.soft_from=both")
    assert main(["fuse", *args]) == 0
    fingerprint = torch.load(run / "fused" / "last.pt", weights_only=True)["fingerprint"]
    assert fingerprint["lam"] == 0.5 and fingerprint["soft_from"] == "both"
    assert any("unlabeled" in source[0] for source in fingerprint["data"])


def test_fuse_before_students_is_a_clear_error(tiny_run, tmp_path, capsys):
    assert main(["fuse", *tiny_args(tiny_run["data"], tmp_path / "empty")]) == 2
    assert "run `skd-train students` first" in capsys.readouterr().err


def test_a_mismatched_resume_is_refused(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run["run"], run)
    assert main(["students", *tiny_args(tiny_run["data"], run, "--resume", "--set", "students.lam=0.9")]) == 2
    assert "lam: checkpoint 0.5, now 0.9" in capsys.readouterr().err


def test_soft_labels_of_another_teacher_resolution_are_refused_naming_both(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run["run"], run)
    manifest = next((run / "soft_labels" / "spatial").rglob("soft_labels.json"))
    assert json.loads(manifest.read_text())["teacher_resolution"] == 32  # recorded where they were computed
    args = tiny_args(tiny_run["data"], run, "--resume", "--set", "teacher_resolution=64")
    assert main(["students", *args]) == 2
    error = capsys.readouterr().err
    assert "were computed at teacher resolution 32 px, but the config asks for teacher_resolution 64" in error


def test_students_above_the_teacher_resolution_are_refused():
    with pytest.raises(ConfigError, match="resolution 64 is above teacher_resolution 32"):
        load_config("tiny", ["resolution=64"])
    assert load_config("tiny", ["resolution=64", "ablation=O"]).resolution == 64  # Ablation-O has no teachers


def test_the_paper_recipe_runs(tiny_run, tmp_path):
    """``--config paper``: the paper's losses and Step 2 (sizes shrunk to the tiny data)."""
    run = tmp_path / "paper"
    shrink = ["widths={c1: 4, c2: 8, c3: 8, head: 8}", "resolution=16", "teacher_resolution=32"]
    for kind in ("spatial", "temporal"):
        shrink += [f"teachers.{kind}.widths=[4, 8, 16]", f"teachers.{kind}.epochs=1", f"teachers.{kind}.batch_size=4"]
    shrink += ["teachers.spatial.pretrain=null", "students.epochs=1", "fuse.epochs=1", "device=cpu"]
    shrink += [f"data.cache_dir={tmp_path / 'cache'}"]
    data = tiny_run["data"] / "avs"
    args = ["--config", "paper", "--run-dir", str(run), "--no-progress"]
    args += ["--set", f"data.train.0.path={data}", "--set", f"data.val.0.path={data}"]
    for override in shrink:
        args += ["--set", override]
    assert main(["all", *args]) == 0
    meta = load_fused(run / "final" / "skd_fused_16.pt")[2]
    assert meta["command"].startswith("skd-train all --config paper")
    config = meta["config"]
    assert config["students"]["loss"] == {"l2": 1.0, "kld": 0.0, "cc": 0.0} and config["students"]["lam"] == 0.5
    assert config["fuse"]["lam"] == 0.0 and config["fuse"]["loss"] == {"l2": 1.0, "kld": 0.0, "cc": 0.0}
    assert config["data"]["unlabeled"] == []
    fingerprint = torch.load(run / "fused" / "last.pt", weights_only=True)["fingerprint"]
    assert fingerprint["init"] == "students" and "lam" not in fingerprint  # Step 2 on the hard loss alone


def test_ablation_o_trains_the_fused_model_alone(tiny_run, tmp_path):
    run = tmp_path / "o"
    assert main(["all", *tiny_args(tiny_run["data"], run, "--ablation", "O")]) == 0
    assert (run / "fused_scratch" / "best.pt").exists()
    assert not (run / "teacher_spatial").exists() and not (run / "student_spatial").exists()
    assert load_fused(run / "final" / "skd_fused_16.pt")[2]["ablation"] == "O"


@pytest.mark.parametrize("kind", ["spatial", "temporal"])
def test_student_as_fused_model_computes_the_student(kind):
    torch.manual_seed(0)
    student = Student(kind, Widths(4, 8, 8, 8)).eval()
    fused = fused_from_student(student)
    generator = torch.Generator().manual_seed(1)
    previous, current = torch.randn(2, 3, 16, 16, generator=generator), torch.randn(2, 3, 16, 16, generator=generator)
    student_input = current if kind == "spatial" else torch.cat([previous, current], 1)
    with torch.no_grad():
        assert torch.allclose(fused(previous, current), student(student_input), atol=1e-6)


def test_config_errors_name_the_key(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown key config.students.lambda"):
        load_config("tiny", ["students.lambda=0.3"])
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        load_config("tiny", ["students.lam=2"])
    with pytest.raises(ConfigError, match="ablation"):
        load_config("tiny", ["ablation=X"])
    assert main(["all", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "neither a file nor a bundled config" in capsys.readouterr().err


def test_bundled_configs_are_valid():
    for name in ("tiny", "default", "paper"):
        config = load_config(name)
        assert config.students.lam == 0.5


def test_precomputed_maps_become_soft_labels(tiny_run, tmp_path):
    from skd_training.data import SaliencyVideoDataset

    dataset = SaliencyVideoDataset(tiny_run["data"] / "avs", split="val", resolution=16, teacher_resolution=32)
    maps = tmp_path / "maps" / "Vehicle_val0"
    maps.mkdir(parents=True)
    for t in range(6):
        image = np.zeros((48, 64), np.uint8)
        image[:, 32:] = 100 + t
        cv2.imwrite(str(maps / f"{t:04d}.png"), image)
    teacher = PrecomputedTeacher(tmp_path / "maps", "spatial")
    out = tmp_path / "soft"
    assert write_precomputed_soft_labels(teacher, dataset, out, teacher.describe(), progress=False) == 6
    labelled = SaliencyVideoDataset(
        tiny_run["data"] / "avs", split="val", resolution=16, teacher_resolution=32, soft_labels=out
    )
    soft = labelled[0]["soft"]
    assert soft[0, :, 8:].min() == pytest.approx(1.0) and soft[0, :, :8].max() == pytest.approx(0.0)
