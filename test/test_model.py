import pytest
import torch

from skd_ros.core.model import SKDModel, Student, Widths, count_parameters


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_fused_output_shape_and_range(size):
    torch.manual_seed(0)
    model = SKDModel().eval()
    previous, current = torch.randn(2, 3, size, size), torch.randn(2, 3, size, size)
    with torch.no_grad():
        out = model(previous, current)
    assert out.shape == (2, 1, size, size)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_non_square_multiple_of_four():
    out = SKDModel().eval()(torch.randn(1, 3, 36, 64), torch.randn(1, 3, 36, 64))
    assert out.shape == (1, 1, 36, 64)


def test_parameter_count_close_to_paper():
    params = count_parameters(SKDModel())
    assert abs(params - 300_000) <= 0.15 * 300_000, params


@pytest.mark.parametrize("kind,channels", [("spatial", 3), ("temporal", 6)])
def test_students(kind, channels):
    student = Student(kind).eval()
    assert student(torch.randn(1, channels, 64, 64)).shape == (1, 1, 64, 64)
    with pytest.raises(ValueError, match=f"{channels} x H x W"):
        student(torch.randn(1, 9 - channels, 64, 64))


def test_bad_inputs_raise():
    model = SKDModel()
    with pytest.raises(ValueError, match="multiples of 4"):
        model(torch.randn(1, 3, 30, 30), torch.randn(1, 3, 30, 30))
    with pytest.raises(ValueError, match="current frame"):
        model(torch.randn(1, 3, 32, 32), torch.randn(1, 1, 32, 32))


def test_temporal_stream_sees_previous_then_current():
    """The temporal stream's first conv gets channels 0-2 = previous frame, 3-5 = current frame."""
    model = SKDModel().eval()
    seen = {}

    def record_input(module, inputs, output):
        seen["x"] = inputs[0]

    model.temporal[0].register_forward_hook(record_input)
    previous, current = torch.full((1, 3, 32, 32), -1.0), torch.full((1, 3, 32, 32), 1.0)
    model(previous, current)
    assert torch.equal(seen["x"][:, :3], previous) and torch.equal(seen["x"][:, 3:], current)


def test_init_from_students_copies_streams_and_resets_head():
    torch.manual_seed(1)
    spatial, temporal = Student("spatial"), Student("temporal")
    model = SKDModel()
    model.init_from_students(spatial, temporal)
    for src, dst in ((spatial.stream, model.spatial), (temporal.stream, model.temporal)):
        for (name, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items(), strict=True):
            assert torch.equal(a, b), name
    head_weights = torch.cat([m.weight.detach().flatten() for m in model.head.modules() if hasattr(m, "weight")])
    assert float(head_weights.abs().max()) <= 0.04  # truncated at 2 std of 0.02
    with pytest.raises(ValueError, match="widths"):
        SKDModel(Widths(c3=32)).init_from_students(spatial, temporal)


def test_context_dilation_widens_the_view_at_the_same_cost(tmp_path):
    """context_dilation 2: the same parameters (so a paper-architecture checkpoint's weights load into it), the
    same output shape, and a centre cell that depends on input cells the undilated model cannot see; the
    checkpoint keeps the setting."""
    from skd_ros.core.checkpoint import load_fused, save_fused

    def reach(model: SKDModel, size: int = 160) -> int:
        """How many columns of the current frame the map's centre cell depends on."""
        for parameter in model.parameters():
            torch.nn.init.constant_(parameter, 0.01)  # all positive: no gradient cancels out
        model.head[-1] = torch.nn.Identity()  # the logits: a saturated sigmoid would pass no gradient
        current = torch.zeros(1, 3, size, size, requires_grad=True)
        model(torch.zeros(1, 3, size, size), current)[0, 0, size // 2, size // 2].backward()
        return int((current.grad.abs().sum(dim=(0, 1, 2)) > 0).sum())

    paper, dilated = SKDModel(), SKDModel(Widths(context_dilation=2))
    assert count_parameters(dilated) == count_parameters(paper)
    dilated.load_state_dict(paper.state_dict())
    assert dilated(torch.randn(1, 3, 36, 64), torch.randn(1, 3, 36, 64)).shape == (1, 1, 36, 64)
    assert 40 < reach(SKDModel()) < 60 < 80 < reach(SKDModel(Widths(context_dilation=2))) < 100
    save_fused(dilated, tmp_path / "dilated.pt", resolution=96)
    loaded, resolution, _ = load_fused(tmp_path / "dilated.pt")
    assert loaded.widths.context_dilation == 2 and resolution == 96
    with pytest.raises(ValueError, match="context_dilation"):
        Widths(context_dilation=0)
