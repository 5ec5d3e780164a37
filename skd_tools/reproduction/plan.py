"""The plan of a reproduction: the rows of the paper's tables, one training run (``Variant``) per row and seed,
and what each run borrows from the runs before it (``make_plan``); the spatial teachers of Table III's teacher
half (``spatial_teachers.yaml``: ``read_spatial_teachers``, ``resolve_spatial_teachers``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from skd_training.config import ConfigError, PipelineConfig, apply_overrides, config_from_dict
from skd_training.pipeline import STAGES

SPATIAL_TEACHERS = Path(__file__).with_name("spatial_teachers.yaml")

# --------------------------------------------------------------------------------------------------
# The plan: rows of the paper's tables, one training run per row and seed


@dataclass
class Variant:
    """One training run: a run directory (``key``), the overrides that make it, the stages it runs and what it
    borrows from runs trained before it: ``links`` (run key, path in its run directory) are symlinked, e.g.
    soft labels, ``copies`` (run key, stage directory) copied, e.g. a finished student."""

    key: str
    name: str
    resolution: int
    lam: float
    ablation: str = "none"
    seed: int = 0
    stages: tuple[str, ...] = ("students", "fuse")
    links: tuple[tuple[str, str], ...] = ()
    copies: tuple[tuple[str, str], ...] = ()
    spatial_teacher: dict | None = None  # a ``teachers.spatial`` section replacing the recipe's

    def overrides(self, run_dir: Path) -> list[str]:
        extra = [] if self.spatial_teacher is None else [f"teachers.spatial={json.dumps(self.spatial_teacher)}"]
        return [
            f"run_dir={run_dir}",
            f"resolution={self.resolution}",
            f"students.lam={self.lam}",
            f"ablation={self.ablation}",
            f"seed={self.seed}",
            *extra,
        ]


@dataclass
class Row:
    """One row of a table: the same training at every seed (``variants[i]`` is seed ``seeds[i]``)."""

    name: str
    variants: list[Variant]


@dataclass
class Plan:
    seeds: list[int]
    base: Row
    resolution: dict[int, Row] = field(default_factory=dict)
    ablation: dict[str, Row] = field(default_factory=dict)
    lambdas: dict[float, Row] = field(default_factory=dict)
    teachers: dict[str, Row] = field(default_factory=dict)  # spatial teacher -> SKD at the base R
    unavailable_teachers: dict[str, str] = field(default_factory=dict)  # spatial teacher -> why it has no row

    def variants(self) -> list[Variant]:
        """Every run once, seed by seed (an interrupted reproduction has every row for the seeds it finished);
        within a seed the base run first (the others borrow from it), the higher resolutions (the costliest)
        last."""
        higher = [row for r, row in sorted(self.resolution.items()) if r > self.base.variants[0].resolution]
        lower = [row for r, row in sorted(self.resolution.items()) if r < self.base.variants[0].resolution]
        rows = [
            self.base,
            *lower,
            *self.ablation.values(),
            *self.lambdas.values(),
            *self.teachers.values(),
            *higher,
        ]
        seen, out = set(), []
        for index in range(len(self.seeds)):
            for row in rows:
                variant = row.variants[index]
                if variant.key not in seen:
                    seen.add(variant.key)
                    out.append(variant)
        return out


def slug(name: str) -> str:
    """A run-directory name from a teacher's name: ``U-Net (narrow)`` -> ``u-net-narrow``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def make_plan(
    resolution: int,
    lam: float,
    seeds: list[int],
    resolutions,
    lambdas,
    ablations: bool = True,
    spatial_teachers: dict[str, dict] | None = None,
) -> Plan:
    """The runs of a reproduction. The base run (R, lambda) stands in for its point in every sweep, and the
    spatial teacher entry ``{}`` (the recipe's own) for its row of the teacher half; ``spatial_teachers``
    maps each teacher's name to its ``teachers.spatial`` section."""
    first = seeds[0]

    def key(stem: str, seed: int) -> str:
        return stem if seed == first else f"{stem}_seed{seed}"

    def row(name: str, make) -> Row:
        return Row(name, [make(seed) for seed in seeds])

    soft = (("base", "soft_labels"),)
    base = row(
        f"SKD-{resolution}",
        lambda s: Variant(
            key("base", s),
            f"SKD-{resolution}",
            resolution,
            lam,
            seed=s,
            stages=STAGES if s == first else ("students", "fuse"),
            links=() if s == first else soft,
        ),
    )
    plan = Plan(seeds, base)
    for r in sorted(set(resolutions) | {resolution}):
        plan.resolution[r] = (
            base
            if r == resolution
            else row(f"SKD-{r}", lambda s, r=r: Variant(key(f"res_{r}", s), f"SKD-{r}", r, lam, seed=s, links=soft))
        )
    if ablations:
        for kind, student in (("S", "spatial"), ("T", "temporal")):
            plan.ablation[kind] = row(
                f"Ablation-{kind}",
                lambda s, kind=kind, student=student: Variant(
                    key(f"ablation_{kind}", s),
                    f"Ablation-{kind}",
                    resolution,
                    lam,
                    kind,
                    s,
                    ("fuse",),
                    copies=((key("base", s), f"student_{student}"),),
                ),
            )
        plan.ablation["O"] = row(
            "Ablation-O", lambda s: Variant(key("ablation_O", s), "Ablation-O", resolution, lam, "O", s, ("fuse",))
        )
    for value in sorted(set(lambdas)):
        plan.lambdas[value] = (
            base
            if value == lam
            else row(
                f"SKD-{resolution} λ={value:g}",
                lambda s, value=value: Variant(
                    f"lambda_{value:g}_seed{s}",
                    f"SKD-{resolution} λ={value:g}",
                    resolution,
                    value,
                    seed=s,
                    links=soft if value > 0 else (),
                ),
            )
        )
    for name, entry in (spatial_teachers or {}).items():
        if not entry:
            plan.teachers[name] = base
            continue
        stem = f"teacher_{slug(name)}"

        def variant(s: int, name=name, entry=entry, stem=stem) -> Variant:
            # the temporal side (teacher, soft labels, student of the same seed) is the base run's
            temporal_student = (key("base", s), "student_temporal")
            if s == first:  # trains its spatial teacher and labels with it
                links = (("base", "soft_labels/temporal"),)
                copies, stages = (("base", "teacher_temporal"), temporal_student), STAGES
            else:
                links, copies, stages = ((stem, "soft_labels"),), (temporal_student,), ("students", "fuse")
            return Variant(
                key(stem, s),
                f"SKD-{resolution} ({name})",
                resolution,
                lam,
                seed=s,
                stages=stages,
                links=links,
                copies=copies,
                spatial_teacher=entry,
            )

        plan.teachers[name] = row(f"SKD-{resolution} ({name})", variant)
    return plan


