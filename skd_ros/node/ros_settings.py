"""The node's settings in rclpy's types: each parameter's ParameterDescriptor (description, choices and range, from
``settings.ParamSpec``), the QoS profiles of the output and input topics, and the report of a publisher whose QoS
an input subscription cannot accept (``misconfiguration`` words it)."""

from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_policy_name_from_kind

from skd_ros.node.misconfiguration import incompatible_qos_message
from skd_ros.node.settings import NodeSettings, ParamSpec


def parameter_descriptor(spec: ParamSpec) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
    if spec.choices:
        descriptor.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.value_range is not None:
        if isinstance(spec.default, int):
            low, high, step = spec.value_range
            descriptor.integer_range = [IntegerRange(from_value=low, to_value=high, step=step)]
        else:
            low, high = spec.value_range
            descriptor.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    return descriptor


def output_qos(settings: NodeSettings) -> QoSProfile:
    """The outputs' QoS: reliable, volatile, ``qos_depth`` deep."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=settings.qos_depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


def input_qos(settings: NodeSettings) -> QoSProfile:
    """The input subscriptions' QoS: ``qos_reliability`` (best effort, the sensor-data default, or reliable),
    volatile, ``qos_depth`` deep."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=settings.qos_depth,
        reliability=ReliabilityPolicy.BEST_EFFORT
        if settings.qos_reliability == "best_effort"
        else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


def incompatible_qos_report(topic: str, requested: QoSProfile, publishers, qos_reliability: str, policy_kind) -> str:
    """What the node says about the publishers on ``topic`` (rclpy's TopicEndpointInfo list) when one offers a QoS
    that the subscription's ``requested`` profile cannot accept (``policy_kind``: the event's last policy kind):
    both sides' settings and the parameter that fixes it."""
    offered = [
        f"{info.node_namespace.rstrip('/')}/{info.node_name}: reliability "
        f"{info.qos_profile.reliability.name.lower()}, durability {info.qos_profile.durability.name.lower()}"
        for info in publishers
    ]
    reliability = requested.reliability.name.lower()
    ours = {
        "reliability": f"{reliability} (qos_reliability: {qos_reliability})",
        "durability": requested.durability.name.lower(),
    }
    policy = qos_policy_name_from_kind(policy_kind)
    return incompatible_qos_message(topic, policy, ours, offered)
