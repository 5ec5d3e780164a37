"""Saliency metrics: hand-computed cases, and agreement with straightforward loop-based references
written from the MIT benchmark's definitions (cvzoya/saliency, code_forMetrics)."""

import math

import numpy as np
import pytest

from skd_training.metrics import (
    MATLAB_EPS,
    all_metrics,
    auc_judd,
    auc_shuffled,
    cc,
    kld,
    nss,
    resize_to,
    roc_judd,
    sim,
)

# --- independent references: explicit loops, one threshold / pixel / split at a time ----------------


def reference_auc_judd(sal, fix):
    """AUC_Judd.m without jitter, one threshold per loop iteration."""
    s = [float(v) for v in sal.ravel()]
    f = [bool(v) for v in fix.ravel()]
    low, high = min(s), max(s)
    s = [(v - low) / (high - low) for v in s]
    fixated = sorted((v for v, is_fix in zip(s, f, strict=True) if is_fix), reverse=True)
    n_fix, n_pix = len(fixated), len(s)
    tp, fp = [0.0], [0.0]
    for i, threshold in enumerate(fixated, start=1):
        above = sum(1 for v in s if v >= threshold)
        tp.append(i / n_fix)
        fp.append((above - i) / (n_pix - n_fix))
    tp.append(1.0)
    fp.append(1.0)
    return sum((fp[k + 1] - fp[k]) * (tp[k + 1] + tp[k]) / 2 for k in range(len(tp) - 1))


def reference_auc_shuffled_split(positives, negatives, step=0.1):
    """One split of AUC_shuffled.m: thresholds 0:step:max(all values), swept downwards."""
    top = max(max(positives), max(negatives))
    thresholds = []
    k = 0
    while k * step <= top + 1e-12:
        thresholds.append(k * step)
        k += 1
    tp, fp = [0.0], [0.0]
    for threshold in reversed(thresholds):
        tp.append(sum(1 for v in positives if v >= threshold) / len(positives))
        fp.append(sum(1 for v in negatives if v >= threshold) / len(negatives))
    tp.append(1.0)
    fp.append(1.0)
    return sum((fp[k + 1] - fp[k]) * (tp[k + 1] + tp[k]) / 2 for k in range(len(tp) - 1))


def reference_normalised(sal):
    s = sal.ravel().astype(float)
    return (s - s.min()) / (s.max() - s.min())


def reference_nss(sal, fix):
    values = [float(v) for v in sal.ravel()]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    at_fix = [(v - mean) / std for v, is_fix in zip(values, fix.ravel(), strict=True) if is_fix]
    return sum(at_fix) / len(at_fix)


def reference_cc(sal, den):
    a, b = [float(v) for v in sal.ravel()], [float(v) for v in den.ravel()]
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return cov / math.sqrt(va * vb)


def reference_sim(sal, den):
    def distribution(m):
        v = [float(x) for x in m.ravel()]
        low, high = min(v), max(v)
        v = [(x - low) / (high - low) for x in v]
        total = sum(v)
        return [x / total for x in v]

    return sum(min(x, y) for x, y in zip(distribution(sal), distribution(den), strict=True))


def reference_kld(sal, den):
    q = [float(x) for x in sal.ravel()]
    p = [float(x) for x in den.ravel()]
    sq, sp = sum(q), sum(p)
    q, p = [x / sq for x in q], [x / sp for x in p]
    return sum(pi * math.log(MATLAB_EPS + pi / (qi + MATLAB_EPS)) for pi, qi in zip(p, q, strict=True))


def random_case(seed, shape=(24, 32), n_fix=15):
    rng = np.random.default_rng(seed)
    sal = rng.random(shape) ** 2
    fix = np.zeros(shape, dtype=bool)
    fix.flat[rng.choice(fix.size, n_fix, replace=False)] = True
    den = rng.random(shape) ** 3
    return sal, fix, den


