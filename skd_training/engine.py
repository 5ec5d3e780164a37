"""The training engine shared by every stage (teachers, students, fused model, ablations).

One call, ``train_stage(stage, ...)``, trains one model for some epochs with Adam and gives back the
best weights. Around that loop it does what makes a long run safe to leave alone:

* **Checkpoints.** ``<stage dir>/last.pt`` after every epoch (model, optimiser, epoch, history, best so
  far, and the stage's *fingerprint*: the settings that must not change under a resume), written
  atomically, so killing the process mid-epoch loses at most that epoch. ``best.pt`` holds the weights
  of the best validation epoch. ``resume=True`` continues from ``last.pt``; a damaged file, a file of
  another format or stage, or one whose fingerprint differs from the current settings raises
  ``CheckpointError`` naming the file and the differences — never a silent restart or a silent mix.
* **Determinism.** Each epoch reseeds torch from (seed, epoch), and batches come from
  ``ShardedBatchSampler`` (a permutation seeded by (seed, epoch)), so a resumed run repeats exactly
  the epochs an uninterrupted run would have done.
* **Distributed.** Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in
  DistributedDataParallel (gloo on CPU, nccl on GPU). ``ShardedBatchSampler`` splits every *global*
  batch of the single-process run across the ranks, and the losses are means of per-sample terms, so
  the averaged DDP gradient equals the single-process gradient: the loss trajectory matches the
  single-process one up to float rounding. Rank 0 validates, logs and writes checkpoints.
* **Monitoring.** tqdm progress bars, TensorBoard scalars (per step and per epoch) and sample maps
  (frame | ground truth | prediction) for the first validation items, a ``history.json`` per stage.
* **Validation** each epoch on the validation split: NSS (samples with fixations) and CC (samples with
  a density map) from ``skd_training.metrics``, and the normalised L2 to the density map. The best
  epoch is chosen by ``select_metric`` (``cc`` by default; ``loss`` = training loss when there is no
  annotated validation data).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from skd_ros.core.checkpoint import CheckpointError, read_checkpoint
from skd_ros.core.device import resolve_device
from skd_ros.core.preprocess import MEAN_RGB, STD_RGB
from skd_training import metrics
from skd_training.losses import per_map_l2

STAGE_FORMAT = "skd_training.stage"
STAGE_VERSION = 1
SELECT_METRICS = {"cc": "max", "nss": "max", "l2": "min", "loss": "min"}
N_SAMPLE_MAPS = 4


# --------------------------------------------------------------------------------------------------
# Distributed setup


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def setup_distributed(device: str = "auto") -> DistEnv:
    """Single process unless started by torchrun (WORLD_SIZE > 1): then join the process group with
    gloo (CPU) or nccl (GPU). Idempotent."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world_size > 1:
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            backend = "nccl" if dev.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    return DistEnv(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def teardown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


class ShardedBatchSampler(Sampler):
    """Batches of a seeded permutation; each global batch split evenly across the ranks.

    Rank r of W gets elements [r*B/W, (r+1)*B/W) of every global batch of size B, so the union over
    ranks of step k's batches is exactly step k's batch of a single-process run. The last incomplete
    global batch is dropped (it could not be split evenly); a dataset smaller than one global batch
    gives a single smaller batch when running in one process, and an error under DDP."""

    def __init__(
        self, n_items: int, global_batch: int, rank: int = 0, world_size: int = 1, shuffle: bool = True, seed: int = 0
    ):
        if n_items <= 0:
            raise ValueError("cannot train on an empty dataset")
        if global_batch <= 0 or global_batch % world_size:
            raise ValueError(f"batch size {global_batch} must be a positive multiple of the {world_size} processes")
        if n_items < global_batch:
            if world_size > 1:
                raise ValueError(
                    f"the training set has {n_items} items, fewer than one global batch of {global_batch}: "
                    "lower batch_size or add data"
                )
            global_batch = n_items
        self.n_items, self.global_batch = n_items, global_batch
        self.rank, self.world_size = rank, world_size
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n_items // self.global_batch

    def __iter__(self):
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.n_items, generator=generator).tolist()
        else:
            order = list(range(self.n_items))
        per_rank = self.global_batch // self.world_size
        for step in range(len(self)):
            start = step * self.global_batch + self.rank * per_rank
            yield order[start : start + per_rank]


