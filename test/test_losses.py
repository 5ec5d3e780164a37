"""Distillation losses on hand-computed tensors."""

import math

import pytest
import torch

from skd_training.losses import MapLoss, cc_loss, distillation_loss, kld, normalized_l2, per_map_l2


def maps(*rows_per_map):
    return torch.tensor(rows_per_map, dtype=torch.float32)[:, None]


def test_normalized_l2_is_sum_of_squares_over_width_times_height():
    pred = maps([[0.0, 1.0], [1.0, 0.0]])
    target = maps([[0.0, 0.0], [0.0, 0.0]])
    # (0 + 1 + 1 + 0) / (2 * 2)
    assert normalized_l2(pred, target).item() == pytest.approx(0.5)
    pred = maps([[0.5, 0.5, 0.5]])  # W*H = 3: 3 * 0.25 / 3
    assert normalized_l2(pred, torch.zeros_like(pred)).item() == pytest.approx(0.25)


def test_l2_is_a_mean_over_maps():
    pred = maps([[1.0, 1.0], [1.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]])
    target = torch.zeros_like(pred)
    assert per_map_l2(pred, target).tolist() == pytest.approx([1.0, 0.25])
    assert normalized_l2(pred, target).item() == pytest.approx(0.625)


def test_lambda_mixes_soft_and_hard():
    pred = maps([[1.0, 0.0], [0.0, 0.0]])
    soft = maps([[0.0, 0.0], [0.0, 0.0]])  # L2 to pred: 1/4
    hard = maps([[1.0, 1.0], [1.0, 1.0]])  # L2 to pred: 3/4
    assert distillation_loss(pred, soft, hard, lam=0.5).item() == pytest.approx(0.5 * 0.25 + 0.5 * 0.75)
    assert distillation_loss(pred, soft, hard, lam=0.2).item() == pytest.approx(0.2 * 0.25 + 0.8 * 0.75)


@pytest.mark.parametrize("lam, expected_target", [(0.0, "hard"), (1.0, "soft")])
def test_lambda_extremes_reduce_to_one_term(lam, expected_target):
    generator = torch.Generator().manual_seed(0)
    pred, soft, hard = (torch.rand(3, 1, 8, 8, generator=generator) for _ in range(3))
    target = hard if expected_target == "hard" else soft
    expected = normalized_l2(pred, target)
    assert distillation_loss(pred, soft, hard, lam=lam).item() == pytest.approx(expected.item())
    # the unused target may be absent altogether
    only = (None, hard) if expected_target == "hard" else (soft, None)
    assert distillation_loss(pred, *only, lam=lam).item() == pytest.approx(expected.item())


def test_missing_target_is_an_error():
    pred = torch.rand(1, 1, 4, 4)
    with pytest.raises(ValueError, match="soft labels"):
        distillation_loss(pred, None, pred, lam=0.5)
    with pytest.raises(ValueError, match="ground-truth"):
        distillation_loss(pred, pred, None, lam=0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        distillation_loss(pred, pred, pred, lam=1.5)
    with pytest.raises(ValueError, match="differ in size"):
        normalized_l2(pred, torch.rand(1, 1, 4, 2))


def test_samples_without_ground_truth_use_the_soft_term_alone():
    pred = maps([[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]])
    soft = torch.zeros_like(pred)  # L2 1/4 for both
    hard = torch.ones_like(pred)  # L2 3/4 for both
    has_hard = torch.tensor([True, False])
    expected = ((0.5 * 0.25 + 0.5 * 0.75) + 0.25) / 2
    assert distillation_loss(pred, soft, hard, 0.5, has_hard=has_hard).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="no ground truth"):
        distillation_loss(pred, soft, hard, 0.0, has_hard=has_hard)


def test_kld_hand_computed():
    pred = maps([[0.25, 0.25], [0.25, 0.25]])
    target = maps([[0.5, 0.5], [0.0, 0.0]])
    # sum t * log(t / p) = 2 * 0.5 * log(0.5 / 0.25)
    assert kld(pred, target).item() == pytest.approx(math.log(2), abs=1e-5)
    assert kld(target, target).item() == pytest.approx(0.0, abs=1e-5)


def test_cc_loss_hand_computed():
    target = maps([[0.0, 1.0], [2.0, 3.0]])
    assert cc_loss(target, target).item() == pytest.approx(0.0, abs=1e-5)
    assert cc_loss(-target, target).item() == pytest.approx(2.0, abs=1e-5)
    assert cc_loss(2 * target + 5, target).item() == pytest.approx(0.0, abs=1e-5)


def test_cc_loss_gradient_is_finite_for_a_constant_prediction():
    pred = torch.full((1, 1, 4, 4), 0.5, requires_grad=True)
    cc_loss(pred, torch.rand(1, 1, 4, 4)).backward()
    assert torch.isfinite(pred.grad).all()


def test_map_loss_combines_weighted_terms():
    generator = torch.Generator().manual_seed(1)
    pred, target = torch.rand(2, 1, 6, 6, generator=generator), torch.rand(2, 1, 6, 6, generator=generator)
    combined = MapLoss(l2_weight=1.0, kld_weight=0.5, cc_weight=2.0)(pred, target)
    expected = normalized_l2(pred, target) + 0.5 * kld(pred, target) + 2.0 * cc_loss(pred, target)
    assert combined.item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError):
        MapLoss(l2_weight=0.0)
    with pytest.raises(ValueError):
        MapLoss(kld_weight=-1.0)