# --- agreement with the references on random maps --------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_auc_judd_matches_loop_reference(seed):
    sal, fix, _ = random_case(seed)
    assert auc_judd(sal, fix, jitter=False) == pytest.approx(reference_auc_judd(sal, fix), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_auc_judd_with_jitter_matches_reference_on_the_same_jitter(seed):
    sal, fix, _ = random_case(seed)
    sal = np.round(sal, 1)  # many ties: the jitter decides their order
    jitter = np.random.default_rng(seed).random(sal.shape) * 1e-7
    expected = reference_auc_judd(sal + jitter, fix)
    assert auc_judd(sal, fix, rng=np.random.default_rng(seed)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_auc_shuffled_matches_loop_reference_when_all_negatives_are_used(seed):
    # with no more other-frame fixations than fixations, every split uses all of them: deterministic
    sal, fix, _ = random_case(seed, n_fix=30)
    rng = np.random.default_rng(100 + seed)
    other = np.zeros_like(fix)
    other.flat[rng.choice(other.size, 20, replace=False)] = True
    s = reference_normalised(sal)
    expected = reference_auc_shuffled_split(list(s[fix.ravel()]), list(s[other.ravel()]))
    got = auc_shuffled(sal, fix, other, rng=np.random.default_rng(seed))
    assert got == pytest.approx(expected, abs=1e-12)


def test_auc_shuffled_matches_loop_reference_with_random_splits():
    # more other-frame fixations than fixations: 100 random subsets, averaged; the reference draws its own
    sal, fix, _ = random_case(7, n_fix=20)
    other = np.zeros_like(fix)
    other.flat[np.random.default_rng(8).choice(other.size, 200, replace=False)] = True
    s = reference_normalised(sal)
    positives, candidates = list(s[fix.ravel()]), s[other.ravel()]
    rng = np.random.default_rng(9)
    splits = [reference_auc_shuffled_split(positives, list(rng.permutation(candidates)[:20])) for _ in range(400)]
    expected = sum(splits) / len(splits)
    got = auc_shuffled(sal, fix, other, rng=np.random.default_rng(10))
    assert got == pytest.approx(expected, abs=0.02)


@pytest.mark.parametrize("seed", range(5))
def test_nss_cc_sim_kld_match_loop_references(seed):
    sal, fix, den = random_case(seed)
    assert nss(sal, fix) == pytest.approx(reference_nss(sal, fix), abs=1e-10)
    assert cc(sal, den) == pytest.approx(reference_cc(sal, den), abs=1e-10)
    assert sim(sal, den) == pytest.approx(reference_sim(sal, den), abs=1e-10)
    assert kld(sal, den) == pytest.approx(reference_kld(sal, den), abs=1e-10)


# --- hand-computed cases ------------------------------------------------------------------------------

FIX = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=bool)


def test_auc_judd_perfect_inverted_uniform():
    assert auc_judd(FIX.astype(float), FIX, rng=np.random.default_rng(0)) == pytest.approx(1.0)
    # fixated pixels are the lowest: every other pixel is above the first threshold, FPR jumps to 1 at
    # TPR 1/2, and the area is the triangle 1 * (1/2) / 2
    assert auc_judd(1.0 - FIX, FIX, rng=np.random.default_rng(0)) == pytest.approx(0.25)
    assert auc_judd(np.ones((3, 3)), FIX, jitter=False) == pytest.approx(0.5)


def test_auc_judd_small_case():
    # normalised map [1, 0, 0.5, 0.25], fixations at 1 and 0.25: thresholds 1 and 0.25 give the points
    # (0, 1/2) and (1/2, 1); area 0.375 + 0.5 = 0.875
    sal = np.array([[0.9, 0.1], [0.5, 0.3]])
    fix = np.array([[1, 0], [0, 1]])
    assert auc_judd(sal, fix, jitter=False) == pytest.approx(0.875)
    fpr, tpr = roc_judd(sal, fix, jitter=False)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])


def test_auc_judd_is_nan_without_fixations_and_seeded():
    assert math.isnan(auc_judd(np.ones((3, 3)), np.zeros((3, 3))))
    sal, fix, _ = random_case(3)
    sal = np.round(sal, 1)
    a = auc_judd(sal, fix, rng=np.random.default_rng(5))
    assert a == auc_judd(sal, fix, rng=np.random.default_rng(5))


def test_auc_shuffled_small_cases():
    sal = np.array([[1.0, 0.0], [0.55, 0.25]])
    top_left, bottom_left = np.array([[1, 0], [0, 0]]), np.array([[0, 0], [1, 0]])
    assert auc_shuffled(sal, top_left, bottom_left) == pytest.approx(1.0)  # fixation above the negative
    assert auc_shuffled(sal, bottom_left, top_left) == pytest.approx(0.0)  # negative above the fixation
    # positives {1, 0.25}, negatives {0.55, 0}: points (0, 1/2) down to t=0.6, (1/2, 1/2) down to 0.3,
    # (1/2, 1) at 0.2 and 0.1, (1, 1) at 0; area 1/4 + 1/2
    assert auc_shuffled(sal, np.array([[1, 0], [0, 1]]), np.array([[0, 1], [1, 0]])) == pytest.approx(0.75)
    assert auc_shuffled(np.ones((2, 2)), top_left, bottom_left) == pytest.approx(0.5)  # uniform: chance
    assert math.isnan(auc_shuffled(sal, top_left, np.zeros((2, 2))))