# --------------------------------------------------------------------------------------------------
# Spatial teachers of Table III's teacher half


def read_spatial_teachers(path: Path, wanted: tuple[str, ...] | None) -> dict[str, dict]:
    """The entries of a spatial-teacher list (``spatial_teachers.yaml``): name -> ``teachers.spatial`` section
    laid over the recipe's (``{}``: the recipe's own); only ``wanted`` where given."""
    try:
        entries = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"spatial-teacher list {path} cannot be read: {exc}") from exc
    if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
        raise ConfigError(f"spatial-teacher list {path} must map each teacher's name to a teachers.spatial section")
    if wanted is not None:
        unknown = [name for name in wanted if name not in entries]
        if unknown:
            raise ConfigError(f"spatial teacher {unknown[0]!r} is not in {path} (it has {', '.join(entries)})")
        entries = {name: entries[name] for name in wanted}
    if not any(not entry for entry in entries.values()):
        raise ConfigError(f"{path} needs an entry {{}} for the recipe's own spatial teacher (the base run)")
    return entries


def resolve_spatial_teachers(entries: dict[str, dict], recipe: PipelineConfig) -> tuple[dict[str, dict], dict]:
    """(name -> the full ``teachers.spatial`` section of each usable teacher, name -> why the others cannot
    take part). Each section is checked as a config now, not hours into the run."""
    own = recipe.to_dict()["teachers"]["spatial"]
    usable, unavailable = {}, {}
    for name, entry in entries.items():
        if not entry:
            usable[name] = {}
            continue
        section = {**own, **entry}
        if section.get("type", "builtin") != "builtin":
            section.pop("pretrain", None)  # pretraining is for built-in networks
            if section.get("path") and not Path(section["path"]).exists():
                unavailable[name] = f"{section['type']} file {section['path']} does not exist on this machine"
                continue
        config_from_dict(apply_overrides(recipe.to_dict(), [f"teachers.spatial={json.dumps(section)}"]))
        usable[name] = section
    return usable, unavailable
