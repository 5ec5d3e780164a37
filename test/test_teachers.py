"""Teachers: built-in networks, user TorchScript/ONNX files, precomputed map folders, soft labels."""

import logging

import cv2
import numpy as np
import onnxruntime
import pytest
import torch

from skd_ros.core.model import Student, count_parameters
from skd_ros.engines.export import save_onnx, save_torchscript
from skd_training.teachers import (
    BuiltinTeacher,
    ONNXTeacher,
    PrecomputedTeacher,
    SpatialTeacherNet,
    StillSaliencyDataset,
    TeacherError,
    TemporalTeacherNet,
    TorchScriptTeacher,
    build_teacher_net,
    minmax_per_map,
    onnx_teacher_providers,
    soft_labels,
)


def batch_of(n=2, side=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {
        "previous_hr": torch.randn(n, 3, side, side, generator=generator),
        "current_hr": torch.randn(n, 3, side, side, generator=generator),
        "video": [f"clip{i}" for i in range(n)],
        "frame": torch.arange(n) + 3,
    }


def test_default_teachers_are_tens_of_times_a_student():
    student = count_parameters(Student("spatial"))
    for kind in ("spatial", "temporal"):
        assert count_parameters(build_teacher_net(kind)) >= 20 * student


@pytest.mark.parametrize("cls", [SpatialTeacherNet, TemporalTeacherNet])
def test_builtin_teacher_maps_are_full_size_and_in_unit_range(cls):
    net = cls(widths=(4, 8, 16))
    maps = BuiltinTeacher(net).predict(batch_of(side=16))
    assert maps.shape == (2, 1, 16, 16)
    assert 0.0 <= maps.min() and maps.max() <= 1.0


def test_spatial_teacher_ignores_the_previous_frame_and_temporal_does_not():
    batch = batch_of()
    moved = dict(batch, previous_hr=torch.randn_like(batch["previous_hr"]))
    torch.manual_seed(0)
    spatial, temporal = BuiltinTeacher(SpatialTeacherNet((4, 8))), BuiltinTeacher(TemporalTeacherNet((4, 8)))
    assert torch.equal(spatial.predict(batch), spatial.predict(moved))
    assert not torch.allclose(temporal.predict(batch), temporal.predict(moved))


def test_teacher_input_side_must_fit_its_pooling():
    with pytest.raises(ValueError, match="multiples of 4"):
        SpatialTeacherNet((4, 8, 16))(torch.zeros(1, 3, 18, 18), torch.zeros(1, 3, 18, 18))


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_exported_teacher_file_reproduces_the_builtin_teacher(tmp_path, fmt):
    torch.manual_seed(0)
    net = TemporalTeacherNet((4, 8)).eval()
    if fmt == "torchscript":
        path = save_torchscript(net, tmp_path / "teacher.pt", 16)
        teacher = TorchScriptTeacher(path, "temporal")
    else:
        path = save_onnx(net, tmp_path / "teacher.onnx", 16)
        teacher = ONNXTeacher(path, "temporal")
    batch = batch_of()
    expected = minmax_per_map(BuiltinTeacher(net).predict(batch))
    assert torch.allclose(teacher.predict(batch), expected, atol=1e-4)


def test_onnx_teacher_provider_follows_the_run_device_and_the_installed_build():
    cpu, cuda = ["CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_teacher_providers("cuda", cuda) == cuda
    assert onnx_teacher_providers(torch.device("cuda", 1), cuda) == cuda
    assert onnx_teacher_providers("cpu", cuda) == cpu  # a CPU run stays on the CPU
    assert onnx_teacher_providers("cuda", cpu) == cpu  # onnxruntime without the CUDA provider


class ReportedProvidersSession:
    """An onnxruntime session on the CPU that reports the providers it was asked for (a GPU build, faked)."""

    real = onnxruntime.InferenceSession

    def __init__(self, model, providers):
        self.session = self.real(model, providers=["CPUExecutionProvider"])
        self.providers = providers

    def get_providers(self):
        return list(self.providers)

    def __getattr__(self, name):
        return getattr(self.session, name)


@pytest.mark.parametrize(
    "available, expected",
    [
        (["CUDAExecutionProvider", "CPUExecutionProvider"], "CUDAExecutionProvider"),
        (["CPUExecutionProvider"], "CPUExecutionProvider"),
    ],
)
def test_onnx_teacher_on_a_cuda_run_names_its_provider_in_the_log(tmp_path, monkeypatch, caplog, available, expected):
    path = save_onnx(TemporalTeacherNet((4, 8)).eval(), tmp_path / "teacher.onnx", 16)
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: available)
    monkeypatch.setattr(onnxruntime, "InferenceSession", ReportedProvidersSession)
    with caplog.at_level(logging.INFO, logger="skd_training.teachers"):
        teacher = ONNXTeacher(path, "temporal", device="cuda")
    assert teacher.provider == expected
    assert f"runs on {expected}" in caplog.text
    assert ("no CUDAExecutionProvider" in caplog.text) == (expected == "CPUExecutionProvider")
    assert teacher.predict(batch_of()).shape == (2, 1, 16, 16)


class OneInputMean(torch.nn.Module):
    def forward(self, x):
        return x.mean(1, keepdim=True) * 100.0  # a range the teacher wrapper must normalise


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("kind, channels", [("spatial", 3), ("temporal", 6)])
def test_single_input_torchscript_teacher_gets_frame_or_stacked_pair(tmp_path, kind, channels):
    path = tmp_path / "mean.pt"
    torch.jit.script(OneInputMean()).save(str(path))
    teacher = TorchScriptTeacher(path, kind, normalization="unit")
    batch = batch_of()
    maps = teacher.predict(batch)
    assert maps.shape == (2, 1, 16, 16)
    assert maps.amin(dim=(1, 2, 3)).tolist() == pytest.approx([0, 0]) and maps.amax().item() == pytest.approx(1)
    # the expected input: unit-range RGB, current frame (spatial) or previous+current (temporal)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    frames = [batch["current_hr"] * std + mean]
    if channels == 6:
        frames.insert(0, batch["previous_hr"] * std + mean)
    expected = minmax_per_map(torch.cat(frames, 1).mean(1, keepdim=True))
    assert torch.allclose(maps, expected, atol=1e-5)


def test_bad_teacher_files_are_refused_clearly(tmp_path):
    with pytest.raises(TeacherError, match="does not exist"):
        TorchScriptTeacher(tmp_path / "missing.pt", "spatial")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(TeacherError, match="not a loadable TorchScript"):
        TorchScriptTeacher(garbage, "spatial")
    with pytest.raises(TeacherError, match="not a loadable ONNX"):
        ONNXTeacher(garbage, "spatial")
    with pytest.raises(TeacherError, match="kind"):
        PrecomputedTeacher(tmp_path, "spatiotemporal")


def test_precomputed_teacher_reads_maps_by_video_and_frame(tmp_path):
    for video, value in (("clip0", 50), ("clip1", 200)):
        (tmp_path / video).mkdir()
        image = np.zeros((32, 48), np.uint8)
        image[:, 24:] = value  # right half salient
        cv2.imwrite(str(tmp_path / video / "000003.png" if video == "clip0" else tmp_path / video / "4.png"), image)
    teacher = PrecomputedTeacher(tmp_path, "spatial")
    maps = teacher.predict(batch_of(side=16))
    assert maps.shape == (2, 1, 16, 16)
    assert torch.allclose(maps[:, :, :, 8:], torch.ones(2, 1, 16, 8))
    assert torch.allclose(maps[:, :, :, :8], torch.zeros(2, 1, 16, 8))
    with pytest.raises(TeacherError, match="no map for frame 9 of video 'clip1'"):
        teacher.predict(dict(batch_of(side=16), frame=torch.tensor([3, 9])))
    with pytest.raises(TeacherError, match="no folder"):
        teacher.predict(dict(batch_of(side=16), video=["clip0", "clip7"]))


def test_soft_labels_are_area_degraded_teacher_maps():
    class Fixed(BuiltinTeacher):
        def predict(self, batch):
            return torch.tensor([[0.0, 1.0, 0.5, 0.5], [1.0, 0.0, 0.5, 0.5], [0, 0, 1, 1], [0, 0, 1, 1.0]])[None, None]

    labels = soft_labels(Fixed(SpatialTeacherNet((4, 8))), {}, 2)
    assert labels[0, 0].flatten().tolist() == pytest.approx([0.5, 0.5, 0.0, 1.0])


def test_still_image_dataset_pairs_stimuli_with_maps(tmp_path):
    images, maps = tmp_path / "stimuli", tmp_path / "fixation_maps"
    images.mkdir(), maps.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        cv2.imwrite(str(images / f"{name}.jpg"), rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
        density = np.zeros((40, 60), np.uint8)
        density[10:20, 30:40] = 128
        cv2.imwrite(str(maps / f"{name}.png"), density)
    cv2.imwrite(str(images / "unpaired.jpg"), np.zeros((8, 8, 3), np.uint8))
    dataset = StillSaliencyDataset(images, maps, resolution=16, augment=False)
    assert len(dataset) == 2
    item = dataset[0]
    assert item["current_hr"].shape == (3, 16, 16) and torch.equal(item["previous_hr"], item["current_hr"])
    assert item["density_hr"].shape == (1, 16, 16) and item["density_hr"].max().item() == pytest.approx(1.0)
    torch.manual_seed(0)
    augmented = StillSaliencyDataset(images, maps, resolution=16, augment=True)[1]
    assert augmented["current_hr"].shape == (3, 16, 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image"):
        StillSaliencyDataset(images, tmp_path / "empty", resolution=16)
