"""skd-reproduce: the plan of training runs, the verdicts on the paper's findings, and the whole command
on tiny generated data writing every section of the report."""

import csv
import json
import logging

import cv2
import numpy as np
import pytest
import torch
import yaml

from skd_ros.engines.export import save_torchscript
from skd_tools.reproduction.findings import BETTER, UNDECIDED, WORSE, Reproduction, Stat, compare, findings, verdict
from skd_tools.reproduction.plan import make_plan
from skd_tools.reproduction.recipe import recipe_differences
from skd_tools.reproduction.run import main
from skd_training.evaluate.cli import main as evaluate_main
from skd_training.evaluate.results import Evaluation, PredictorSummary
from skd_training.teachers import SpatialTeacherNet

SPLITS = {
    "trainSet": ("Vehicle_00001", "Human_00002"),
    "validSet": ("Vehicle_00003",),
    "testSet": ("Vehicle_00004", "Building_00005"),
}


def write_tiny_avs1k(root, splits=SPLITS, frames=4, size=(32, 48)):
    """Per video a red square drifting over blurred noise; density: a Gaussian on it; one fixation on it."""
    rng = np.random.default_rng(0)
    rows, cols = size
    yy, xx = np.mgrid[:rows, :cols]
    for split, videos in splits.items():
        for name in videos:
            background = cv2.GaussianBlur(rng.integers(0, 255, (rows, cols, 3), dtype=np.uint8), (0, 0), 2)
            x, y = int(rng.integers(4, cols - 12)), int(rng.integers(4, rows - 12))
            for t in range(frames):
                frame = background.copy()
                frame[y : y + 6, x + t : x + t + 6] = (40, 40, 250)
                density = np.exp(-((yy - y - 3) ** 2 + (xx - x - t - 3) ** 2) / 18.0)
                fixation = np.zeros((rows, cols), np.uint8)
                fixation[y + 3, x + t + 3] = 255
                for folder, image in (
                    ("Frame", frame),
                    ("Ground", (density * 255).astype(np.uint8)),
                    ("Fixation", fixation),
                ):
                    directory = root / split / folder / name
                    directory.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(directory / f"{name}_{t + 1:05d}.png"), image)
    return root


def test_plan_trains_every_row_with_every_seed_and_borrows_from_the_base_run():
    teachers = {"U-Net": {}, "Narrow": {"widths": [4, 8]}}
    plan = make_plan(64, 0.5, [0, 1], (32, 64, 256), (0.0, 0.5, 1.0), spatial_teachers=teachers)
    assert plan.resolution[64] is plan.base and plan.lambdas[0.5] is plan.base and plan.teachers["U-Net"] is plan.base
    first, second = plan.base.variants
    assert first.stages == ("teachers", "soft-labels", "students", "fuse") and second.stages == ("students", "fuse")
    assert second.key == "base_seed1" and second.links == (("base", "soft_labels"),)
    assert plan.resolution[256].variants[1].key == "res_256_seed1"
    # each seed's ablation-S is that seed's spatial student
    assert [v.copies for v in plan.ablation["S"].variants] == [
        (("base", "student_spatial"),),
        (("base_seed1", "student_spatial"),),
    ]
    assert plan.ablation["O"].variants[1].ablation == "O" and not plan.ablation["O"].variants[1].copies
    assert not plan.lambdas[0.0].variants[0].links  # lambda = 0 uses no soft labels
    assert [v.seed for v in plan.lambdas[1.0].variants] == [0, 1]
    # a teacher row trains its spatial teacher once; the temporal side is the base run's of the same seed
    narrow, narrow_seed1 = plan.teachers["Narrow"].variants
    assert narrow.spatial_teacher == {"widths": [4, 8]} and "teachers" in narrow.stages
    assert narrow.links == (("base", "soft_labels/temporal"),)
    assert narrow.copies == (("base", "teacher_temporal"), ("base", "student_temporal"))
    assert narrow_seed1.links == (("teacher_narrow", "soft_labels"),)
    assert narrow_seed1.copies == (("base_seed1", "student_temporal"),)
    keys = [v.key for v in plan.variants()]
    assert (
        len(keys) == len(set(keys)) == 2 * (1 + 2 + 3 + 2 + 1)
    )  # per seed: base, 2 R, 3 ablations, 2 lambdas, 1 teacher
    # seed by seed, each seed's base run first (the others borrow from it), the costliest runs last
    assert keys[0] == "base" and keys[9] == "base_seed1" and keys[8] == "res_256" and keys[-1] == "res_256_seed1"


