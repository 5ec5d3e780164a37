"""The weights shipped with the package: the default model, trained by the documented command."""

from pathlib import Path

import numpy as np
import pytest
import torch

from skd_ros.core.checkpoint import CheckpointError, default_weights_path, load_fused, shipped_weights
from skd_ros.core.model import count_parameters
from skd_ros.core.postprocess import CentrePrior
from skd_ros.runtime import SaliencyEstimator

SHIPPED = default_weights_path()


def test_the_package_ships_weights():
    # a missing file here means the install dropped the package data (setup.py package_data / MANIFEST.in)
    assert SHIPPED is not None and Path(SHIPPED).is_file()


@pytest.mark.parametrize("path, size", [(SHIPPED, 96), (shipped_weights("skd_fused_64.pt"), 64)])
def test_shipped_weights_are_the_recipe_at_96_and_64_with_provenance(path, size):
    model, resolution, meta = load_fused(path)
    assert resolution == size
    assert 0.25e6 < count_parameters(model) < 0.35e6
    # distilled on real footage (skd-train-real) from the model of synthetic scenes (skd-train)
    assert meta["command"].startswith("skd-train-real") and meta["real_sequences"]
    assert meta["teacher_mix"] and meta["recipe"]["resolution"] == size
    # the network the recipe trained (the 64x64 file predates context_dilation: the paper's 1)
    assert model.widths.context_dilation == meta["recipe"].get("context_dilation", 1) == (2 if size == 96 else 1)
    # the runtime weights its maps by the teacher mix's prior, as a centred Gaussian
    assert CentrePrior.of(meta).power == meta["teacher_mix"]["prior_power"]
    assert SaliencyEstimator(path.name, device="cpu", backend="eager").centre_prior == CentrePrior.of(meta)
    start = meta["init_meta"]
    assert start["command"].startswith("skd-train all --config default") and start["ablation"] == "none"
    assert start["data"]["train"], "the checkpoint must say what it was trained on"
    readme = (Path(SHIPPED).parent / "README.md").read_text()
    assert "skd-train all --config default" in readme and "skd-train-real" in readme


def test_the_runtime_loads_the_shipped_weights_by_default():
    estimator = SaliencyEstimator(device="cpu")
    # trained at 96x96, run at 128x128: the side its k-fold models scored best at on real footage (REAL_FOOTAGE.md)
    assert not estimator.untrained and estimator.resolution == 128 == estimator.meta["input_resolution"]
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    frame[30:50, 60:90] = (20, 20, 240)  # a small bright object
    saliency = estimator.infer(estimator.prepare(frame), estimator.prepare(frame))
    assert saliency.shape == (128, 128) and np.isfinite(saliency).all()
    assert saliency.std() > 1e-3  # a trained model's map is not constant
    assert SaliencyEstimator(device="cpu", resolution=96, backend="eager").resolution == 96  # as asked


def test_a_shipped_file_is_found_by_its_bare_name_and_a_missing_one_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file of that name here: the shipped one is meant
    assert SaliencyEstimator("skd_fused_64.pt", device="cpu", backend="eager").resolution == 64
    with pytest.raises(CheckpointError, match="skd_fused_32.pt does not exist"):
        SaliencyEstimator("skd_fused_32.pt", device="cpu")


def test_a_wrong_file_in_place_of_the_weights_is_refused(tmp_path):
    wrong = tmp_path / "not_weights.pt"
    torch.save({"hello": "world"}, wrong)
    with pytest.raises(CheckpointError, match="not an SKD fused-model checkpoint"):
        SaliencyEstimator(weights=wrong, device="cpu")
