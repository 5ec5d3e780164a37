"""The sizes of a reproduction (``skd-reproduce --preset``): which training recipe, which sweeps, how much data,
training and evaluation, and what the reproduction changes in the recipe (``recipe_overrides``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

# The paper's Step 2 trains the fused model on the hard loss alone. Config default's Step 2 also learns from the
# teachers (fuse.lam > 0, docs/TRAINING.md); here that would put the teachers' maps into every point of the lambda
# sweep, which varies Step 1 only. ``--set fuse.lam=0.5`` measures config default's Step 2 instead.
PAPER_STEP2 = ("fuse.lam=0",)
# a smaller budget than config default's: every 8th training frame, no MIT1003 pretraining, no unlabeled video
SMALL_BUDGET = (
    "data.unlabeled=[]",
    "teachers.spatial.pretrain=null",
    "teachers.spatial.epochs=3",
    "teachers.temporal.epochs=3",
    "students.epochs=8",
    "fuse.epochs=15",
)


@dataclass(frozen=True)
class Preset:
    """A size for the whole reproduction: which training config (the recipe, ``--config`` replaces it), which
    sweeps, how much data, training and evaluation. ``overrides`` change sizes and budgets only, so that they
    apply to any recipe. ``teacher_resolution``: the one resolution the teachers label at, for every R (at least
    the largest R). ``spatial_teachers``: entries of ``spatial_teachers.yaml`` for Table III's teacher half
    (None: all). ``synthetic``: the generator preset (``skd-make-synthetic --preset``) used when the data
    folder does not exist yet."""

    config: str
    resolutions: tuple[int, ...]
    lambdas: tuple[float, ...]
    synthetic: str
    teacher_resolution: int
    spatial_teachers: tuple[str, ...] | None = None
    overrides: tuple[str, ...] = ()
    train_frame_step: int = 1
    val_frame_step: int = 1
    max_frames_per_video: int | None = None
    profile_seconds: float = 0.5  # timing per network for the FPS column
    description: str = ""


MEDIUM = Preset(
    config="default",
    resolutions=(32, 64, 128, 256),
    lambdas=(0.0, 0.25, 0.5, 0.75, 1.0),
    synthetic="medium",
    teacher_resolution=256,
    overrides=SMALL_BUDGET,
    train_frame_step=8,
    val_frame_step=8,
    max_frames_per_video=8,
    description="config `default` with a small training budget (every 8th training frame, 3/8/15 epochs for "
    "teachers/students/fused model) on the medium synthetic benchmark (60 clips at 640x360), R = 32-256 with "
    "teachers at 256 px: about 3 h on one CPU thread with 3 seeds (R = 256 and its teachers over half of it)",
)
PRESETS = {
    "full": Preset(
        config="default",
        resolutions=(32, 64, 128, 256),
        lambdas=(0.0, 0.25, 0.5, 0.75, 1.0),
        synthetic="full",
        teacher_resolution=256,
        overrides=("data.unlabeled=[]",),
        max_frames_per_video=30,
        description="config `default` on the full synthetic benchmark (300 clips at 1280x720), teachers at 256 px: "
        "a GPU job",
    ),
    "medium": MEDIUM,
    # R = 256 (and the 256 px teachers it needs) costs more than everything else together on a CPU
    "compact": replace(
        MEDIUM,
        resolutions=(16, 32, 64, 128),
        teacher_resolution=128,
        description="the medium preset's data and budget with R = 16-128 and teachers at 128 px (R = 256 and its "
        "256 px teachers left out): about 80 min on one CPU thread of a shared 2-core machine with 3 seeds",
    ),
    "tiny": Preset(
        config="tiny",
        resolutions=(8, 16, 32),
        lambdas=(0.0, 0.5, 1.0),
        synthetic="test",
        teacher_resolution=32,
        spatial_teachers=("U-Net",),
        # sizes of config tiny for any recipe (--config paper included)
        overrides=(
            "data.unlabeled=[]",
            "teachers.spatial.pretrain=null",
            "widths={c1: 4, c2: 8, c3: 8, head: 8}",
            "teachers.spatial.widths=[4, 8, 16]",
            "teachers.temporal.widths=[4, 8, 16]",
            "teachers.spatial.epochs=1",
            "teachers.temporal.epochs=1",
            "teachers.spatial.batch_size=4",
            "teachers.temporal.batch_size=4",
            "students.epochs=1",
            "students.batch_size=4",
            "fuse.epochs=1",
            "fuse.batch_size=4",
        ),
        max_frames_per_video=2,
        profile_seconds=0.05,
        description="seconds-long smoke run of every step on tiny data (tests); numbers mean nothing",
    ),
}


def recipe_overrides(preset: Preset, recipe: str) -> list[str]:
    """What the reproduction changes in the recipe, as the report lists it: the paper's Step 2 (config default's
    differs), the preset's one teacher resolution and budget."""
    step2 = [] if recipe == "paper" else list(PAPER_STEP2)
    return [*step2, f"teacher_resolution={preset.teacher_resolution}", *preset.overrides]
