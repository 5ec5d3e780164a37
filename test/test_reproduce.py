"""skd-reproduce: the plan of training runs, the verdicts on the paper's findings, and the whole command
on tiny generated data writing every section of the report."""

import csv

import cv2
import numpy as np
import pytest

from skd_tools.reproduction.findings import Reproduction, findings
from skd_tools.reproduction.run import main, make_plan
from skd_training.evaluate.cli import main as evaluate_main
from skd_training.evaluate.results import Evaluation, PredictorSummary

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


def test_plan_shares_the_base_run_and_borrows_from_it():
    plan = make_plan(64, 0.5, 0, resolutions=(32, 64, 256), lambdas=(0.0, 0.5, 1.0), repeats=2)
    assert plan.resolution[64] is plan.base and plan.lambdas[0.5][0] is plan.base
    assert plan.base.stages == ("teachers", "soft-labels", "students", "fuse")
    assert plan.resolution[256].stages == ("students", "fuse") and plan.resolution[256].link_soft_labels
    assert plan.ablation["S"].copy_students == ("spatial",) and plan.ablation["S"].stages == ("fuse",)
    assert plan.ablation["O"].ablation == "O" and not plan.ablation["O"].copy_students
    assert not plan.lambdas[0.0][0].link_soft_labels  # lambda = 0 uses no soft labels
    assert [v.seed for v in plan.lambdas[1.0]] == [0, 1]
    keys = [v.key for v in plan.variants()]
    assert len(keys) == len(set(keys)) == 1 + 2 + 3 + 5  # base, two resolutions, three ablations, five lambda runs


def fake_reproduction(nss: dict[str, float]) -> Reproduction:
    """A Reproduction whose models score the given NSS (and NSS / 3 as CC) on one frame."""
    groups = {"Centre bias": "baseline", "Teacher-spatial": "teacher"}
    frames = []
    for name, value in nss.items():
        scores = {
            "AUC": 0.5 + value / 10,
            "sAUC": 0.5 + value / 20,
            "NSS": value,
            "SIM": 0.3,
            "CC": value / 3,
            "KLD": 1.0,
        }
        frames.append({"predictor": name, "video": "Vehicle_1", "category": "Vehicle", "index": 0, **scores})
    summaries = [PredictorSummary(name, groups.get(name, "SKD"), None, None) for name in nss]
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
        resolution_models={32: "SKD-32", 64: "SKD-64", 256: "SKD-256"},
        ablation_models={"S": "A-S", "T": "A-T", "O": "A-O"},
        lambda_models={0.0: ["L0"], 0.5: ["SKD-64"], 1.0: ["L1"]},
        table1_models=["SKD-32", "SKD-64", "Teacher-spatial", "Centre bias"],
    )


def test_findings_agree_when_our_numbers_follow_the_paper():
    rep = fake_reproduction(
        {
            "SKD-32": 2.0,
            "SKD-64": 2.1,
            "SKD-256": 1.6,
            "A-S": 2.05,
            "A-T": 2.0,
            "A-O": 1.9,
            "L0": 2.05,
            "L1": 1.5,
            "Teacher-spatial": 2.0,
            "Centre bias": 1.2,
        }
    )
    verdicts = [f.verdict for f in findings(rep)]
    assert verdicts == ["agrees"] * 5
    assert "better on 4/5 and 4/5 metrics" in findings(rep)[0].ours  # SIM is the same for all: a tie is no win


def test_findings_disagree_when_our_numbers_contradict_the_paper():
    rep = fake_reproduction(
        {
            "SKD-32": 2.2,
            "SKD-64": 2.1,
            "SKD-256": 1.6,
            "A-S": 2.3,
            "A-T": 2.2,
            "A-O": 2.4,
            "L0": 2.05,
            "L1": 2.5,
            "Teacher-spatial": 2.5,
            "Centre bias": 2.6,
        }
    )
    by_claim = {f.claim.split()[0] + f.claim.split()[1]: f.verdict for f in findings(rep)}
    assert by_claim == {
        "themiddle": "partly agrees",
        "fullSKD": "disagrees",
        "lambdaaround": "disagrees",
        "SKDbeats": "disagrees",
        "thedistilled": "disagrees",
    }


@pytest.fixture(scope="module")
def tiny_reproduction(tmp_path_factory):
    """The tiny preset with no --data: it generates the synthetic benchmark's test-size data in the work dir."""
    root = tmp_path_factory.mktemp("reproduce")
    report, figures, work = root / "docs" / "REPRODUCTION.md", root / "docs" / "figures", root / "work"
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
        "--device",
        "cpu",
        "--note",
        "a note from whoever ran it",
        "--no-progress",
    ]
    assert main(argv) == 0
    return {"report": report, "figures": figures, "work": work, "data": work / "data"}


def test_tiny_reproduction_writes_every_section(tiny_reproduction):
    text = tiny_reproduction["report"].read_text()
    for heading in (
        "## What was run",
        "## Findings at a glance",
        "## Table I",
        "## Table II",
        "## Table III",
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
        "SKD-16 λ=1 seed 0",
        "Student-spatial-16",
        "Student-temporal-16",
        "Teacher-spatial",
        "Teacher-temporal",
        "Centre bias",
        "Spectral residual",
        "Flow magnitude",
        "SKD-DVA-64",
    ):
        assert model in text, model
    for claim in ("beats each ablation", "lambda around 0.5", "heuristic baselines", "its teachers"):
        assert claim in text
    assert "**Data: synthetic.**" in text and "4 clips of 6 frames at 96x64" in text
    assert "numbers mean nothing" in text and "* Note: a note from whoever ran it" in text
    assert "--note" not in text  # the notes are printed once, not again inside the regenerating command
    for name in ("roc", "examples", "resolution", "ablation", "lambda"):
        figure = tiny_reproduction["figures"] / f"reproduction_{name}.png"
        assert figure.stat().st_size > 0
        assert f"figures/reproduction_{name}.png" in text  # linked relative to the report


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


def test_the_costliest_runs_come_last():
    plan = make_plan(64, 0.5, 0, resolutions=(32, 64, 128, 256), lambdas=(0.0, 0.5), repeats=1)
    keys = [v.key for v in plan.variants()]
    assert keys[0] == "base" and keys[-2:] == ["res_128", "res_256"]
