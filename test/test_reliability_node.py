"""The live-node part of the fuzz and fault suite (skd_tools.reliability.live), at test sizes: the node as its own
process, bad messages each followed by a sentinel, declared-huge frames, header anomalies, runtime parameter
changes, lifecycle transitions under traffic and a short soak; then the report written from it. The full
sizes (10,000 messages, 20,000 soak frames) are docs/RELIABILITY.md's run."""

import pytest

pytest.importorskip("rclpy", reason="needs ROS 2's rclpy (the ros-kilted-* wheels or a ROS install)")

from skd_tools.reliability.live import LiveSizes
from skd_tools.reliability.report import FIGURES, RSS_TOLERANCE, rss_excursion, verdicts, write_report
from skd_tools.reliability.suite import Sizes, run_suite

SIZES = Sizes(
    messages=300,
    node=LiveSizes(warm_up=30, huge=40, anomalies=100, parameters=40, transitions=12, soak=1000),
)


@pytest.fixture(scope="module")
def node_suite(tmp_path_factory):
    """One run of the live part (both input kinds); ROS_DOMAIN_ID and the discovery range: conftest's."""
    return run_suite(SIZES, tmp_path_factory.mktemp("reliability"), seed=4, parts=("node",), progress=lambda _: None)


def test_the_node_survives_every_phase_and_counts_every_bad_frame(node_suite):
    assert [run.input_kind for run in node_suite.nodes] == ["Image", "CompressedImage"]
    for run in node_suite.nodes:
        names = [phase.name for phase in run.phases]
        assert names[:4] == ["warm-up", "message fuzz", "declared huge", "header anomalies"]
        for phase in run.phases:
            assert not phase.crashed and phase.hangs == 0, (run.input_kind, phase.name)
            assert phase.problem_count == 0, (run.input_kind, phase.name, phase.problems)
            assert phase.counted == phase.expected, (run.input_kind, phase.name)
        fuzz = run.phases[1]
        assert fuzz.cases == SIZES.messages and sum(fuzz.expected.values()) > SIZES.messages / 2
        assert fuzz.details["outputs for refused messages"] == 0
        assert run.exit_code == 0 and not run.log_problems, (run.log_problems, run.log_path)
        assert rss_excursion(run) <= RSS_TOLERANCE


def test_parameters_lifecycle_and_soak_ran_against_the_raw_node(node_suite):
    raw = {phase.name: phase for phase in node_suite.nodes[0].phases}
    outcomes = raw["parameters"].details["outcomes"]
    assert any(key.endswith("taken") for key in outcomes) and any(key.endswith("refused") for key in outcomes)
    assert raw["lifecycle"].details["frames sent while not active"] > 0  # and none of them answered
    transitions = raw["lifecycle"].details["transitions"]
    assert any(key.endswith("taken") for key in transitions) and any(key.endswith("refused") for key in transitions)
    assert raw["soak"].cases >= SIZES.node.soak and sum(raw["soak"].expected.values()) > 0
    restarts = raw["header anomalies"].details["restarts counted"]
    assert restarts == raw["header anomalies"].details["restarts expected"] and sum(restarts.values()) > 0


def test_the_report_states_the_targets_and_draws_the_figures(node_suite, tmp_path):
    written = write_report(node_suite, tmp_path / "RELIABILITY.md", tmp_path / "figures", "skd-reliability (test)")
    doc = (tmp_path / "RELIABILITY.md").read_text()
    assert "## Targets" in doc and "## The live node" in doc and "skd-reliability (test)" in doc
    assert all(verdict.met for verdict in verdicts(node_suite)), verdicts(node_suite)
    for name in FIGURES[1:]:  # the decoder figure needs the decoder part
        assert (tmp_path / "figures" / name) in written and (tmp_path / "figures" / name).stat().st_size > 0
