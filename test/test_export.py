"""Export of the fused model to TorchScript, ONNX and ncnn: the files compute what the eager model computes."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from skd_ros.core.checkpoint import save_fused
from skd_ros.core.model import SKDModel
from skd_ros.engines.export import (
    ExportError,
    export_checkpoint,
    load_ncnn,
    main,
    ncnn_weights_path,
    run_ncnn,
    verify_ncnn,
    verify_onnx,
    verify_torchscript,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = SKDModel().eval()
    path = tmp_path / "fused.pt"
    save_fused(model, path, resolution=32, meta={"note": "test"})
    return model, path


def test_exported_files_match_eager_on_a_new_batch(checkpoint, tmp_path):
    model, path = checkpoint
    written = export_checkpoint(path, tmp_path / "out")
    assert set(written) == {"torchscript", "onnx", "ncnn"}
    generator = torch.Generator().manual_seed(5)
    previous, current = torch.randn(3, 3, 32, 32, generator=generator), torch.randn(3, 3, 32, 32, generator=generator)
    with torch.no_grad():
        expected = model(previous, current).numpy()
        scripted = torch.jit.load(str(written["torchscript"]))(previous, current).numpy()
    session = ort.InferenceSession(str(written["onnx"]), providers=["CPUExecutionProvider"])
    from_onnx = session.run(None, {"previous": previous.numpy(), "current": current.numpy()})[0]
    net = load_ncnn(written["ncnn"], ncnn_weights_path(written["ncnn"]), threads=1)
    from_ncnn = run_ncnn(net, previous.numpy(), current.numpy())
    assert np.abs(scripted - expected).max() < 1e-4
    assert np.abs(from_onnx - expected).max() < 1e-4
    assert np.abs(from_ncnn - expected[:, 0]).max() < 1e-4


def test_exported_files_carry_the_resolution(checkpoint, tmp_path):
    _, path = checkpoint
    written = export_checkpoint(path, tmp_path)
    extra = {"skd_meta.json": ""}
    torch.jit.load(str(written["torchscript"]), _extra_files=extra)
    assert json.loads(extra["skd_meta.json"])["resolution"] == 32
    props = {p.key: p.value for p in onnx.load(str(written["onnx"])).metadata_props}
    assert json.loads(props["skd_meta.json"])["meta"]["note"] == "test"
    assert json.loads(written["ncnn"].with_suffix(".json").read_text())["resolution"] == 32


def test_verification_catches_a_file_of_another_model(checkpoint, tmp_path):
    _, path = checkpoint
    written = export_checkpoint(path, tmp_path)
    torch.manual_seed(1)
    other = SKDModel().eval()
    with pytest.raises(ExportError, match="differs from the eager model"):
        verify_torchscript(other, written["torchscript"], 32)
    with pytest.raises(ExportError, match="differs from the eager model"):
        verify_onnx(other, written["onnx"], 32)
    with pytest.raises(ExportError, match="differs from the eager model"):
        verify_ncnn(other, written["ncnn"], 32)


def test_truncated_ncnn_weights_are_named(checkpoint, tmp_path):
    model, path = checkpoint
    param = export_checkpoint(path, tmp_path, formats=["ncnn"])["ncnn"]
    weights = ncnn_weights_path(param)
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ExportError, match="could not load.*ncnn.bin"):
        verify_ncnn(model, param, 32)


def test_a_damaged_or_foreign_file_fails_verification_naming_it(checkpoint, tmp_path):
    """Regression: onnxruntime's and torch's own exceptions escaped verify_* (and skd-export), some without
    the file's name."""
    model, path = checkpoint
    written = export_checkpoint(path, tmp_path, formats=["torchscript", "onnx"])
    for fmt, verify in (("torchscript", verify_torchscript), ("onnx", verify_onnx)):
        cut = tmp_path / f"cut_{written[fmt].name}"
        cut.write_bytes(written[fmt].read_bytes()[:2000])
        with pytest.raises(ExportError, match="cannot load or run") as failure:
            verify(model, cut, 32)
        assert str(cut) in str(failure.value)
    with pytest.raises(ExportError, match="cannot load or run") as failure:
        verify_onnx(model, written["onnx"], 16)  # exported at 32: onnxruntime refuses 16 x 16 inputs
    assert str(written["onnx"]) in str(failure.value)


def test_cli_refuses_a_wrong_file(tmp_path, capsys):
    wrong = tmp_path / "wrong.pt"
    torch.save({"something": "else"}, wrong)
    assert main([str(wrong)]) == 2
    assert "not an SKD fused-model checkpoint" in capsys.readouterr().err
