"""The SKD training pipeline (paper Sec. III): teachers -> soft labels -> students -> fused model.

``run_pipeline(config, stages)`` runs any sequence of the four stages on one run directory; the
``skd-train`` command (``skd_training.train``) is a thin layer over it. Around this module: the run's
configuration (``skd_training.config``), its datasets (``skd_training.run_datasets``), the fused model
made from the students (``skd_training.init_fused``) and a finished run opened for evaluation
(``skd_training.finished_run``). Layout of a run directory::

    <run_dir>/config.yaml                 the resolved configuration of the last invocation
    <run_dir>/teacher_spatial_pretrain/   spatial teacher on still images with human fixations (MIT1003)
    <run_dir>/teacher_spatial/            spatial teacher fine-tuned on the training videos
    <run_dir>/teacher_temporal/           temporal (two-stream, frame-pair) teacher
    <run_dir>/soft_labels/<kind>/<source>/  teacher maps, one 16-bit PNG per frame
    <run_dir>/student_spatial/  student_temporal/   Step 1 (separate distillation)
    <run_dir>/fused/                      Step 2 (joint spatiotemporal transfer); ``fused_scratch/`` for
                                          Ablation-O
    <run_dir>/final/skd_fused_<R>.pt      the result in the node's checkpoint format, + metrics.json
    <run_dir>/tensorboard/                TensorBoard logs of every stage

Each stage directory holds ``last.pt`` (every epoch, for ``--resume``), ``best.pt`` (best validation
epoch) and ``history.json``; see ``skd_training.engine``.

The steps, as in the paper:

* **Teachers.** Built-in teachers are trained here at ``teacher_resolution`` on the annotated training
  videos (the spatial one optionally pretrained first on still images with real human fixations, then
  fine-tuned on aerial video, as the paper fine-tunes its teachers). TorchScript/ONNX files and
  folders of precomputed maps are used as they are.
* **Soft labels.** Each teacher labels every training frame once, at the teacher resolution, including
  ``data.unlabeled`` videos that have no ground truth at all (the soft loss needs none).
* **Step 1 — students.** Spatial student (current frame) and temporal student (previous + current) at
  ``resolution`` R, loss ``lam * L2(pred, soft) + (1 - lam) * L2(pred, hard)`` with the paper's
  normalised L2 (``skd_training.losses``); frames without ground truth get the soft term alone.
* **Step 2 — fused model.** Streams copied from the students' first eight layers, the fusion head
  drawn from a truncated normal (``init_fused.init_from_students``), trained on the hard loss.

Ablations (``ablation``): ``S`` / ``T`` stop after the spatial / temporal student, whose exact
function is written as a fused checkpoint (``init_fused.fused_from_student``: the other stream's
weights in the head are zero) so that every variant is evaluated and deployed the same way; ``O``
trains the fused model from scratch on the hard loss, without teachers or students.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import torch
import yaml
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from skd_ros.core.checkpoint import CheckpointError, read_checkpoint, save_fused
from skd_ros.core.model import SKDModel, Student, count_parameters
from skd_training.config import (
    ConfigError,
    PipelineConfig,
    TeacherConfig,
    apply_overrides,
    config_from_dict,
    load_config,
)
from skd_training.data.dataset import SaliencyVideoDataset
from skd_training.data.soft_labels import MANIFEST, SoftLabelStore, build_soft_label_cache
from skd_training.engine import (
    DistEnv,
    Stage,
    StageResult,
    load_stage_checkpoint,
    setup_distributed,
    train_stage,
    validate,
)
from skd_training.init_fused import fused_from_student, init_from_students
from skd_training.losses import distillation_loss
from skd_training.run_datasets import DataSets, every_nth, soft_label_dir, source_exists
from skd_training.teachers import (
    KINDS,
    BuiltinTeacher,
    ONNXTeacher,
    PrecomputedTeacher,
    StillSaliencyDataset,
    Teacher,
    TorchScriptTeacher,
    build_teacher_net,
    minmax_per_map,
    teacher_multiple,
)

STAGES = ("teachers", "soft-labels", "students", "fuse")


# How each network of the pipeline reads a batch


def _student_input(kind: str, batch: dict) -> torch.Tensor:
    if kind == "spatial":
        return batch["current"]
    return torch.cat([batch["previous"], batch["current"]], dim=1)


def _predict_student(kind: str):
    return lambda model, batch: model(_student_input(kind, batch))


def _predict_fused(model, batch):
    return model(batch["previous"], batch["current"])


def _predict_teacher(model, batch):
    return model(batch["previous_hr"], batch["current_hr"])


@dataclass
class PipelineResult:
    """What a run produced: stage results (best checkpoint, best epoch and metrics) and the final
    fused checkpoint with its validation metrics (None until the fuse stage has run)."""

    run_dir: Path
    stages: dict[str, dict] = field(default_factory=dict)
    final_checkpoint: Path | None = None
    val_metrics: dict = field(default_factory=dict)


class Pipeline:
    """Runs the stages of one configuration in one run directory (see the module doc)."""

    def __init__(
        self,
        config: PipelineConfig,
        env: DistEnv | None = None,
        resume: bool = False,
        overwrite: bool = False,
        command: str | None = None,
        write_config: bool = True,
    ):
        self.config = config
        self.env = env or setup_distributed(config.device)
        self.resume, self.overwrite = resume, overwrite
        self.run_dir = Path(config.run_dir)
        self.command = command or " ".join(sys.argv)
        cache_dir = Path(config.data.cache_dir) if config.data.cache_dir else self.run_dir / "cache"
        self.progress = config.progress and self.env.is_main
        self.data = DataSets(config, cache_dir, self.progress)
        self.result = PipelineResult(self.run_dir)
        if self.env.is_main and write_config:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))

    # -- helpers -----------------------------------------------------------------------------------
    def _main_first(self, build):
        """Run ``build`` on rank 0 first (it may write caches), then on the other ranks."""
        value = build() if self.env.is_main else None
        self.env.barrier()
        return value if self.env.is_main else build()

    def _seed(self, offset: int) -> None:
        torch.manual_seed(self.config.seed * 1000 + offset)

    def _train(self, stage: Stage) -> StageResult:
        stage.select_metric = self.config.select_metric
        stage.fingerprint = {"stage": stage.name, "seed": self.config.seed, **stage.fingerprint}
        result = train_stage(
            stage,
            self.run_dir / stage.name,
            self.env,
            seed=self.config.seed,
            resume=self.resume,
            overwrite=self.overwrite,
            num_workers=self.config.num_workers,
            tensorboard_dir=self.run_dir / "tensorboard" / stage.name,
            progress=self.progress,
        )
        self.result.stages[stage.name] = {
            "best": result.best,
            "best_path": str(result.best_path),
            "epochs": len(result.history),
        }
        return result

    def _finished(self, stage: Stage, hint: str) -> nn.Module:
        """The best weights of a stage an earlier command trained (checked against this config)."""
        stage.fingerprint = {"stage": stage.name, "seed": self.config.seed, **stage.fingerprint}
        last, best = self.run_dir / stage.name / "last.pt", self.run_dir / stage.name / "best.pt"
        if not last.exists() or not best.exists():
            raise CheckpointError(f"stage {stage.name} has not been trained in {self.run_dir}: run `{hint}` first")
        payload = read_checkpoint(last)
        if isinstance(payload, dict) and payload.get("epoch", 0) < stage.epochs:
            raise CheckpointError(
                f"stage {stage.name} in {self.run_dir} stopped after epoch {payload.get('epoch')} of {stage.epochs}: "
                f"run `{hint} --resume` to finish it"
            )
        best_payload = load_stage_checkpoint(best, stage)
        self.result.stages[stage.name] = {"best": best_payload.get("best", {}), "best_path": str(best)}
        return stage.model.eval()

    def _data_fingerprint(self, with_unlabeled: bool) -> list:
        return [[s.path, s.split, s.frame_step, s.videos] for s in self.data.train_sources(with_unlabeled)]

    def _datasets(self, with_data: bool, train, val) -> tuple[Dataset | None, Dataset | None]:
        """(train, val) datasets, opened rank 0 first; (None, None) when only loading finished weights."""
        if not with_data:
            return None, None
        return self._main_first(train), self._main_first(val)

    def _student_res_datasets(self, with_data: bool, lam: float, soft_kind: str | None):
        """(train, val) at the student resolution, for the students and the fused model: annotated frames
        only when the loss is the hard one alone (lam = 0), else with ``soft_kind``'s soft labels and the
        unlabeled video too."""
        return self._datasets(
            with_data,
            lambda: self.data.train(False, annotated_only=lam == 0, soft_kind=soft_kind, run_dir=self.run_dir),
            lambda: self.data.val(teacher_res=False),
        )

    # -- teachers ----------------------------------------------------------------------------------
    def _teacher_config(self, kind: str) -> TeacherConfig:
        return getattr(self.config.teachers, kind)

    def _teacher_stage(self, kind: str, with_data: bool = True) -> Stage:
        cfg = self._teacher_config(kind)
        self._seed(10 + KINDS.index(kind))
        net = build_teacher_net(kind, tuple(cfg.widths) if cfg.widths else None)
        multiple = teacher_multiple(net.widths)
        if self.config.teacher_resolution % multiple:
            raise ConfigError(
                f"teacher_resolution {self.config.teacher_resolution} must be a multiple of {multiple} for a "
                f"{len(net.widths)}-level {kind} teacher"
            )
        criterion = cfg.loss.criterion()
        train_set, val_set = self._datasets(
            with_data,
            lambda: every_nth(self.data.train(teacher_res=True, annotated_only=True), cfg.frame_step),
            lambda: self.data.val(teacher_res=True),
        )
        return Stage(
            name=f"teacher_{kind}",
            model=net,
            loss_fn=lambda model, batch: criterion(_predict_teacher(model, batch), batch["density_hr"]),
            predict_fn=_predict_teacher,
            train_set=train_set,
            val_set=val_set,
            epochs=cfg.epochs,
            lr=cfg.lr,
            batch_size=cfg.batch_size,
            target_suffix="_hr",
            fingerprint={
                "widths": list(net.widths),
                "teacher_resolution": self.config.teacher_resolution,
                "lr": cfg.lr,
                "batch_size": cfg.batch_size,
                "loss": asdict(cfg.loss),
                "pretrained": cfg.pretrain is not None,
                "data": self._data_fingerprint(False),
                "frame_step": cfg.frame_step,
            },
        )

    def _pretrain_stage(self, cfg: TeacherConfig) -> Stage | None:
        pre = cfg.pretrain
        if pre is None or not source_exists(pre.data, "still-image pretraining data"):
            return None
        res = self.config.teacher_resolution
        everything = StillSaliencyDataset(pre.data.images, pre.data.maps, res, augment=False)
        n_val = max(1, int(round(len(everything) * pre.val_fraction))) if len(everything) > 1 else 0
        val_idx, train_idx = list(range(n_val)), list(range(n_val, len(everything)))
        self._seed(9)
        net = build_teacher_net("spatial", tuple(cfg.widths) if cfg.widths else None)
        criterion = cfg.loss.criterion()
        return Stage(
            name="teacher_spatial_pretrain",
            model=net,
            loss_fn=lambda model, batch: criterion(_predict_teacher(model, batch), batch["density_hr"]),
            predict_fn=_predict_teacher,
            train_set=StillSaliencyDataset(pre.data.images, pre.data.maps, res, augment=True, indices=train_idx),
            val_set=StillSaliencyDataset(pre.data.images, pre.data.maps, res, augment=False, indices=val_idx)
            if n_val
            else None,
            epochs=pre.epochs,
            lr=pre.lr,
            batch_size=pre.batch_size,
            target_suffix="_hr",
            fingerprint={
                "widths": list(net.widths),
                "teacher_resolution": res,
                "lr": pre.lr,
                "batch_size": pre.batch_size,
                "loss": asdict(cfg.loss),
                "images": pre.data.images,
                "items": len(everything),
            },
        )

    def run_teachers(self) -> None:
        for kind in self.config.kinds():
            cfg = self._teacher_config(kind)
            if cfg.type != "builtin":
                teacher = self.teacher(kind)  # opens the file: a bad one fails now, not at soft-label time
                if self.env.is_main:
                    runs_on = f" on {teacher.provider}" if isinstance(teacher, ONNXTeacher) else ""
                    tqdm.write(f"[teacher_{kind}] using {teacher.describe()}{runs_on} (nothing to train)")
                continue
            stage = self._teacher_stage(kind)
            if kind == "spatial":
                pretrain = self._pretrain_stage(cfg)
                if pretrain is not None:
                    pretrained = self._train(pretrain)
                    if not (self.resume and (self.run_dir / stage.name / "last.pt").exists()):
                        stage.model.load_state_dict(pretrained.model.state_dict())
            self._train(stage)

    def teacher(self, kind: str) -> Teacher:
        cfg = self._teacher_config(kind)
        if cfg.type == "torchscript":
            return TorchScriptTeacher(cfg.path, kind, cfg.normalization, device=self.env.device)
        if cfg.type == "onnx":
            return ONNXTeacher(cfg.path, kind, cfg.normalization, device=self.env.device)
        if cfg.type == "precomputed":
            return PrecomputedTeacher(cfg.path, kind)
        stage = self._teacher_stage(kind, with_data=False)
        return BuiltinTeacher(self._finished(stage, "skd-train teachers"), self.env.device)

    # -- soft labels -------------------------------------------------------------------------------
    def run_soft_labels(self) -> None:
        if self.config.students.lam == 0 and self.config.fuse.lam == 0:
            if self.env.is_main:
                tqdm.write("[soft-labels] lam = 0 (hard loss only): no soft labels needed")
            return
        if self.env.is_main:  # teacher inference is cheap next to training: one process labels everything
            for kind in self.config.kinds():
                teacher = self.teacher(kind)
                for source in self.data.train_sources(with_unlabeled=True):
                    dataset = self.data.dataset(source, teacher_res=True)
                    out_dir = soft_label_dir(self.run_dir, kind, dataset)
                    self._label(teacher, dataset, out_dir)
        self.env.barrier()

    def _label(self, teacher: Teacher, dataset: SaliencyVideoDataset, out_dir: Path) -> None:
        name = teacher.describe()
        if self.overwrite and (out_dir / MANIFEST).exists():
            shutil.rmtree(out_dir)
        if isinstance(teacher, PrecomputedTeacher):
            write_precomputed_soft_labels(teacher, dataset, out_dir, name, self.progress)
            return
        try:
            build_soft_label_cache(
                dataset,
                lambda previous, current: teacher.predict({"previous_hr": previous, "current_hr": current}),
                out_dir,
                name=name,
                batch_size=16,
                num_workers=self.config.num_workers,
                device="cpu",
                progress=self.progress,
            )
        except ValueError as exc:
            if "holds soft labels of" in str(exc):
                raise CheckpointError(f"{exc} (or pass --overwrite to relabel)") from exc
            raise

    # -- students ----------------------------------------------------------------------------------
    def _student_stage(self, kind: str, with_data: bool = True) -> Stage:
        cfg = self.config.students
        self._seed(20 + KINDS.index(kind))
        student = Student(kind, self.config.model_widths)
        criterion, lam = cfg.loss.criterion(), cfg.lam
        soft_kind = kind if lam > 0 else None

        def loss_fn(model, batch):
            pred = model(_student_input(kind, batch))
            return distillation_loss(
                pred, batch.get("soft"), batch["density"], lam, criterion, has_hard=batch["has_density"]
            )

        teacher_cfg = self._teacher_config(kind)
        train_set, val_set = self._student_res_datasets(with_data, lam, soft_kind)
        return Stage(
            name=f"student_{kind}",
            model=student,
            loss_fn=loss_fn,
            predict_fn=_predict_student(kind),
            train_set=train_set,
            val_set=val_set,
            epochs=cfg.epochs,
            lr=cfg.lr,
            batch_size=cfg.batch_size,
            fingerprint={
                "resolution": self.config.resolution,
                "widths": self.config.widths,
                "lam": lam,
                "loss": asdict(cfg.loss),
                "lr": cfg.lr,
                "batch_size": cfg.batch_size,
                "teacher": [teacher_cfg.type, teacher_cfg.path],
                "data": self._data_fingerprint(lam > 0),
            },
        )

    def run_students(self) -> dict[str, Student]:
        return {kind: self._train(self._student_stage(kind)).model for kind in self.config.kinds()}

    def students(self) -> dict[str, Student]:
        return {
            kind: self._finished(self._student_stage(kind, with_data=False), "skd-train students")
            for kind in self.config.kinds()
        }

    # -- fused model -------------------------------------------------------------------------------
    def _fused_stage(self, from_students: bool) -> Stage:
        cfg = self.config.fuse
        criterion = cfg.loss.criterion()
        lam = cfg.lam if from_students else 0.0
        soft_kind = cfg.soft_from if lam > 0 else None
        if soft_kind is not None and not set(KINDS if soft_kind == "both" else [soft_kind]) <= set(self.config.kinds()):
            raise ConfigError(
                f"fuse.soft_from={soft_kind!r}, but ablation {self.config.ablation} has no {soft_kind} teacher"
            )
        self._seed(30)
        model = SKDModel(self.config.model_widths)
        train_set, val_set = self._student_res_datasets(True, lam, soft_kind)

        def loss_fn(m, batch):
            pred = _predict_fused(m, batch)
            if lam == 0:
                return criterion(pred, batch["density"])
            return distillation_loss(
                pred, batch["soft"], batch["density"], lam, criterion, has_hard=batch["has_density"]
            )

        return Stage(
            name="fused" if from_students else "fused_scratch",
            model=model,
            loss_fn=loss_fn,
            predict_fn=_predict_fused,
            train_set=train_set,
            val_set=val_set,
            epochs=cfg.epochs,
            lr=cfg.lr,
            batch_size=cfg.batch_size,
            fingerprint={
                "resolution": self.config.resolution,
                "widths": self.config.widths,
                "lr": cfg.lr,
                "batch_size": cfg.batch_size,
                "loss": asdict(cfg.loss),
                "init": "students" if from_students else "scratch",
                **({"head_std": cfg.head_std} if from_students else {}),
                "data": self._data_fingerprint(lam > 0),
                **({"lam": lam, "soft_from": soft_kind} if lam > 0 else {}),
            },
        )

    def run_fuse(self) -> Path:
        ablation = self.config.ablation
        if ablation in ("S", "T"):
            kind = "spatial" if ablation == "S" else "temporal"
            final_model = fused_from_student(self.students()[kind])
        else:
            stage = self._fused_stage(from_students=ablation == "none")
            if ablation == "none" and not (self.resume and (self.run_dir / stage.name / "last.pt").exists()):
                init_from_students(
                    stage.model, self.students(), self.config.seed * 1000 + 31, self.config.fuse.head_std
                )
            final_model = self._train(stage).model
        return self._write_final(final_model)

    def _write_final(self, model: SKDModel) -> Path:
        path = self.run_dir / "final" / f"skd_fused_{self.config.resolution}.pt"
        metrics = {}
        if self.env.is_main:
            val_set = self.data.val(teacher_res=False)
            if val_set is not None:
                probe = Stage("final", model, None, _predict_fused, val_set, val_set, 1, 0.0, 16)
                metrics, _ = validate(probe, model.to(self.env.device), self.env.device, 16, self.config.num_workers)
                model.eval()
            meta = {
                "command": self.command,
                "config": self.config.to_dict(),
                "ablation": self.config.ablation,
                "data": self.data.describe(),
                "teachers": {kind: self._teacher_description(kind) for kind in self.config.kinds()},
                "val_metrics": metrics,
                "stages": self.result.stages,
                "parameters": count_parameters(model),
                "git_commit": git_commit(),
            }
            save_fused(model.cpu(), path, self.config.resolution, meta=json.loads(json.dumps(meta, default=str)))
            (path.parent / "metrics.json").write_text(
                json.dumps({"val": metrics, "stages": self.result.stages}, indent=1, default=str)
            )
            tqdm.write(f"[final] {path}  validation: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        self.env.barrier()
        self.result.final_checkpoint, self.result.val_metrics = path, metrics
        return path

    def _teacher_description(self, kind: str) -> str:
        cfg = self._teacher_config(kind)
        if cfg.type != "builtin":
            return f"{cfg.type} {cfg.path}"
        pre = cfg.pretrain
        pretrain = f", pretrained on {pre.data.images}" if pre is not None and Path(pre.data.images).exists() else ""
        return f"built-in {kind} teacher at {self.config.teacher_resolution} px{pretrain}"

    # -- all ---------------------------------------------------------------------------------------
    def run(self, stages=STAGES) -> PipelineResult:
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            raise ConfigError(f"unknown stage {unknown[0]!r}; stages are {', '.join(STAGES)}")
        ablation_o = self.config.ablation == "O"
        for name in stages:
            if name == "teachers" and not ablation_o:
                self.run_teachers()
            elif name == "soft-labels" and not ablation_o:
                self.run_soft_labels()
            elif name == "students" and not ablation_o:
                self.run_students()
            elif name == "fuse":
                self.run_fuse()
        return self.result


def write_precomputed_soft_labels(
    teacher: PrecomputedTeacher, dataset: SaliencyVideoDataset, out_dir: Path, name: str, progress: bool = True
) -> int:
    """Copy a folder of precomputed maps into the soft-label store format, at the teacher resolution."""
    store = SoftLabelStore(out_dir)
    wanted = {"teacher": name, "teacher_resolution": dataset.teacher_resolution, "source": dataset.source.key}
    found = store.manifest()
    if found is not None and any(found.get(k) != v for k, v in wanted.items()):
        raise CheckpointError(f"{out_dir} holds soft labels of {found}, not {wanted}; pass --overwrite to relabel")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).write_text(json.dumps(wanted, indent=1))
    side = dataset.teacher_resolution
    done = 0
    for video, frame in tqdm(dataset.items, desc=f"soft labels ({name})", unit="frame", disable=not progress):
        if store.has(video, frame):
            continue
        data = teacher.read_map(teacher.lookup(video, frame))
        resized = torch.from_numpy(cv2.resize(data, (side, side), interpolation=cv2.INTER_AREA))[None, None]
        store.write(video, frame, minmax_per_map(resized)[0, 0].numpy())
        done += 1
    return done


def git_commit() -> str | None:
    """The commit this code was checked out at, for provenance; None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def run_pipeline(
    config: PipelineConfig | dict | str | Path,
    stages=STAGES,
    resume: bool = False,
    overwrite: bool = False,
    overrides: list[str] | None = None,
) -> PipelineResult:
    """Python entry point: ``config`` is a PipelineConfig, a dict, a YAML path or a bundled config name.

    Returns the stages' best checkpoints and metrics and, when ``fuse`` ran, the final fused
    checkpoint (``skd_ros.core.checkpoint`` format) with its validation metrics."""
    if isinstance(config, (str, Path)):
        config = load_config(config, overrides)
    elif isinstance(config, dict):
        config = config_from_dict(apply_overrides(config, overrides or []))
    elif overrides:
        config = config_from_dict(apply_overrides(config.to_dict(), overrides))
    return Pipeline(config, resume=resume, overwrite=overwrite).run(stages)
