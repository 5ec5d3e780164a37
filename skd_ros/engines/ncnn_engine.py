"""The ncnn engine: Tencent's inference engine for phones and embedded boards, the model converted by pnnx
(``skd_ros.engines.export``); 3x3 convolutions by Winograd transforms."""

from __future__ import annotations

import importlib.util
import tempfile

from skd_ros.engines.base import Backend
from skd_ros.engines.export import export_ncnn, load_ncnn, run_ncnn


class NcnnBackend(Backend):
    name = "ncnn"
    tolerance = 1e-4
    concurrent = True  # a Net is shared by extractors, one per call (run_ncnn)
    fixed_share_threads = True  # OpenMP, each layer split evenly (Backend)

    @classmethod
    def unavailable_reason(cls, device):
        if device.type != "cpu":
            return "the ncnn backend runs on the CPU (ncnn's Vulkan GPU path is not used)"
        missing = [package for package in ("ncnn", "pnnx") if importlib.util.find_spec(package) is None]
        if missing:
            return f"{' and '.join(missing)} not installed (pip install ncnn pnnx)"
        return None

    def __init__(self, model, resolution, device, threads=None):
        super().__init__(model, resolution, device, threads)
        with tempfile.TemporaryDirectory(prefix="skd_ncnn_") as tmp:
            self.net = load_ncnn(*export_ncnn(model, resolution, tmp), threads=self.threads)

    def run(self, previous, current):
        return run_ncnn(self.net, previous, current)