# --------------------------------------------------------------------------------------------------
# Stages and their checkpoints


@dataclass
class Stage:
    """One model to train.

    loss_fn(model, batch) -> scalar loss (mean over the batch's samples); ``model`` may be the DDP
    wrapper, so call it rather than its submodules. predict_fn(model, batch) -> N x 1 x H x W maps
    compared with ``batch["density" + target_suffix]`` / ``batch["fixation" + target_suffix]`` in
    validation. fingerprint: settings a resume must agree with (JSON-able)."""

    name: str
    model: nn.Module
    loss_fn: Callable[[nn.Module, dict], torch.Tensor]
    predict_fn: Callable[[nn.Module, dict], torch.Tensor]
    train_set: Dataset
    val_set: Dataset | None
    epochs: int
    lr: float
    batch_size: int
    fingerprint: dict = field(default_factory=dict)
    weight_decay: float = 0.0
    target_suffix: str = ""
    select_metric: str = "cc"


@dataclass
class StageResult:
    name: str
    model: nn.Module  # unwrapped, holding the best epoch's weights, in eval mode
    stage_dir: Path
    best_path: Path
    last_path: Path
    best: dict  # {"epoch", "metric", "value", plus that epoch's validation metrics}
    history: list[dict]


def _json_safe(value):
    return json.loads(json.dumps(value, default=str))


def _fingerprint_differences(saved: dict, current: dict) -> list[str]:
    """A setting that only one side records is a difference too: a checkpoint made before a setting
    existed cannot show that it agrees with the setting's value now (a missing key is not its default)."""

    def shown(fingerprint: dict, key: str) -> str:
        return repr(fingerprint[key]) if key in fingerprint else "not recorded"

    keys = sorted(set(saved) | set(current))
    return [
        f"{k}: checkpoint {shown(saved, k)}, now {shown(current, k)}"
        for k in keys
        if k not in saved or k not in current or saved[k] != current[k]
    ]


def load_stage_checkpoint(path: Path, stage: Stage) -> dict:
    """Read a stage checkpoint and check it belongs to ``stage`` with the same settings."""
    payload = read_checkpoint(path)
    if not isinstance(payload, dict) or payload.get("format") != STAGE_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f"{path} is not a skd-train stage checkpoint (format {found!r}, expected {STAGE_FORMAT!r})"
        )
    if payload.get("version") != STAGE_VERSION:
        raise CheckpointError(f"{path}: stage checkpoint version {payload.get('version')} is not supported")
    if payload.get("stage") != stage.name:
        raise CheckpointError(f"{path} is a checkpoint of stage {payload.get('stage')!r}, not {stage.name!r}")
    differences = _fingerprint_differences(payload.get("fingerprint", {}), _json_safe(stage.fingerprint))
    if differences:
        raise CheckpointError(
            f"{path} was made with different settings than the current config ("
            + "; ".join(differences)
            + "). Resume with the original config, or start afresh with --overwrite or another run directory."
        )
    try:
        stage.model.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the {stage.name} model: {exc}") from exc
    return payload


