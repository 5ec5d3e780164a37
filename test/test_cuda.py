"""The CUDA paths, on a GPU: every backend that runs there agrees with eager fp32 on the CPU, the runtime
and the evaluator give the CPU's maps, ROIs and scores, and skd-train trains on the GPU into a checkpoint
that a CPU node loads. Skipped, with the reason, where PyTorch sees no CUDA device.

None of these tests needs ROS: scripts/gpu_check.sh runs them with ``--noconftest`` on GPU machines that
have no rclpy."""

import numpy as np
import pytest
import torch
from test_backends import RESOLUTION, model, pairs, reference  # noqa: F401 - fixtures
from test_evaluate import write_avs1k
from test_train_pipeline import make_tiny_data, tiny_args

from skd_ros.core.checkpoint import load_fused
from skd_ros.engines.backends import BACKENDS, create_backend
from skd_ros.engines.probe import synthetic_pairs
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline
from skd_training import metrics
from skd_training.data.layouts import open_source
from skd_training.evaluate.predictors import fused_predictor
from skd_training.evaluate.scoring import evaluate
from skd_training.train import main as train_main

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_backend_on_cuda_matches_eager_fp32_on_the_cpu(name, model, pairs, reference):  # noqa: F811
    reason = BACKENDS[name].unavailable_reason(CUDA)
    if reason:
        pytest.skip(f"{name} unavailable on CUDA here: {reason}")
    backend = create_backend(name, model, RESOLUTION, CUDA)
    maps = backend(*pairs)
    assert maps.shape == (3, RESOLUTION, RESOLUTION) and maps.dtype == np.float32
    assert np.abs(maps - reference).max() <= BACKENDS[name].tolerance_on(CUDA)


def test_fp32_backends_leave_pytorchs_tf32_setting_as_they_found_it(model, pairs):  # noqa: F811
    before = torch.backends.cudnn.allow_tf32
    create_backend("eager", model, RESOLUTION, CUDA)(*pairs)
    assert torch.backends.cudnn.allow_tf32 == before


def test_cuda_graph_results_are_not_overwritten_by_the_next_call(model):  # noqa: F811
    backend = create_backend("cuda-graphs-fp16", model, RESOLUTION, CUDA)
    first_pairs = synthetic_pairs(RESOLUTION, count=2, seed=7)
    second_pairs = tuple(np.ascontiguousarray(x[:, :, ::-1]) for x in first_pairs)  # upside down
    first = backend(*first_pairs)
    kept = first.copy()
    second = backend(*second_pairs)
    np.testing.assert_array_equal(first, kept)
    assert np.abs(first - second).max() > 0.01  # different inputs really gave different maps


@pytest.mark.parametrize("backend", ["eager", "torchscript", "auto"])
def test_runtime_on_cuda_gives_the_cpu_maps_rois_and_peak(backend):
    frames = [np.ascontiguousarray(f) for f in np.random.default_rng(3).integers(0, 256, (4, 360, 640, 3), np.uint8)]
    on_cpu = SaliencyPipeline(SaliencyEstimator(device="cpu", backend="eager"))
    on_gpu = SaliencyPipeline(SaliencyEstimator(device="cuda", backend=backend))
    assert on_gpu.estimator.backend.device.type == "cuda"
    tolerance = on_gpu.estimator.backend.tolerance_on(CUDA)
    for index, frame in enumerate(frames):
        expected, result = on_cpu.step(frame, index), on_gpu.step(frame, index)
        assert np.abs(result.saliency - expected.saliency).max() <= tolerance
        if on_gpu.estimator.backend.precision == "fp32":  # fp16 may move a box edge by a cell
            assert [box(r) for r in result.rois] == [box(r) for r in expected.rois]
            assert (result.peak.x, result.peak.y) == (expected.peak.x, expected.peak.y)
            assert [r.score for r in result.rois] == pytest.approx([r.score for r in expected.rois], abs=1e-4)


def box(roi):
    return roi.x, roi.y, roi.width, roi.height


def test_evaluation_on_cuda_scores_like_on_the_cpu(tmp_path):
    source = open_source(write_avs1k(tmp_path / "avs1k"))
    scores = []
    for device in ("cpu", "cuda"):
        estimator = SaliencyEstimator(device=device, backend="eager")
        scores.append(evaluate([fused_predictor(estimator)], source, "test", progress=False).overall()[0])
    for metric in metrics.METRIC_NAMES:
        assert scores[1][metric] == pytest.approx(scores[0][metric], abs=1e-3), metric


def test_skd_train_all_on_cuda_writes_a_checkpoint_a_cpu_node_loads(tmp_path):
    data = make_tiny_data(tmp_path / "data")
    assert train_main(["all", *tiny_args(data, tmp_path / "run", "--device", "cuda")]) == 0
    path = tmp_path / "run" / "final" / "skd_fused_16.pt"
    trained, resolution, meta = load_fused(path)
    assert all(p.device.type == "cpu" for p in trained.parameters())
    assert np.isfinite(meta["val_metrics"]["nss"])
    estimator = SaliencyEstimator(path, device="cpu", backend="eager")
    frame = np.zeros((48, 64, 3), np.uint8)
    assert estimator.infer(estimator.prepare(frame), estimator.prepare(frame)).shape == (resolution, resolution)