def fake_reproduction(nss: dict[str, list[float]]) -> Reproduction:
    """A Reproduction whose models score the given NSS per seed (and NSS / 3 as CC) on one frame."""
    groups = {"Centre bias": "baseline", "Teacher-spatial": "teacher"}
    frames, summaries, rows = [], [], {}
    for name, values in nss.items():
        rows[name] = []
        for seed, value in enumerate(values):
            predictor = f"{name} seed {seed}" if len(values) > 1 else name
            rows[name].append(predictor)
            scores = {
                "AUC": 0.5 + value / 10,
                "sAUC": 0.5 + value / 20,
                "NSS": value,
                "SIM": 0.3,
                "CC": value / 3,
                "KLD": 1.0,
            }
            frames.append({"predictor": predictor, "video": "Vehicle_1", "category": "Vehicle", "index": 0, **scores})
            summaries.append(PredictorSummary(predictor, groups.get(name, "SKD"), None, None))
    evaluation = Evaluation(
        summaries,
        frames,
        {},
        {},
        [],
        {"split": "test", "videos": 1, "frames": 1, "max_frames_per_video": None, "notes": []},
    )
    return Reproduction(
        evaluation=evaluation,
        base_name="SKD-64",
        base_resolution=64,
        base_lambda=0.5,
        base_models=rows["SKD-64"],
        resolution_models={32: rows["SKD-32"], 64: rows["SKD-64"], 256: rows["SKD-256"]},
        ablation_models={"S": rows["A-S"], "T": rows["A-T"], "O": rows["A-O"]},
        lambda_models={0.0: rows["L0"], 0.5: rows["SKD-64"], 1.0: rows["L1"]},
        teacher_models={"U-Net": rows["SKD-64"], "Narrow": rows["Narrow"]},
        teacher_predictors={"U-Net": "Teacher-spatial", "Narrow": "Teacher-spatial"},
        table1_rows=[
            ("SKD-32", "SKD", rows["SKD-32"]),
            ("SKD-64", "SKD", rows["SKD-64"]),
            ("Teacher-spatial", "teacher", rows["Teacher-spatial"]),
            ("Centre bias", "baseline", rows["Centre bias"]),
        ],
    )


def claims(rep):
    return {f.claim.split()[0] + f.claim.split()[1]: f.verdict for f in findings(rep)}


def test_findings_agree_when_our_numbers_follow_the_paper_beyond_the_spread():
    rep = fake_reproduction(
        {
            "SKD-32": [2.0, 2.02, 1.98],
            "SKD-64": [2.5, 2.52, 2.48],
            "SKD-256": [1.6, 1.62, 1.58],
            "A-S": [2.0, 2.02, 1.98],
            "A-T": [2.0, 2.02, 1.98],
            "A-O": [1.9, 1.92, 1.88],
            "L0": [2.05, 2.07, 2.03],
            "L1": [1.5, 1.52, 1.48],
            "Narrow": [2.49, 2.53, 2.47],
            "Teacher-spatial": [2.0],
            "Centre bias": [1.2],
        }
    )
    assert claims(rep) == {
        "thebase": "agrees",
        "atR=64,": "agrees",  # the two teachers' models differ by less than the spread
        "fullSKD": "agrees",
        "lambda=": "agrees",
        "SKDbeats": "agrees",
        "thedistilled": "agrees",
    }
    assert "2.500 ± 0.020" in findings(rep)[0].ours


def test_differences_inside_the_spread_are_undecided_not_verdicts():
    rep = fake_reproduction(
        {
            "SKD-32": [2.0, 2.4, 1.6],  # mean 2.0, std 0.4: overlaps SKD-64
            "SKD-64": [2.3, 2.1, 2.2],
            "SKD-256": [2.3, 2.6, 2.0],
            "A-S": [2.5, 2.7, 2.6],  # beats full SKD beyond the spread
            "A-T": [2.1, 2.25, 2.2],
            "A-O": [1.0, 1.1, 0.9],
            "L0": [2.2, 2.25, 2.15],
            "L1": [1.0, 1.1, 0.9],
            "Narrow": [1.0, 1.1, 0.9],
            "Teacher-spatial": [2.5],
            "Centre bias": [2.25],
        }
    )
    assert claims(rep) == {
        "thebase": "undecided",
        "atR=64,": "disagrees",
        "fullSKD": "mixed",
        "lambda=": "partly agrees (rest undecided)",
        "SKDbeats": "undecided",
        "thedistilled": "disagrees",
    }