def _save_atomic(payload: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _state_dict_cpu(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def load_best_weights(path: Path, stage: Stage) -> dict:
    """Load best.pt into stage.model (checked like last.pt) and return its payload."""
    return load_stage_checkpoint(path, stage)


# --------------------------------------------------------------------------------------------------
# Validation


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def _as_bool(values, n: int) -> np.ndarray:
    if values is None:
        return np.ones(n, dtype=bool)
    return np.asarray(torch.as_tensor(values).cpu().numpy(), dtype=bool).reshape(n)


def _denormalise(frames: torch.Tensor) -> torch.Tensor:
    mean = torch.as_tensor(MEAN_RGB).view(1, 3, 1, 1)
    std = torch.as_tensor(STD_RGB).view(1, 3, 1, 1)
    return (frames.cpu().float() * std + mean).clamp(0, 1)


@torch.no_grad()
def validate(stage: Stage, model: nn.Module, device: torch.device, batch_size: int, num_workers: int = 0):
    """Validation metrics (means over scorable samples) and a sample-map grid for TensorBoard."""
    loader = DataLoader(stage.val_set, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    suffix = stage.target_suffix
    nss_values, cc_values, l2_values = [], [], []
    grid = None
    model.eval()
    for batch in loader:
        batch = _to_device(batch, device)
        pred = stage.predict_fn(model, batch).float()
        density = batch["density" + suffix].float()
        n = pred.shape[0]
        has_density = _as_bool(batch.get("has_density"), n)
        has_fixation = _as_bool(batch.get("has_fixation"), n) if "fixation" + suffix in batch else np.zeros(n, bool)
        l2 = per_map_l2(pred, density).cpu().numpy()
        pred_np, density_np = pred[:, 0].cpu().numpy(), density[:, 0].cpu().numpy()
        for i in range(n):
            if has_density[i]:
                l2_values.append(float(l2[i]))
                cc_values.append(metrics.cc(pred_np[i], density_np[i]))
            if has_fixation[i]:
                fixation = batch["fixation" + suffix][i, 0].cpu().numpy()
                nss_values.append(metrics.nss(pred_np[i], fixation))
        if grid is None:
            k = min(N_SAMPLE_MAPS, n)
            frames = _denormalise(batch["current" + suffix][:k])
            grid = torch.cat([frames, density[:k].cpu().expand(-1, 3, -1, -1), pred[:k].cpu().expand(-1, 3, -1, -1)], 3)
    model.train()

    def mean(values):
        finite = [v for v in values if math.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    return {"nss": mean(nss_values), "cc": mean(cc_values), "l2": mean(l2_values)}, grid


# --------------------------------------------------------------------------------------------------
# The loop


def _improved(value: float, best: float | None, mode: str) -> bool:
    if not math.isfinite(value):
        return False
    if best is None or not math.isfinite(best):
        return True
    return value > best if mode == "max" else value < best


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919) % (2**31 - 1)


def train_stage(
    stage: Stage,
    stage_dir: str | Path,
    env: DistEnv = DistEnv(),
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    num_workers: int = 0,
    tensorboard_dir: str | Path | None = None,
    progress: bool = True,
) -> StageResult:
    """Train ``stage`` (or finish it, with resume) and return its best weights; see the module doc."""
    stage_dir = Path(stage_dir)
    last_path, best_path = stage_dir / "last.pt", stage_dir / "best.pt"
    if stage.select_metric not in SELECT_METRICS:
        raise ValueError(f"select_metric must be one of {sorted(SELECT_METRICS)}, got {stage.select_metric!r}")
    if stage.epochs < 1:
        raise ValueError(f"stage {stage.name}: epochs must be >= 1, got {stage.epochs}")
    select_metric = stage.select_metric if stage.val_set is not None and len(stage.val_set) else "loss"
    mode = SELECT_METRICS[select_metric]
    if last_path.exists() and not (resume or overwrite):
        raise CheckpointError(
            f"{last_path} already exists: pass --resume to continue that run, --overwrite to start it again, "
            "or choose another run directory"
        )
    model = stage.model.to(env.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=stage.lr, weight_decay=stage.weight_decay)
    start_epoch, history, best = 0, [], {}
    if resume and last_path.exists():
        payload = load_stage_checkpoint(last_path, stage)
        try:
            optimizer.load_state_dict(payload["optimizer"])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{last_path}: optimiser state does not fit the {stage.name} model: {exc}") from exc
        start_epoch, history, best = int(payload["epoch"]), list(payload["history"]), dict(payload["best"])
        if best.get("metric") in SELECT_METRICS:
            select_metric, mode = best["metric"], SELECT_METRICS[best["metric"]]
        if env.is_main:
            tqdm.write(f"[{stage.name}] resuming after epoch {start_epoch}/{stage.epochs} from {last_path}")
    fingerprint = _json_safe(stage.fingerprint)

    train_model = model
    if env.distributed:
        device_ids = [env.device.index] if env.device.type == "cuda" else None
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    sampler = ShardedBatchSampler(len(stage.train_set), stage.batch_size, env.rank, env.world_size, True, seed)
    loader = DataLoader(
        stage.train_set, batch_sampler=sampler, num_workers=num_workers, pin_memory=env.device.type == "cuda"
    )
    writer = None
    if env.is_main:
        stage_dir.mkdir(parents=True, exist_ok=True)
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter  # imported lazily: tensorboard is slow to import

            writer = SummaryWriter(str(tensorboard_dir))
    global_step = start_epoch * len(sampler)
    for epoch in range(start_epoch, stage.epochs):
        torch.manual_seed(_epoch_seed(seed, epoch))
        sampler.set_epoch(epoch)
        train_model.train()
        losses = []
        bar = tqdm(
            loader,
            desc=f"{stage.name} epoch {epoch + 1}/{stage.epochs}",
            leave=False,
            disable=not (progress and env.is_main),
            dynamic_ncols=True,
        )
        for batch in bar:
            batch = _to_device(batch, env.device)
            loss = stage.loss_fn(train_model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"stage {stage.name}: loss became {loss.item()} at epoch {epoch + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            if env.distributed:  # report the global batch's loss (the mean of the ranks' means)
                reduced = loss.detach().clone()
                dist.all_reduce(reduced)
                value = float(reduced) / env.world_size
            losses.append(value)
            bar.set_postfix(loss=f"{value:.5f}")
            if writer is not None:
                writer.add_scalar(f"{stage.name}/train_loss_step", value, global_step)
            global_step += 1
        record = {
            "epoch": epoch + 1,
            "train_loss": float(np.mean(losses)),
            "step_losses": losses,
            "processes": env.world_size,
        }
        if env.is_main:
            if select_metric != "loss":
                val_metrics, grid = validate(stage, model, env.device, stage.batch_size, num_workers)
                record.update({f"val_{k}": v for k, v in val_metrics.items()})
                if writer is not None and grid is not None:
                    writer.add_images(f"{stage.name}/frame_truth_prediction", grid, epoch + 1)
            value = record["train_loss"] if select_metric == "loss" else record[f"val_{select_metric}"]
            if not math.isfinite(value) and not best:
                # Nothing in the validation split can be scored (no ground truth): rank by training loss.
                tqdm.write(
                    f"[{stage.name}] validation {select_metric} is undefined; choosing the best epoch by "
                    "training loss instead"
                )
                select_metric, mode, value = "loss", "min", record["train_loss"]
            if _improved(value, best.get("value"), mode):
                best = {
                    "epoch": epoch + 1,
                    "metric": select_metric,
                    "value": value,
                    **{k: v for k, v in record.items() if k.startswith("val_")},
                }
                _save_atomic(
                    {
                        "format": STAGE_FORMAT,
                        "version": STAGE_VERSION,
                        "stage": stage.name,
                        "epoch": epoch + 1,
                        "fingerprint": fingerprint,
                        "state_dict": _state_dict_cpu(model),
                        "best": best,
                    },
                    best_path,
                )
            history.append(record)
            _save_atomic(
                {
                    "format": STAGE_FORMAT,
                    "version": STAGE_VERSION,
                    "stage": stage.name,
                    "epoch": epoch + 1,
                    "fingerprint": fingerprint,
                    "state_dict": _state_dict_cpu(model),
                    "optimizer": optimizer.state_dict(),
                    "history": history,
                    "best": best,
                },
                last_path,
            )
            (stage_dir / "history.json").write_text(json.dumps(history, indent=1))
            if writer is not None:
                for key, val in record.items():
                    if key != "epoch" and isinstance(val, float) and math.isfinite(val):
                        writer.add_scalar(f"{stage.name}/{key}", val, epoch + 1)
                writer.flush()
            shown = ", ".join(f"{k} {v:.4f}" for k, v in record.items() if isinstance(v, float))
            if progress:
                tqdm.write(f"[{stage.name}] epoch {epoch + 1}/{stage.epochs}: {shown}")
        env.barrier()
    if writer is not None:
        writer.close()
    env.barrier()
    if not best_path.exists():
        raise CheckpointError(f"stage {stage.name}: no best checkpoint in {stage_dir} (no finite validation score)")
    payload = load_best_weights(best_path, stage)
    model.eval()
    return StageResult(stage.name, model, stage_dir, best_path, last_path, dict(payload["best"]), history)
