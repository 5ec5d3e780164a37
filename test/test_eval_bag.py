"""skd-eval-bag: offline evaluation round-trips a bag, scores ground truth, survives damaged bags;
live replay through the node agrees with the offline outputs."""

import json

import numpy as np
import pytest

from skd_ros.core.checkpoint import shipped_weights
from skd_ros.core.postprocess import to_uint8
from skd_ros.runtime import SaliencyPipeline
from skd_tools.bags import render_test_frames, saliency_from_msg, write_test_bag
from skd_tools.eval_bag.cli import main
from skd_tools.eval_bag.live import _match, node_command
from skd_tools.eval_bag.offline import DEFAULT_NODE_NAME, EvalSettings, evaluate_offline, make_estimator
from skd_training.data.rosbag import IMAGE_TYPE, TYPESTORE, BagReader, ns_to_stamp, stamp_to_ns

FRAMES, WIDTH, HEIGHT = 10, 160, 120
IMAGE_TOPIC = "/camera/image_raw"


@pytest.fixture(scope="module")
def estimator(brightness_weights):
    return make_estimator(EvalSettings(weights=brightness_weights, resolution=32, backend="eager"))


def output_messages(path, topic):
    """(record time, message) of one topic of an output bag."""
    with BagReader(path) as bag:
        return [(log_time, msg) for _, log_time, msg in bag.messages([topic])]


def input_times(path):
    with BagReader(path) as bag:
        return [(log_time, stamp_to_ns(msg.header.stamp)) for _, log_time, msg in bag.messages([IMAGE_TOPIC])]


@pytest.mark.parametrize("storage,compressed", [("sqlite3", False), ("mcap", True)])
def test_offline_round_trip_keeps_stamps_frames_and_core(tmp_path, estimator, storage, compressed):
    made = write_test_bag(tmp_path / "in", FRAMES, WIDTH, HEIGHT, storage=storage, compressed=compressed)
    settings = EvalSettings(backend="eager")
    run = evaluate_offline(made.path, IMAGE_TOPIC, estimator, settings, out=tmp_path / "out", progress=False)
    summary = run.summary
    assert summary["complete"] and summary["frames"] == summary["frames_in_bag"] == FRAMES
    assert summary["resets"] == 0 and summary["paired_frames"] == FRAMES - 1
    assert any(p.suffix == (".mcap" if storage == "mcap" else ".db3") for p in (tmp_path / "out").iterdir())

    expected_times = input_times(made.path)
    topics = summary["output_topics"]
    for topic in topics.values():
        messages = output_messages(tmp_path / "out", topic)
        assert [(log_time, stamp_to_ns(m.header.stamp)) for log_time, m in messages] == expected_times
        assert {m.header.frame_id for _, m in messages} == {"camera"}

    # the same core as the node: the maps equal a SaliencyPipeline run straight over the frames
    pipeline = SaliencyPipeline(estimator, settings.roi_params)
    frames, _ = render_test_frames(FRAMES, WIDTH, HEIGHT)
    saliency = output_messages(tmp_path / "out", topics["saliency"])
    attention = output_messages(tmp_path / "out", topics["attention"])
    for frame, stamp, (_, map_msg), (_, point_msg) in zip(frames, made.stamps_ns, saliency, attention, strict=True):
        result = pipeline.step(frame, stamp, "camera")
        np.testing.assert_array_equal(saliency_from_msg(map_msg), to_uint8(result.saliency) / np.float32(255.0))
        assert (point_msg.point.x, point_msg.point.y) == pytest.approx((result.peak.x, result.peak.y))


def test_offline_scores_ground_truth_and_finds_the_target(tmp_path, estimator):
    made = write_test_bag(tmp_path / "in", FRAMES, WIDTH, HEIGHT)
    run = evaluate_offline(
        made.path, IMAGE_TOPIC, estimator, EvalSettings(backend="eager"), out=tmp_path / "out",
        gt_topic=made.density_topic, fixation_topic=made.fixation_topic, progress=False,
    )  # fmt: skip
    metrics = run.summary["metrics"]
    assert metrics["frames_scored"] == FRAMES and metrics["frames_without_ground_truth"] == 0
    assert set(metrics["mean"]) == {"AUC", "NSS", "CC", "SIM", "KLD"}
    # the bright-target detector looks where the ground truth is: far better than chance (NSS 0, AUC 0.5, CC 0)
    assert metrics["mean"]["NSS"] > 1.0 and metrics["mean"]["AUC"] > 0.8 and metrics["mean"]["CC"] > 0.3
    assert run.summary["rois"]["frames_with_rois"] == FRAMES
    # only density maps: the fixation metrics are named as not computed, with the reason
    other = evaluate_offline(
        made.path, IMAGE_TOPIC, estimator, EvalSettings(backend="eager"), out=tmp_path / "out2",
        gt_topic=made.density_topic, progress=False,
    )  # fmt: skip
    assert (
        "NSS" not in other.summary["metrics"]["mean"] and "fixation" in other.summary["metrics"]["not_computed"]["NSS"]
    )