def test_verdict_names_every_mixture():
    assert verdict([BETTER, BETTER]) == "agrees" and verdict([WORSE]) == "disagrees"
    assert verdict([UNDECIDED, UNDECIDED]) == "undecided"
    assert verdict([BETTER, UNDECIDED]) == "partly agrees (rest undecided)"
    assert verdict([WORSE, UNDECIDED]) == "partly disagrees (rest undecided)"
    assert verdict([BETTER, WORSE]) == "mixed"


def test_spread_decides_a_comparison():
    a, b = Stat(2.0, 0.1, 3), Stat(1.7, 0.1, 3)
    assert compare(a, b, "NSS") == BETTER and compare(b, a, "NSS") == WORSE
    assert compare(a, Stat(1.85, 0.1, 3), "NSS") == UNDECIDED
    assert compare(Stat(1.0, 0.1, 3), Stat(1.5, 0.1, 3), "KLD") == BETTER  # lower is better
    assert Stat(1.7235, 0.0812, 3).cell() == "1.724 ± 0.081" and Stat(1.5, float("nan"), 1).cell() == "1.500"
    assert Stat(float("nan"), float("nan"), 0).cell() == "n/a"


def test_every_difference_between_the_default_and_the_paper_recipe_has_a_reason():
    differences = {d.key: d for d in recipe_differences()}
    assert {"students.loss", "fuse.loss", "fuse.lam", "data.unlabeled"} <= set(differences)
    assert all(d.reason != "no reason recorded" for d in differences.values()), sorted(differences)
    assert differences["students.loss"].paper == {"l2": 1.0, "kld": 0.0, "cc": 0.0}
    assert "students.lam" not in differences and "resolution" not in differences  # the same in both


TORCHSCRIPT_TEACHER = "Exported U-Net (TorchScript)"
MISSING_TEACHER = "Missing (ONNX)"


@pytest.fixture(scope="module")
def tiny_reproduction(tmp_path_factory):
    """The tiny preset with no --data (it generates the synthetic benchmark's test-size data in the work dir),
    three seeds, and a teacher half of the recipe's spatial teacher, a TorchScript file and a missing ONNX file."""
    root = tmp_path_factory.mktemp("reproduce")
    report, figures, work = root / "docs" / "REPRODUCTION.md", root / "docs" / "figures", root / "work"
    torch.manual_seed(0)
    exported = save_torchscript(SpatialTeacherNet((4, 8, 16)).eval(), root / "teacher.pt", 32)
    teachers = root / "teachers.yaml"
    teachers.write_text(
        yaml.safe_dump(
            {
                "U-Net": {},
                TORCHSCRIPT_TEACHER: {"type": "torchscript", "path": str(exported)},
                MISSING_TEACHER: {"type": "onnx", "path": str(root / "missing.onnx")},
            }
        )
    )
    argv = [
        "--preset",
        "tiny",
        "--work-dir",
        str(work),
        "--report",
        str(report),
        "--figures",
        str(figures),
        "--resolutions",
        "8",
        "16",
        "--lambdas",
        "0.5",
        "1",
        "--spatial-teachers",
        str(teachers),
        "--device",
        "cpu",
        "--note",
        "a note from whoever ran it",
        "--no-progress",
    ]
    assert main(argv) == 0
    return {"report": report, "figures": figures, "work": work, "data": work / "data", "argv": argv}


def section(text, heading):
    """The lines of one section of the report."""
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end > 0 else None]


def test_tiny_reproduction_writes_every_section(tiny_reproduction):
    text = tiny_reproduction["report"].read_text()
    for heading in (
        "## What was run",
        "## Findings at a glance",
        "## The recipe: config `default` and the paper",
        "## Table I",
        "## Table II",
        "## Table III",
        "### Resolution",
        "### Spatial teacher",
        "## Table IV",
        "## Fig. 8",
        "## Training runs",
        "## Reproduce",
    ):
        assert heading in text, heading
    for model in (
        "SKD-16",
        "SKD-8",
        "Ablation-S",
        "Ablation-T",
        "Ablation-O",
        "SKD-16 λ=1 seed 2",
        "Student-spatial-16 (= Ablation-S)",
        "Teacher-spatial",
        "Teacher-temporal",
        "Centre bias",
        "Spectral residual",
        "Flow magnitude",
        "SKD-DVA-64",
    ):
        assert model in text, model
    for claim in ("beats each ablation", "lambda = 0.5", "heuristic baselines", "its teachers", "spatial teacher"):
        assert claim in text
    assert "**Data: synthetic.**" in text and "4 clips of 6 frames at 96x64" in text
    assert "numbers mean nothing" in text and "* Note: a note from whoever ran it" in text
    assert "--note" not in text  # the notes are printed once, not again inside the regenerating command
    assert "Teachers label every frame at **32 px**" in text
    for name in ("roc", "examples", "resolution", "ablation", "lambda"):
        figure = tiny_reproduction["figures"] / f"reproduction_{name}.png"
        assert figure.stat().st_size > 0
        assert f"figures/reproduction_{name}.png" in text  # linked relative to the report