def test_auc_shuffled_is_seeded():
    sal, fix, _ = random_case(1, n_fix=10)
    other = ~fix
    a = auc_shuffled(sal, fix, other, rng=np.random.default_rng(3))
    assert a == auc_shuffled(sal, fix, other, rng=np.random.default_rng(3))


def test_nss_hand_cases():
    # [0, 0, 0, 1]: mean 1/4, sample std 1/2
    sal = np.array([[0.0, 0.0, 0.0, 1.0]])
    assert nss(sal, np.array([[0, 0, 0, 1]])) == pytest.approx(1.5)
    assert nss(sal, np.array([[1, 0, 0, 0]])) == pytest.approx(-0.5)
    assert nss(np.full((2, 2), 0.3), np.array([[1, 0], [0, 0]])) == 0.0
    assert math.isnan(nss(sal, np.zeros((1, 4))))


def test_cc_hand_cases():
    den = np.array([[1.0, 3.0, 2.0]])
    assert cc(den, den) == pytest.approx(1.0)
    assert cc(5.0 - den, den) == pytest.approx(-1.0)
    assert cc(np.array([[1.0, 2.0, 3.0]]), den) == pytest.approx(0.5)  # centred (-1,0,1)·(-1,1,0) / 2
    assert cc(np.ones((1, 3)), den) == 0.0
    assert math.isnan(cc(den, np.ones((1, 3))))


def test_sim_hand_cases():
    den = np.array([[0.0, 1.0], [0.0, 3.0]])  # as a distribution: (0, 1/4, 0, 3/4)
    assert sim(den, den) == pytest.approx(1.0)
    assert sim(np.array([[1.0, 0.0], [1.0, 0.0]]), den) == pytest.approx(0.0)  # mass only where density is 0
    assert sim(np.ones((2, 2)), den) == pytest.approx(0.5)  # uniform 1/4: min sums to 1/4 + 1/4
    assert sim(np.array([[0.0, 1.0], [1.0, 0.0]]), den) == pytest.approx(0.25)


def test_kld_hand_cases():
    den = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert kld(den, den) == pytest.approx(0.0, abs=1e-12)
    assert kld(np.ones((2, 2)), den) == pytest.approx(math.log(2.0))
    # all predicted mass where the density is zero: each half of p meets q = 0, log(0.5 / eps) in total
    assert kld(1.0 - den, den) == pytest.approx(math.log(0.5 / MATLAB_EPS), rel=1e-9)
    with pytest.raises(ValueError, match="non-negative"):
        kld(den - 0.5, den)


def test_prediction_is_resized_to_the_ground_truth():
    small = np.array([[0.0, 1.0], [0.0, 0.0]])
    big = resize_to(small, (8, 8))
    assert big.shape == (8, 8)
    assert big.min() >= 0.0 and big.max() <= 1.0
    assert big[:4, 4:].mean() > big[4:, :4].mean()
    fix = np.zeros((8, 8), dtype=bool)
    fix[1, 6] = True
    assert auc_judd(small, fix, rng=np.random.default_rng(0)) > 0.8
    assert nss(small, fix) == pytest.approx(nss(big, fix))
    assert resize_to(np.ones((100, 100)) * 0.5, (10, 10)) == pytest.approx(np.full((10, 10), 0.5))


def test_all_metrics_and_input_errors():
    sal, fix, den = random_case(2)
    scores = all_metrics(sal, fix, den, other_fix=np.roll(fix, 3, axis=1), rng=np.random.default_rng(0))
    assert set(scores) == {"AUC", "sAUC", "NSS", "SIM", "CC", "KLD"}
    assert scores["NSS"] == pytest.approx(nss(sal, fix))
    assert math.isnan(all_metrics(sal, fix, den)["sAUC"])
    with pytest.raises(ValueError, match="differ in size"):
        all_metrics(sal, fix, den[:-1])
    with pytest.raises(ValueError, match="2-D"):
        nss(np.zeros((2, 2, 3)), fix)
    with pytest.raises(ValueError, match="NaN"):
        cc(np.full((2, 2), np.nan), den[:2, :2])