def test_looping_bag_resets_pairing(tmp_path, estimator):
    made = write_test_bag(tmp_path / "in", FRAMES, 64, 48, loop_at=6)
    run = evaluate_offline(made.path, IMAGE_TOPIC, estimator, out=tmp_path / "out", progress=False)
    assert run.summary["resets"] == 1 and run.summary["paired_frames"] == FRAMES - 2
    stamps = [stamp_to_ns(m.header.stamp) for _, m in output_messages(tmp_path / "out", "/saliency_node/saliency")]
    assert stamps == made.stamps_ns  # repeated stamps after the loop are kept, in record order


def write_bag_with_damaged_message(path, good_before: int, good_after: int):
    """bgr8 images on IMAGE_TOPIC with one message whose CDR bytes are cut short in between."""
    from rosbags.rosbag2 import Writer

    frames, _ = render_test_frames(good_before + good_after, 64, 48)
    with Writer(path, version=9) as writer:
        connection = writer.add_connection(IMAGE_TOPIC, IMAGE_TYPE, typestore=TYPESTORE)
        raws = []
        for i, frame in enumerate(frames):
            header = TYPESTORE.types["std_msgs/msg/Header"](stamp=ns_to_stamp(10**9 + i * 10**8), frame_id="camera")
            msg = TYPESTORE.types[IMAGE_TYPE](
                header=header, height=48, width=64, encoding="bgr8", is_bigendian=0, step=192, data=frame.ravel()
            )
            raws.append(TYPESTORE.serialize_cdr(msg, IMAGE_TYPE))
        raws.insert(good_before, raws[good_before][:40])
        for i, raw in enumerate(raws):
            writer.write(connection, 10**9 + i * 10**8 + 1, raw)


def test_bag_failing_part_way_keeps_what_was_done(tmp_path, brightness_weights, capsys):
    write_bag_with_damaged_message(tmp_path / "in", good_before=4, good_after=3)
    summary_path = tmp_path / "summary.json"
    code = main([
        str(tmp_path / "in"), "--image-topic", IMAGE_TOPIC, "--out", str(tmp_path / "out"), "--weights",
        brightness_weights, "--resolution", "32", "--backend", "eager", "--summary", str(summary_path),
    ])  # fmt: skip
    assert code == 1
    summary = json.loads(summary_path.read_text())
    assert not summary["complete"] and summary["frames"] == 4 and summary["frames_in_bag"] == 8
    assert "damaged after 4 messages" in summary["error"]
    assert "stopped early after 4 frames" in capsys.readouterr().out
    # the output bag was closed properly and holds the four frames done
    assert len(output_messages(tmp_path / "out", "/saliency_node/saliency")) == 4