def test_every_row_shows_mean_and_spread_over_three_seeds(tiny_reproduction):
    text = tiny_reproduction["report"].read_text()
    for heading in ("## Table I", "### Resolution", "### Spatial teacher", "## Table IV", "## Fig. 8"):
        three_seeds = [line for line in section(text, heading).splitlines() if "| 3 |" in line]
        assert three_seeds, heading
        assert all(" ± " in line for line in three_seeds), heading
    assert "**Hold:**" in text and "**Do not hold:**" in text and "**Undecided or only partly decided:**" in text


def test_teacher_half_has_every_spatial_teacher_and_names_the_missing_one(tiny_reproduction):
    teachers = section(tiny_reproduction["report"].read_text(), "### Spatial teacher")
    lines = {line.split(" | ")[0].lstrip("| "): line for line in teachers.splitlines() if line.startswith("| ")}
    assert " ± " in lines["U-Net"] and " ± " in lines[TORCHSCRIPT_TEACHER]
    missing = next(line for name, line in lines.items() if name.startswith(MISSING_TEACHER))
    assert "n/a: onnx file" in missing and "missing.onnx does not exist" in missing
    work = tiny_reproduction["work"]
    manifest = json.loads(
        next(
            (work / "teacher_exported-u-net-torchscript" / "soft_labels" / "spatial").rglob("soft_labels.json")
        ).read_text()
    )
    assert manifest["teacher_resolution"] == 32 and "TorchScript" in manifest["teacher"]
    # the temporal side is borrowed from the base run, not retrained
    assert (work / "teacher_exported-u-net-torchscript" / "soft_labels" / "temporal").is_symlink()


def test_a_rerun_reuses_every_finished_run(tiny_reproduction, caplog):
    student = tiny_reproduction["work"] / "res_8_seed2" / "student_spatial" / "last.pt"
    before = student.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="skd_reproduce"):
        assert main(tiny_reproduction["argv"]) == 0
    assert "already finished: reusing them" in caplog.text
    assert student.stat().st_mtime_ns == before


def test_tiny_reproduction_keeps_per_video_scores(tiny_reproduction):
    with (tiny_reproduction["work"] / "eval" / "per_video.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    test_videos = sorted(p.name for p in (tiny_reproduction["data"] / "testSet" / "Frame").iterdir())
    assert test_videos and sorted({r["video"] for r in rows}) == test_videos
    assert (tiny_reproduction["work"] / "res_8" / "final" / "skd_fused_8.pt").is_file()
    assert (tiny_reproduction["work"] / "ablation_S" / "final" / "skd_fused_16.pt").is_file()


def test_missing_split_is_a_clear_error(tmp_path, capsys):
    data = write_tiny_avs1k(tmp_path / "data", splits={"trainSet": ("Vehicle_00001",)}, frames=2)
    assert main(["--preset", "tiny", "--data", str(data), "--work-dir", str(tmp_path / "w"), "--no-progress"]) == 2
    assert "has no 'val' split" in capsys.readouterr().err


def test_skd_eval_reads_a_training_run(tiny_reproduction, tmp_path):
    out = tmp_path / "eval"
    argv = [
        str(tiny_reproduction["data"]),
        "--run-dir",
        str(tiny_reproduction["work"] / "base"),
        "--baselines",
        "--backend",
        "eager",
        "--max-frames-per-video",
        "1",
        "--profile-seconds",
        "0.01",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    assert evaluate_main(argv) == 0
    with (out / "overall.csv").open() as handle:
        names = [row["predictor"] for row in csv.DictReader(handle)]
    assert names == ["SKD-16", "Student-spatial-16", "Student-temporal-16", "Teacher-spatial", "Teacher-temporal"]
