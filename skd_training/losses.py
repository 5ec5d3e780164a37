"""Distillation losses (paper Sec. III-B, Eqs. 1-5) and optional saliency-specific terms.

All functions take maps shaped N x 1 x H x W (or N x H x W) and return a scalar: the mean over the
batch of a per-map loss. Per-map losses (not per-pixel means over the batch) keep the arithmetic of
a global batch identical whether it is processed in one process or split across DDP ranks.

* ``normalized_l2`` — the paper's loss: the sum of squared differences over the map divided by W*H.
* ``kld`` — KL divergence of the target from the prediction, both normalised to sum to 1 (MIT
  benchmark convention, epsilon 1e-7 inside the log).
* ``cc_loss`` — 1 - Pearson correlation, in [0, 2].

``MapLoss`` combines them into the per-target criterion (L2 plus optional weighted KLD/CC terms) and
``distillation_loss`` mixes the soft (teacher) and hard (ground-truth) targets with lambda:

    L = lambda * criterion(pred, soft) + (1 - lambda) * criterion(pred, hard)

lambda = 0 is hard-only, lambda = 1 soft-only; a target that is absent for some samples (unannotated
video has no ground truth) is masked out for those samples, and they get the remaining term alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

EPS = 1e-7


def _flat(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"saliency maps must have one channel, got shape {tuple(x.shape)}")
        return x.flatten(1)
    if x.ndim == 3:
        return x.flatten(1)
    raise ValueError(f"saliency maps must be N x 1 x H x W or N x H x W, got shape {tuple(x.shape)}")


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    p, t = _flat(pred), _flat(target.to(pred.dtype))
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in size")
    return p, t


def per_map_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 3/4 per map: sum over pixels of (pred - target)^2, divided by W*H. Shape N."""
    p, t = _check_pair(pred, target)
    return (p - t).pow(2).sum(1) / p.shape[1]


def per_map_kld(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(target || pred) with both maps normalised to distributions. Shape N."""
    p, t = _check_pair(pred, target)
    p = p / (p.sum(1, keepdim=True) + EPS)
    t = t / (t.sum(1, keepdim=True) + EPS)
    return (t * torch.log(EPS + t / (p + EPS))).sum(1)


def per_map_cc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - Pearson correlation coefficient between the maps. Shape N."""
    p, t = _check_pair(pred, target)
    p = p - p.mean(1, keepdim=True)
    t = t - t.mean(1, keepdim=True)
    # EPS inside the square roots keeps the gradient finite for a constant map (e.g. an untrained head).
    cc = (p * t).sum(1) / ((p.pow(2).sum(1) + EPS).sqrt() * (t.pow(2).sum(1) + EPS).sqrt())
    return 1.0 - cc


def normalized_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return per_map_l2(pred, target).mean()


def kld(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return per_map_kld(pred, target).mean()


def cc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return per_map_cc_loss(pred, target).mean()


@dataclass(frozen=True)
class MapLoss:
    """The per-target criterion: l2_weight * L2 + kld_weight * KLD + cc_weight * (1 - CC).

    The paper uses L2 alone (the default); KLD and CC are optional extras whose benefit is measured
    by the reproduction experiments, not assumed."""

    l2_weight: float = 1.0
    kld_weight: float = 0.0
    cc_weight: float = 0.0

    def __post_init__(self):
        weights = (self.l2_weight, self.kld_weight, self.cc_weight)
        if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
            raise ValueError(f"loss weights must be >= 0 and not all zero, got l2/kld/cc = {weights}")

    def per_map(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(pred.shape[0], dtype=pred.dtype, device=pred.device)
        if self.l2_weight:
            total = total + self.l2_weight * per_map_l2(pred, target)
        if self.kld_weight:
            total = total + self.kld_weight * per_map_kld(pred, target)
        if self.cc_weight:
            total = total + self.cc_weight * per_map_cc_loss(pred, target)
        return total

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.per_map(pred, target).mean()


def check_lambda(lam: float) -> float:
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lambda (soft-loss weight) must be in [0, 1], got {lam}")
    return float(lam)


def distillation_loss(
    pred: torch.Tensor,
    soft: torch.Tensor | None,
    hard: torch.Tensor | None,
    lam: float = 0.5,
    criterion: MapLoss = MapLoss(),
    has_hard: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eqs. 1/2: lam * criterion(pred, soft) + (1 - lam) * criterion(pred, hard), mean over the batch.

    soft: teacher maps at the student's resolution (may be None only when lam == 0).
    hard: ground-truth density maps (may be None only when lam == 1).
    has_hard: optional N bool tensor; samples without ground truth (unannotated video) use the soft
    term alone, samples with it use the lambda mix."""
    lam = check_lambda(lam)
    if lam > 0 and soft is None:
        raise ValueError(f"lambda = {lam} needs soft labels (teacher maps), but none were given")
    if lam < 1 and hard is None:
        raise ValueError(f"lambda = {lam} needs ground-truth maps (hard labels), but none were given")
    n = pred.shape[0]
    soft_term = criterion.per_map(pred, soft) if lam > 0 else pred.new_zeros(n)
    hard_term = criterion.per_map(pred, hard) if lam < 1 else pred.new_zeros(n)
    if has_hard is None:
        return (lam * soft_term + (1.0 - lam) * hard_term).mean()
    has_hard = has_hard.to(device=pred.device, dtype=torch.bool).reshape(n)
    if lam == 0 and not bool(has_hard.all()):
        raise ValueError("lambda = 0 (hard loss only) but some samples have no ground truth")
    mixed = lam * soft_term + (1.0 - lam) * hard_term
    soft_only = soft_term if lam > 0 else mixed
    return torch.where(has_hard, mixed, soft_only).mean()
