"""The training engine: checkpoints every epoch, best checkpoint, resume, clear checkpoint errors."""

import json

import pytest
import torch
from torch.utils.data import Dataset

from skd_ros.core.checkpoint import CheckpointError
from skd_ros.core.model import Student, Widths
from skd_training.engine import ShardedBatchSampler, Stage, train_stage
from skd_training.losses import normalized_l2

TINY = Widths(4, 4, 8, 8)


class BlobFrames(Dataset):
    """Frames whose bright square is the salient region."""

    def __init__(self, n=12, side=16, seed=0):
        generator = torch.Generator().manual_seed(seed)
        self.items = []
        for _ in range(n):
            y, x = torch.randint(0, side - 4, (2,), generator=generator).tolist()
            density = torch.zeros(1, side, side)
            density[:, y : y + 4, x : x + 4] = 1.0
            frame = torch.randn(3, side, side, generator=generator) * 0.1 + density * 2
            self.items.append({"current": frame, "density": density, "fixation": density > 0, "has_fixation": True})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def make_stage(epochs=3, lr=3e-3, fail_at=None, **fingerprint):
    torch.manual_seed(0)
    model = Student("spatial", TINY)
    calls = {"n": 0}

    def loss_fn(m, batch):
        calls["n"] += 1
        if fail_at is not None and calls["n"] == fail_at:
            raise KeyboardInterrupt("killed mid-epoch")
        return normalized_l2(m(batch["current"]), batch["density"])

    return Stage(
        name="student_spatial",
        model=model,
        loss_fn=loss_fn,
        predict_fn=lambda m, batch: m(batch["current"]),
        train_set=BlobFrames(),
        val_set=BlobFrames(6, seed=1),
        epochs=epochs,
        lr=lr,
        batch_size=4,
        fingerprint={"resolution": 16, **fingerprint},
    )


def final_weights(result):
    return {k: v.clone() for k, v in result.model.state_dict().items()}


def test_checkpoint_every_epoch_and_best_kept(tmp_path):
    result = train_stage(make_stage(epochs=3), tmp_path / "stage", progress=False, tensorboard_dir=tmp_path / "tb")
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    assert all({"train_loss", "val_cc", "val_nss", "val_l2"} <= set(r) for r in result.history)
    best_cc = max(r["val_cc"] for r in result.history)
    assert result.best["value"] == pytest.approx(best_cc)
    assert result.best_path.exists() and result.last_path.exists()
    history = json.loads((tmp_path / "stage" / "history.json").read_text())
    assert len(history) == 3
    assert any((tmp_path / "tb").iterdir())  # TensorBoard event file


def test_resume_after_a_kill_mid_epoch_repeats_the_uninterrupted_run(tmp_path):
    reference = train_stage(make_stage(epochs=3), tmp_path / "reference", progress=False)
    # 3 steps per epoch: the 5th loss call is in the middle of epoch 2
    with pytest.raises(KeyboardInterrupt):
        train_stage(make_stage(epochs=3, fail_at=5), tmp_path / "killed", progress=False)
    saved = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    assert saved["epoch"] == 1
    resumed = train_stage(make_stage(epochs=3), tmp_path / "killed", resume=True, progress=False)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    assert [r["train_loss"] for r in resumed.history] == pytest.approx([r["train_loss"] for r in reference.history])
    for key, value in final_weights(reference).items():
        assert torch.allclose(value, final_weights(resumed)[key])


def test_resume_of_a_finished_stage_trains_no_more(tmp_path):
    train_stage(make_stage(epochs=2), tmp_path / "s", progress=False)
    again = train_stage(make_stage(epochs=2, fail_at=1), tmp_path / "s", resume=True, progress=False)
    assert len(again.history) == 2  # fail_at=1 would have raised had any step run


def test_existing_checkpoint_needs_resume_or_overwrite(tmp_path):
    train_stage(make_stage(epochs=1), tmp_path / "s", progress=False)
    with pytest.raises(CheckpointError, match="--resume"):
        train_stage(make_stage(epochs=1), tmp_path / "s", progress=False)
    train_stage(make_stage(epochs=1), tmp_path / "s", overwrite=True, progress=False)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    train_stage(make_stage(epochs=1), tmp_path / "s", progress=False)
    last = tmp_path / "s" / "last.pt"
    last.write_bytes(last.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="damaged"):
        train_stage(make_stage(epochs=2), tmp_path / "s", resume=True, progress=False)


def test_mismatched_checkpoint_names_the_difference(tmp_path):
    train_stage(make_stage(epochs=1, lam=0.5), tmp_path / "s", progress=False)
    with pytest.raises(CheckpointError, match=r"lam: checkpoint 0.5, now 0.2"):
        train_stage(make_stage(epochs=2, lam=0.2), tmp_path / "s", resume=True, progress=False)
    # a setting added after the checkpoint was made: its value now (even None) is not what was used then
    with pytest.raises(CheckpointError, match=r"head_std: checkpoint not recorded, now None"):
        train_stage(make_stage(epochs=2, lam=0.5, head_std=None), tmp_path / "s", resume=True, progress=False)
    other_stage = make_stage(epochs=2, lam=0.5)
    other_stage.name = "student_temporal"
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "last.pt").write_bytes((tmp_path / "s" / "last.pt").read_bytes())
    with pytest.raises(CheckpointError, match="stage 'student_spatial', not 'student_temporal'"):
        train_stage(other_stage, tmp_path / "t", resume=True, progress=False)
    torch.save({"weights": 1}, tmp_path / "t" / "last.pt")
    with pytest.raises(CheckpointError, match="not a skd-train stage checkpoint"):
        train_stage(other_stage, tmp_path / "t", resume=True, progress=False)


def test_sharded_sampler_splits_each_global_batch_across_ranks():
    single = list(ShardedBatchSampler(10, 4, shuffle=True, seed=3))
    ranks = [list(ShardedBatchSampler(10, 4, rank=r, world_size=2, shuffle=True, seed=3)) for r in range(2)]
    assert len(single) == 2  # the incomplete last batch is dropped
    for step, batch in enumerate(single):
        assert sorted(ranks[0][step] + ranks[1][step]) == sorted(batch)
    with pytest.raises(ValueError, match="multiple"):
        ShardedBatchSampler(10, 3, rank=0, world_size=2)