def test_missing_topic_or_truncated_bag_fail_listing_the_topics(tmp_path, capsys):
    made = write_test_bag(tmp_path / "in", 4, 64, 48)
    assert main([str(made.path), "--image-topic", "/camera/nope", "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert "no topic '/camera/nope'" in error and IMAGE_TOPIC in error and made.density_topic in error
    assert not (tmp_path / "out").exists()
    (data_file,) = made.path.glob("*.db3")
    data_file.write_bytes(data_file.read_bytes()[:20000])
    assert main([str(made.path), "--image-topic", IMAGE_TOPIC, "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert "truncated or damaged" in error and IMAGE_TOPIC in error
    assert not (tmp_path / "out").exists()


def test_mcap_bag_cut_short_is_evaluated_up_to_the_cut(tmp_path, brightness_weights, capsys):
    """A flight recording whose recorder died: every frame before the cut is evaluated and kept, and the run
    says where the bag was cut (exit 1, as for any bag that fails part-way)."""
    made = write_test_bag(tmp_path / "in", 12, 320, 240, storage="mcap")
    (data_file,) = made.path.glob("*.mcap")
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    summary_path = tmp_path / "summary.json"
    code = main([
        str(made.path), "--image-topic", IMAGE_TOPIC, "--out", str(tmp_path / "out"), "--weights",
        brightness_weights, "--resolution", "32", "--backend", "eager", "--summary", str(summary_path),
    ])  # fmt: skip
    assert code == 1
    summary = json.loads(summary_path.read_text())
    assert not summary["complete"] and 0 < summary["frames"] == summary["frames_in_bag"] < 12
    assert "read record by record" in summary["recovered"] and f"cut short: {data_file.name}" in summary["error"]
    out = capsys.readouterr()
    assert "recovered: cannot read bag" in out.out and f"stopped early after {summary['frames']} frames" in out.out
    saliency = output_messages(tmp_path / "out", "/saliency_node/saliency")
    assert [stamp_to_ns(m.header.stamp) for _, m in saliency] == made.stamps_ns[: summary["frames"]]


def test_existing_output_is_refused(tmp_path, capsys):
    made = write_test_bag(tmp_path / "in", 2, 32, 24)
    (tmp_path / "out").mkdir()
    assert main([str(made.path), "--image-topic", IMAGE_TOPIC, "--out", str(tmp_path / "out")]) == 1
    assert "exists already" in capsys.readouterr().err


def test_live_replay_matches_offline(tmp_path, motion_weights, capsys):
    pytest.importorskip("rclpy")
    made = write_test_bag(tmp_path / "in", 12, WIDTH, HEIGHT, fps=20.0, density_topic=None, fixation_topic=None)
    summary_path = tmp_path / "summary.json"
    code = main([
        str(made.path), "--image-topic", IMAGE_TOPIC, "--weights", motion_weights, "--resolution", "32",
        "--backend", "eager", "--saliency-encoding", "32FC1", "--out", str(tmp_path / "offline"),
        "--live", "--live-out", str(tmp_path / "live"), "--summary", str(summary_path),
    ])  # fmt: skip
    summary = json.loads(summary_path.read_text())
    live = summary["live"]
    assert code == 0, (capsys.readouterr(), json.dumps(live, indent=1)[:3000])
    assert live["frames_published"] == 12 and live["frames_matched"] + live["frames_dropped"] == 12
    assert live["frames_matched"] >= 1 and live["unexpected_outputs"] == 0
    agreement = live["agreement"]
    assert agreement["agree"] and agreement["max_abs_diff"] <= agreement["tolerance"]
    assert agreement["peak_value_within_tolerance"] == agreement["peaks_checked"] >= 1
    assert np.isfinite(live["latency"]["p50_ms"]) and live["latency"]["p99_ms"] >= live["latency"]["p50_ms"]
    # the motion detector's maps depend on the pairing, so agreement means the node paired frames as offline did
    offline_maps = {
        stamp_to_ns(m.header.stamp): saliency_from_msg(m)
        for _, m in output_messages(tmp_path / "offline", "/saliency_node/saliency")
    }
    live_messages = output_messages(tmp_path / "live", "/saliency_node/saliency")
    assert len(live_messages) == live["frames_matched"]
    assert float(np.ptp(offline_maps[made.stamps_ns[5]])) > 0.5  # a moving target: not a flat map
    for _, msg in live_messages:
        np.testing.assert_allclose(saliency_from_msg(msg), offline_maps[stamp_to_ns(msg.header.stamp)], atol=1 / 255)


def test_outputs_match_the_latest_input_with_their_stamp():
    """A looping bag repeats stamps: an output belongs to the last input with its header published
    before it arrived, so a skipped first occurrence does not shift every later match."""
    keys = [("cam", 1), ("cam", 2), ("cam", 1), ("cam", 2)]
    publish_ns = [100, 200, 300, 400]

    def output(stamp_ns, frame_id="cam"):
        header = TYPESTORE.types["std_msgs/msg/Header"](stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)
        msg = TYPESTORE.types[IMAGE_TYPE](header=header, height=1, width=1, encoding="mono8", is_bigendian=0,
                                          step=1, data=np.zeros(1, np.uint8))  # fmt: skip
        return TYPESTORE.serialize_cdr(msg, IMAGE_TYPE)

    # the node skipped input 1 (cam, 2) and answered input 3 (cam, 2) late; one answer matches nothing
    received = [(150, 0, output(1)), (350, 0, output(1)), (450, 0, output(2)), (460, 0, output(7))]
    matched, unexpected = _match(received, IMAGE_TYPE, keys, publish_ns)
    assert {index: receive_ns for index, (receive_ns, _) in matched.items()} == {0: 150, 2: 350, 3: 450}
    assert unexpected == 1


def test_output_topics_default_to_the_nodes_name():
    node = pytest.importorskip("skd_ros.node.saliency_node")
    assert DEFAULT_NODE_NAME == node.NODE_NAME


def test_the_live_node_is_given_a_shipped_checkpoint_by_its_path(tmp_path, monkeypatch):
    # --weights skd_fused_64.pt names the shipped file; the node, started from another directory, needs its path
    monkeypatch.chdir(tmp_path)
    settings = EvalSettings(weights="skd_fused_64.pt", backend="eager")
    command = node_command(settings, make_estimator(settings), IMAGE_TOPIC, False)
    assert f"weights:={shipped_weights('skd_fused_64.pt').resolve()}" in command
    assert "resolution:=64" in command
