"""Shared test fixtures: an isolated ROS 2 domain, rclpy contexts, a probe node that talks to the saliency
node over DDS (``ros_probe``), saliency nodes in the test's process, and checkpoints whose output can be
predicted (so that tests can assert *where* the node looks without trained weights).

Nothing here imports ROS at collection: the ROS fixtures import rclpy when a test asks for them, so the
ROS-free tests (core, engines, training, tools) run where rclpy is not installed, and the ROS tests skip
there with the reason.
"""

from __future__ import annotations

import itertools
import os
import random
import time

import numpy as np
import pytest
import torch
from torch import nn

from skd_ros.core.checkpoint import default_weights_path, input_side, load_fused, save_fused
from skd_ros.core.model import SKDModel
from skd_ros.core.preprocess import MEAN_RGB, STD_RGB

# Every DDS test talks only to itself: a random domain per test session (other test runs on the same machine
# pick other ones; topics are namespaced per process as well) and discovery kept on this host.
os.environ["ROS_DOMAIN_ID"] = str(random.Random(os.getpid() ^ time.time_ns()).randint(1, 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

_namespaces = itertools.count()


def shipped_side() -> int:
    """The input side the default weights run at (``meta["input_resolution"]``, else the side they trained at)."""
    return input_side(*load_fused(default_weights_path())[1:])


@pytest.fixture
def namespace() -> str:
    """A ROS namespace no other test (or test run) uses."""
    return f"/skd_test_{os.getpid()}_{next(_namespaces)}"


@pytest.fixture(scope="module")
def ros_context():
    rclpy = pytest.importorskip("rclpy", reason="needs ROS 2's rclpy (the ros-kilted-* wheels or a ROS install)")
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    if context.ok():
        rclpy.shutdown(context=context)


@pytest.fixture
def restore_torch_threads():
    """The node sets PyTorch's (process-wide) thread count; give later tests their default back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


# --- predictable checkpoints -----------------------------------------------------------------------------


def normalised_grey(level: float) -> float:
    """The mean over channels of a grey level (0..255) after the model's ImageNet normalisation."""
    return float(np.mean((level / 255.0 - MEAN_RGB) / STD_RGB))


def _convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def _centre(conv: nn.Conv2d) -> int:
    return conv.kernel_size[0] // 2


def detector_model(kind: str, threshold: float, gain: float = 6.0) -> SKDModel:
    """A fused model with hand-set weights that computes, per pixel,

    * ``"brightness"``: sigmoid(gain * (brightness(current) - threshold)), ignoring the previous frame;
    * ``"motion"``: sigmoid(gain * (|brightness(current) - brightness(previous)| - threshold));

    where brightness is the channel mean of the normalised input (see ``normalised_grey``), seen through the
    streams' two max-poolings (bright or moving areas grow by a few model cells) and the head's upsampling.
    A frame paired with itself has no motion at all, so the motion model's map is exactly flat then."""
    model = SKDModel()
    spatial, temporal, head = _convs(model.spatial), _convs(model.temporal), _convs(model.head)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        if kind == "brightness":
            offset = 3.0  # keeps every normalised brightness (>= -2.2) positive through the ReLUs
            first = spatial[0]
            first.weight[0, :, _centre(first), _centre(first)] = 1.0 / 3.0
            first.bias[0] = offset
            for conv in spatial[1:]:
                conv.weight[0, 0, _centre(conv), _centre(conv)] = 1.0
            feature_channels = [0]
        elif kind == "motion":
            offset = 0.0
            first = temporal[0]
            c = _centre(first)
            first.weight[0, 3:6, c, c] = 1.0 / 3.0  # current brightness - previous brightness ...
            first.weight[0, 0:3, c, c] = -1.0 / 3.0
            first.weight[1] = -first.weight[0]  # ... and its negative: relu(d) + relu(-d) = |d|
            for conv in temporal[1:]:
                conv.weight[0, 0, _centre(conv), _centre(conv)] = 1.0
                conv.weight[1, 1, _centre(conv), _centre(conv)] = 1.0
            spatial_channels = model.spatial.out_channels
            feature_channels = [spatial_channels, spatial_channels + 1]
        else:
            raise ValueError(f"kind must be 'brightness' or 'motion', got {kind!r}")
        reduce, conv10, conv11, up12, up13 = head
        for channel in feature_channels:
            reduce.weight[0, channel, 0, 0] = 1.0
        for conv in (conv10, conv11):
            conv.weight[0, 0, _centre(conv), _centre(conv)] = 1.0
        up12.weight[0, 0] = 0.25  # each output pixel of a 4x4 / stride-2 transposed conv sums 2x2 inputs
        up13.weight[0, 0] = 0.25 * gain
        up13.bias[0] = -gain * (offset + threshold)
    return model.eval()


@pytest.fixture(scope="session")
def brightness_weights(tmp_path_factory):
    """A checkpoint whose saliency is high where the current frame is brighter than grey level 190."""
    path = tmp_path_factory.mktemp("weights") / "brightness.pt"
    save_fused(detector_model("brightness", threshold=normalised_grey(190)), path, 64, {"test": "brightness"})
    return str(path)


@pytest.fixture(scope="session")
def motion_weights(tmp_path_factory):
    """A checkpoint whose saliency is high where brightness changed between the paired frames."""
    path = tmp_path_factory.mktemp("weights") / "motion.pt"
    save_fused(detector_model("motion", threshold=1.0), path, 64, {"test": "motion"})
    return str(path)


# --- talking to the node over DDS: ros_probe.Probe --------------------------------------------------


@pytest.fixture
def probe_factory(ros_context):
    from ros_probe import Probe  # imports rclpy: only for the tests that talk DDS

    probes = []

    def make(node_fqn: str, image_topic: str, overlay: bool = False, markers: bool = False) -> Probe:
        probe = Probe(ros_context, node_fqn, image_topic, overlay, markers)
        probes.append(probe)
        return probe

    yield make
    for probe in probes:
        probe.close()


@pytest.fixture
def rosout_log(ros_context):
    """The log lines of the nodes in this process, from /rosout (``ros_probe.RosoutLog``)."""
    from ros_probe import RosoutLog

    log = RosoutLog(ros_context)
    yield log
    log.close()


# --- a saliency node in this process ----------------------------------------------------------------------------


@pytest.fixture
def start_node(ros_context, restore_torch_threads):
    """start_node(namespace, activate=True, cli_args=None, **parameters) -> a SaliencyNode in this process."""
    from rclpy.lifecycle import TransitionCallbackReturn  # ROS only for the tests that ask
    from rclpy.parameter import Parameter

    from skd_ros.node.saliency_node import SaliencyNode

    nodes = []

    def start(namespace, activate=True, cli_args=None, **parameters):
        parameters = {"backend": "eager", "diagnostics_period": 0.2, **parameters}
        node = SaliencyNode(
            namespace=namespace,
            context=ros_context,
            cli_args=cli_args,
            parameter_overrides=[Parameter(name, value=value) for name, value in parameters.items()],
        )
        nodes.append(node)
        if activate:
            assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
            assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        return node

    yield start
    for node in nodes:
        node.stop()
        node.destroy_node()


@pytest.fixture
def connect(start_node, probe_factory, ros_context):
    """connect(namespace, overlay=False, markers=False, **parameters) -> (node, probe), spinning, input matched."""

    def make(namespace, overlay=False, markers=False, activate=True, **parameters):
        node = start_node(namespace, activate=activate, **parameters)
        probe = probe_factory(f"{namespace}/saliency_node", f"{namespace}/image", overlay=overlay, markers=markers)
        probe.spin_in_background(node)
        if activate:
            probe.wait_for_subscriber(compressed=parameters.get("input_compressed", False))
        return node, probe

    return make
