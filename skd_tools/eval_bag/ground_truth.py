"""Scoring against ground-truth maps in a bag: predictions and density / fixation maps paired by header
stamp, in whatever order the bag holds them, and scored with ``skd_training.metrics``."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from skd_training import metrics

NOT_COMPUTED_SAUC = "needs fixations of other videos as negatives; a single bag has none"


class GroundTruthScorer:
    """Pairs predictions with ground-truth maps by header stamp, in whatever order they arrive in the
    bag, and scores each complete pair with ``skd_training.metrics`` (seeded, so runs repeat)."""

    def __init__(self, density: bool, fixations: bool, seed: int = 0):
        self.wanted = [kind for kind, on in (("density", density), ("fixations", fixations)) if on]
        self.pending: dict[int, dict[str, np.ndarray]] = defaultdict(dict)
        self.scores: dict[str, list[float]] = defaultdict(list)
        self.per_frame: list[dict] = []
        self.unreadable = 0
        self.rng = np.random.default_rng(seed)

    def add(self, stamp_ns: int, kind: str, array: np.ndarray) -> None:
        entry = self.pending[stamp_ns]
        entry[kind] = array
        if "prediction" in entry and all(k in entry for k in self.wanted):
            self._score(stamp_ns, self.pending.pop(stamp_ns))

    def _score(self, stamp_ns: int, entry: dict[str, np.ndarray]) -> None:
        m, sal = metrics, entry["prediction"]
        scores = {}
        if "density" in entry:
            den = entry["density"]
            scores.update(CC=m.cc(sal, den), SIM=m.sim(sal, den), KLD=m.kld(sal, den))
        if "fixations" in entry:
            fix = entry["fixations"]
            scores.update(NSS=m.nss(sal, fix), AUC=m.auc_judd(sal, fix, rng=self.rng))
        for name, value in scores.items():
            if np.isfinite(value):  # NaN: a ground truth without fixations, unscorable (see metrics)
                self.scores[name].append(value)
        self.per_frame.append({"stamp_ns": stamp_ns, **scores})

    def summary(self) -> dict:
        unmatched_predictions = sum(1 for e in self.pending.values() if "prediction" in e)
        not_computed = {"sAUC": NOT_COMPUTED_SAUC}
        if "fixations" not in self.wanted:
            not_computed.update(NSS="needs --fixation-topic", AUC="needs --fixation-topic")
        if "density" not in self.wanted:
            not_computed.update({name: "needs --gt-topic" for name in ("CC", "SIM", "KLD")})
        return {
            "frames_scored": len(self.per_frame),
            "frames_without_ground_truth": unmatched_predictions,
            "ground_truth_without_frame": len(self.pending) - unmatched_predictions,
            "ground_truth_unreadable": self.unreadable,
            "mean": {name: float(np.mean(values)) for name, values in sorted(self.scores.items())},
            "unscorable": {
                name: len(self.per_frame) - len(values)
                for name, values in sorted(self.scores.items())
                if len(values) < len(self.per_frame)
            },
            "not_computed": not_computed,
            "per_frame": self.per_frame,
        }
