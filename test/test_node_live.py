"""The ROS-free half of the node (skd_ros.node.settings, stream, stats, outputs, misconfiguration, rviz_config):
parameters, the newest-pair mailbox, frame pairing under skips, resets and bad frames, outputs (ids, rays,
markers), frames lost before the node, what the node says about a misconfiguration, throttling and statistics,
the RViz configuration. No DDS here."""

import json
import random
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from skd_ros.core import image_codec
from skd_ros.core.bearings import camera_model_from_info
from skd_ros.core.image_codec import DecodedImage, ImageDecodeError
from skd_ros.core.postprocess import ROI, Peak, extract_rois
from skd_ros.core.preprocess import FramePairBuffer
from skd_ros.core.roi_record import ROI_DTYPE, rois_to_records
from skd_ros.core.tracking import RoiTracker
from skd_ros.node.misconfiguration import (
    TRANSPORT_REMEDY,
    frames_lost_message,
    incompatible_qos_message,
    unknown_parameter_message,
)
from skd_ros.node.outputs import frame_outputs
from skd_ros.node.rviz_config import outputs_prefix, rviz_config_for
from skd_ros.node.settings import PARAMETER_SPECS, PARAMETERS, NodeSettings
from skd_ros.node.stage_times import NO_STAGE_TIMES, StageTimes, stage_durations, stage_times_from_environment
from skd_ros.node.stats import FrameGapCounter, StreamStats, WarningThrottle
from skd_ros.node.stream import LiveSaliency, NewestPairMailbox, camera_pool, run_cameras
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "saliency.yaml"
NODE_DOC = REPO / "docs" / "NODE.md"
DEFAULTS = {spec.name: spec.default for spec in PARAMETERS}


def test_defaults_are_valid_and_give_the_core_roi_parameters():
    settings = NodeSettings.from_values(DEFAULTS)
    assert settings.values() == DEFAULTS
    params = settings.roi_params
    assert (params.max_rois, params.rel_threshold, params.min_contrast) == (5, 0.5, 0.05)


@pytest.mark.parametrize(
    "name,value,words",
    [
        ("saliency_encoding", "rgb8", ["saliency_encoding", "mono8, 32FC1", "'rgb8'"]),
        ("qos_reliability", "reliable_ish", ["qos_reliability", "best_effort, reliable"]),
        ("roi_threshold", 0.0, ["roi_threshold", "(0, 1]"]),
        ("roi_threshold", 1.5, ["roi_threshold", "[0.0, 1.0]"]),
        ("max_rois", -1, ["max_rois", "[0, 64]"]),
        ("device", "gpu", ["device", "'gpu'"]),
        ("resolution", 30, ["resolution", "multiple of 4"]),
        ("qos_depth", "5", ["qos_depth", "must be a int"]),
        ("auto_start", 1, ["auto_start", "must be a bool"]),
        ("diagnostics_period", float("nan"), ["diagnostics_period"]),
        ("roi_track_iou", 0.0, ["roi_track_iou", "(0, 1]"]),
        ("roi_track_max_missed", -1, ["roi_track_max_missed", "[0, 1000]"]),
        ("marker_length", 0.0, ["marker_length", "[0.01, 1000.0]"]),
        ("camera_frame_rate", -30.0, ["camera_frame_rate"]),
    ],
)
def test_invalid_values_are_named_with_what_is_allowed(name, value, words):
    with pytest.raises(ValueError) as caught:
        NodeSettings.from_values({**DEFAULTS, name: value})
    for word in words:
        assert word in str(caught.value)


def test_with_cameras_the_camera_info_topic_must_be_relative():
    with pytest.raises(ValueError, match="camera_info_topic must be relative"):
        NodeSettings.from_values({**DEFAULTS, "cameras": "front,down", "camera_info_topic": "/front/camera_info"})
    settings = NodeSettings.from_values({**DEFAULTS, "cameras": "front,down", "camera_info_topic": "info"})
    assert settings.track_params.min_iou == DEFAULTS["roi_track_iou"]


def test_several_problems_are_reported_together():
    with pytest.raises(ValueError) as caught:
        NodeSettings.from_values({**DEFAULTS, "max_rois": 99, "saliency_encoding": "bgr8"})
    assert "max_rois" in str(caught.value) and "saliency_encoding" in str(caught.value)


def test_the_params_file_documents_every_parameter_with_its_default():
    document = yaml.safe_load(CONFIG.read_text())
    assert list(document) == ["/**"], "the params file must apply to any node name and namespace"
    values = document["/**"]["ros__parameters"]
    assert values == DEFAULTS
    for spec in PARAMETERS:  # int vs float matters to ROS 2 parameters
        assert type(values[spec.name]) is type(spec.default), spec.name
    lines = CONFIG.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip().split(":")[0] in PARAMETER_SPECS:
            assert lines[index - 1].strip().startswith("#"), f"{line.strip()} has no comment above it"


def test_the_node_guide_lists_every_parameter():
    guide = NODE_DOC.read_text()
    for spec in PARAMETERS:
        assert f"| `{spec.name}` |" in guide, f"docs/NODE.md has no row for {spec.name}"


def test_mailbox_hands_over_the_newest_message_and_its_predecessor():
    mailbox = NewestPairMailbox()
    assert mailbox.put("a") is False
    assert mailbox.take() == {0: ("a", None, None)}
    assert mailbox.put("b") is False
    assert mailbox.put("c") is True  # "b" was never taken: skipped
    assert mailbox.put("d") is True
    assert mailbox.take() == {0: ("d", "c", None)}  # the predecessor in receive order, not the last one taken
    assert mailbox.take(timeout=0.01) is None
    mailbox.put("e")
    mailbox.close()
    assert mailbox.take() is None
    mailbox.reopen()
    mailbox.put("f")
    assert mailbox.take() == {0: ("f", None, None)}  # closing forgot what came before


def test_mailbox_hands_over_every_camera_with_a_new_frame_at_once():
    mailbox = NewestPairMailbox(cameras=3)
    assert mailbox.put("front-1", 0) is False and mailbox.put("down-1", 2) is False
    assert mailbox.put("front-2", 0) is True  # skipped front-1, and only that
    assert mailbox.take() == {0: ("front-2", "front-1", None), 2: ("down-1", None, None)}
    mailbox.put("side-1", 1)
    assert mailbox.take() == {1: ("side-1", None, None)}  # cameras without a new frame are not in the batch
    mailbox.put("down-2", 2)
    assert mailbox.take() == {2: ("down-2", "down-1", None)}  # predecessors are kept per camera
    with pytest.raises(ValueError, match="at least one camera"):
        NewestPairMailbox(cameras=0)


def test_mailbox_put_waits_until_an_idle_worker_holds_the_message():
    """With a hand-over time, put() returns only once the worker waiting in take() has the message (so the next
    message replaces nothing); without a worker waiting it does not wait; close() releases a waiting put()."""
    mailbox, taken = NewestPairMailbox(), []
    for round_ in range(20):
        worker = threading.Thread(target=lambda: taken.append(mailbox.take()))
        worker.start()
        while not mailbox._worker_idle:  # the worker is in take()
            threading.Event().wait(0.001)
        assert mailbox.put(f"frame-{round_}", 0, hand_over_s=60.0) is False
        assert mailbox.put(f"next-{round_}") is False  # frame-<round> was taken, not skipped
        worker.join()
        assert mailbox.take() == {0: (f"next-{round_}", f"frame-{round_}", None)}
    assert [pairs[0][0] for pairs in taken] == [f"frame-{i}" for i in range(20)]
    assert mailbox.put("nobody waits", 0, hand_over_s=60.0) is False  # returns at once: no idle worker
    mailbox.close()
    assert mailbox.put("closed", 0, hand_over_s=60.0) is False


def test_stage_times_record_each_frame_and_forget_skipped_ones(tmp_path):
    ticks = iter(range(0, 10**9, 10_000_000))  # every clock read 10 ms after the last
    times = StageTimes(tmp_path / "stages.json", clock=lambda: next(ticks), wall_clock=lambda: 5_000_000_000)
    times.start((0, 100))
    times.start((0, 200))  # replaces 100 in the mailbox: 100 is never finished
    times.mark((0, 200), "hand-off to the worker")
    times.mark_run((0, 200), {"preprocess": 0.003, "align": 0.001, "inference": 0.002, "postprocess": 0.001})
    times.mark((0, 200), "publish saliency")
    times.finish((0, 200))
    times.mark((1, 300), "hand-off to the worker")  # a frame that was never started is ignored
    times.write()
    (frame,) = json.loads((tmp_path / "stages.json").read_text())["frames"]
    assert (frame["camera"], frame["stamp_ns"], frame["callback_wall_ns"]) == (0, 200, 5_000_000_000)
    assert stage_durations(frame) == [
        ("hand-off to the worker", 10.0),
        ("decode", 3.0),  # the run's 10 ms less its timings
        ("preprocess", 3.0),
        ("align", 1.0),
        ("inference", 2.0),
        ("postprocess", 1.0),
        ("publish saliency", 10.0),
    ]
    assert stage_times_from_environment({}) is NO_STAGE_TIMES
    assert stage_times_from_environment({"SKD_NODE_STAGE_TIMES": str(tmp_path / "x.json")}).path.name == "x.json"
    NO_STAGE_TIMES.start((0, 1))
    NO_STAGE_TIMES.finish((0, 1))
    NO_STAGE_TIMES.write()  # writes nothing anywhere


def test_outputs_nobody_reads_are_not_built(bright_estimator):
    """Only the wanted outputs are built (and become messages); without a reader of the ROI records the tracker
    forgets its regions, so a reader who comes later gets new ids."""
    frame = np.zeros((30, 40, 3), np.uint8)
    frame[5:12, 26:34] = 255
    result = SaliencyPipeline(bright_estimator).step(frame, 1, "cam")
    everything = frame_outputs(result, "mono8", False)
    assert everything.saliency is not None and everything.rois is not None and everything.peak is not None
    tracker = RoiTracker()
    first = frame_outputs(result, "mono8", False, tracker=tracker, wanted={"rois"})
    assert first.saliency is None and first.peak is None and len(first.rois) == len(result.rois) > 0
    ids = set(first.rois["id"])
    only_map = frame_outputs(result, "mono8", False, tracker=tracker, wanted={"saliency"})
    assert only_map.rois is None and only_map.peak is None
    np.testing.assert_array_equal(only_map.saliency, everything.saliency)
    again = frame_outputs(result, "mono8", False, tracker=tracker, wanted={"rois", "attention"})
    assert not ids & set(again.rois["id"])  # the tracker was reset while nobody read the ROIs
    assert again.saliency is None and again.peak is not None
    pipeline = SaliencyPipeline(bright_estimator)
    pipeline.find_rois = False
    assert pipeline.step(frame, 1, "cam").rois == []


def test_roi_records_hold_every_field_as_given():
    rois = [ROI(1, 2, 3, 4, 0.5), ROI(10, 20, 30, 40, 0.25)]
    peaks = [Peak(1.5, 2.5, 0.9), Peak(11.0, 21.0, 0.4)]
    rays = np.array([[0.0, 0.6, 0.8], [1.0, 0.0, 0.0]])
    records = rois_to_records(rois, peaks, [(7, 3), (8, 1)], rays, rays[::-1])
    expected = np.zeros(2, ROI_DTYPE)
    for record, roi, peak, identity, ray, centre in zip(
        expected, rois, peaks, [(7, 3), (8, 1)], rays, rays[::-1], strict=True
    ):
        record["x_offset"], record["y_offset"], record["width"], record["height"] = roi.x, roi.y, roi.width, roi.height
        record["score"], record["peak_x"], record["peak_y"] = roi.score, peak.x, peak.y
        record["id"], record["age"] = identity
        record["ray_x"], record["ray_y"], record["ray_z"] = ray
        record["centre_ray_x"], record["centre_ray_y"], record["centre_ray_z"] = centre
    assert records.tobytes() == expected.tobytes()
    untracked = rois_to_records(rois, peaks)
    assert (untracked["id"] == 0).all() and np.isnan(untracked["ray_x"]).all()
    assert np.isnan(untracked["centre_ray_z"]).all()
    assert rois_to_records([], []).dtype == ROI_DTYPE


def frame_msg(pixels: np.ndarray, stamp_ns: int, frame_id: str = "cam", encoding: str = "bgr8"):
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    return SimpleNamespace(
        header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=nanosec), frame_id=frame_id),
        height=pixels.shape[0],
        width=pixels.shape[1],
        encoding=encoding,
        is_bigendian=0,
        step=pixels.strides[0],
        data=pixels.tobytes(),
    )


@pytest.fixture(scope="module")
def estimator():
    return SaliencyEstimator(resolution=16, device="cpu", backend="eager")


@pytest.fixture
def bright_estimator(brightness_weights):
    """Salient exactly where the frame is bright, whatever the shipped weights learn: for tests that need ROIs."""
    return SaliencyEstimator(brightness_weights, resolution=16, device="cpu", backend="eager")


@pytest.fixture
def live(estimator):
    """A LiveSaliency that records which (previous, current) frames each inference saw."""
    seen = []
    infer = estimator.infer

    def recording_infer(previous, current, pool=None):
        seen.append((previous, current))
        return infer(previous, current, pool)

    pipeline = SaliencyPipeline(estimator)
    pipeline.estimator = SimpleNamespace(
        prepare=estimator.prepare,
        resize_helper=estimator.resize_helper,
        temporal_input=estimator.temporal_input,
        infer=recording_infer,
    )
    stream = LiveSaliency(pipeline)
    stream.seen = seen
    return stream


FRAMES = [np.full((24, 32, 3), level, np.uint8) for level in (10, 60, 110, 160, 210, 250)]


def assert_pair(live, estimator, previous_index, current_index):
    (previous,), (current,) = live.seen[-1]  # a batch of one
    np.testing.assert_array_equal(previous, estimator.prepare(FRAMES[previous_index]))
    np.testing.assert_array_equal(current, estimator.prepare(FRAMES[current_index]))


def test_pairs_follow_receive_order_even_when_frames_are_skipped(live, estimator):
    msgs = [frame_msg(frame, 1_000_000_000 + i * 100_000_000) for i, frame in enumerate(FRAMES)]
    result, _ = live.run(msgs[0], None)
    assert not result.paired_with_previous
    assert_pair(live, estimator, 0, 0)
    result, _ = live.run(msgs[1], msgs[0])
    assert result.paired_with_previous
    assert_pair(live, estimator, 0, 1)
    # msgs[2] and msgs[3] arrived while the worker was busy; the newest is paired with the one just before it
    result, _ = live.run(msgs[4], msgs[3])
    assert result.paired_with_previous
    assert_pair(live, estimator, 3, 4)


def test_pairs_by_interval_skip_as_they_like_and_pair_as_a_run_over_every_frame(live, estimator):
    """A checkpoint that pairs frames 0.2 s apart, frames 0.1 s apart: the mailbox names the received frame closest
    to 0.2 s before the newest, decoded only when the worker skipped it, so the pairs are those of a run over every
    frame (frame i with frame i - 2); a skipped predecessor is decoded as for consecutive pairs (pairing restarts
    and refusals are those of a run over every frame too)."""
    interval = 200_000_000
    live.pipeline.buffer = FramePairBuffer(interval)
    mailbox = NewestPairMailbox(interval_ns=interval)
    msgs = [frame_msg(frame, 1_000_000_000 + i * 100_000_000) for i, frame in enumerate(FRAMES)]
    decoded = []
    decode = live.decode
    live.decode = lambda message: decoded.append(msgs.index(message)) or decode(message)

    def deliver(*indices):
        for index in indices:
            mailbox.put(msgs[index])
        ((newest, before, partner),) = mailbox.take(timeout=0).values()
        live.run(newest, before, partner)

    deliver(0)
    assert_pair(live, estimator, 0, 0)
    deliver(1)
    assert_pair(live, estimator, 0, 1)  # 0.1 s in: the oldest there is
    deliver(2, 3, 4)  # 2 and 3 skipped: 3 (received just before 4) and 2 (its partner) are restored
    assert_pair(live, estimator, 2, 4)
    deliver(5)  # frame 3, restored before, is its partner now: nothing decoded twice
    assert_pair(live, estimator, 3, 5)
    assert decoded == [0, 1, 4, 3, 2, 5]
    # the mailbox keeps only what a later frame can pair with: 0.2 s before 1.6 s is frame 4
    mailbox.put(frame_msg(FRAMES[0], 1_600_000_000))
    ((_, _, partner),) = mailbox.take(timeout=0).values()
    assert partner is msgs[4]


def test_time_jump_and_frame_id_change_restart_pairing(live, estimator):
    first = frame_msg(FRAMES[0], 5_000_000_000)
    live.run(first, None)
    looped = frame_msg(FRAMES[1], 1_000_000_000)  # a bag started over
    result, _ = live.run(looped, first)
    assert not result.paired_with_previous
    assert_pair(live, estimator, 1, 1)
    other_camera = frame_msg(FRAMES[2], 1_100_000_000, frame_id="other")
    result, _ = live.run(other_camera, looped)
    assert not result.paired_with_previous
    assert_pair(live, estimator, 2, 2)
    assert live.pipeline.buffer.resets == 2
    # a skipped predecessor from another camera restarts pairing too
    result, _ = live.run(frame_msg(FRAMES[4], 1_300_000_000), frame_msg(FRAMES[3], 1_200_000_000, "other"))
    assert not result.paired_with_previous
    assert_pair(live, estimator, 4, 4)


def test_an_unreadable_frame_is_reported_and_restarts_pairing(live, estimator):
    good = frame_msg(FRAMES[0], 1_000_000_000)
    live.run(good, None)
    broken = frame_msg(FRAMES[1], 1_100_000_000)
    broken.step = 3  # shorter than a row
    with pytest.raises(ImageDecodeError) as caught:
        live.run(broken, good)
    assert caught.value.kind == image_codec.BAD_STEP
    result, _ = live.run(frame_msg(FRAMES[2], 1_200_000_000), broken)
    assert not result.paired_with_previous
    assert_pair(live, estimator, 2, 2)
    # a skipped predecessor that cannot be read: the newest frame starts a new sequence
    truncated = frame_msg(FRAMES[3], 1_300_000_000)
    truncated.data = truncated.data[:-1]
    result, _ = live.run(frame_msg(FRAMES[4], 1_400_000_000), truncated)
    assert not result.paired_with_previous
    assert_pair(live, estimator, 4, 4)


def test_camera_pool_has_the_threads_asked_for_and_none_for_one_camera():
    assert camera_pool(0, cameras=1) is None and camera_pool(4, cameras=1) is None and camera_pool(1, cameras=4) is None
    pool = camera_pool(3, cameras=4)
    together = threading.Barrier(3, timeout=5.0)  # passes only when three calls run at once
    assert list(pool.map(lambda _: together.wait() >= 0, range(3))) == [True] * 3
    pool.shutdown()


@pytest.mark.parametrize("threads", [1, 2])
def test_cameras_run_in_one_batch_and_a_bad_frame_stays_with_its_camera(estimator, threads):
    """run_cameras: every camera's readable frame in one forward pass, each result the same as that camera
    run alone, with or without a pool of threads; an unreadable frame comes back as its error in its camera's
    place."""
    batches = []
    pool = camera_pool(threads, cameras=3)
    assert (pool is None) == (threads == 1)

    def streams():
        pipelines = [SaliencyPipeline(estimator) for _ in range(3)]
        return [LiveSaliency(pipeline) for pipeline in pipelines]

    batched = streams()
    recording = SimpleNamespace(
        prepare=estimator.prepare,
        resize_helper=estimator.resize_helper,
        temporal_input=estimator.temporal_input,
        infer=lambda p, c, pool: batches.append(len(c)) or estimator.infer(p, c, pool),
    )
    for stream in batched:
        stream.pipeline.estimator = recording
    first = [frame_msg(FRAMES[i], 1_000_000_000, f"cam{i}") for i in range(3)]
    second = [frame_msg(FRAMES[i + 3], 1_100_000_000, f"cam{i}") for i in range(3)]
    second[1].step = 3  # shorter than a row
    run_cameras(batched, [(msg, None) for msg in first], pool)
    outcomes = run_cameras(batched, [(msg, before) for msg, before in zip(second, first, strict=True)], pool)
    assert batches == [3, 2]  # the unreadable frame left the second batch, the others still ran together
    assert isinstance(outcomes[1], ImageDecodeError) and outcomes[1].kind == image_codec.BAD_STEP
    alone = streams()
    for index in (0, 2):
        alone[index].run(first[index], None)
        result, _ = alone[index].run(second[index], first[index])
        assert outcomes[index][0].paired_with_previous
        np.testing.assert_allclose(outcomes[index][0].saliency, result.saliency, atol=1e-6)
        boxes = [(r.x, r.y, r.width, r.height) for r in outcomes[index][0].rois]  # scores: float sums, batch order
        assert boxes == [(r.x, r.y, r.width, r.height) for r in result.rois]
    if pool is not None:
        pool.shutdown()


def test_rgb_frames_are_fed_to_the_model_in_the_right_order(live, estimator):
    bgr = np.zeros((24, 32, 3), np.uint8)
    bgr[:, :, 2] = 200  # red
    live.run(frame_msg(bgr[:, :, ::-1].copy(), 1, encoding="rgb8"), None)
    np.testing.assert_allclose(live.seen[-1][1][0], estimator.prepare(bgr, "bgr8"))


def test_published_arrays_match_the_result(estimator):
    frame = np.zeros((30, 40, 3), np.uint8)
    frame[5:12, 20:30] = 255
    result = SaliencyPipeline(estimator).step(frame, 1, "cam")
    mono = frame_outputs(result, "mono8", full_size=False).saliency
    assert mono.dtype == np.uint8 and mono.shape == (16, 16)
    full = frame_outputs(result, "32FC1", full_size=True).saliency
    assert full.dtype == np.float32 and full.shape == (30, 40)
    outputs = frame_outputs(result, "32FC1", full_size=False)
    exact = outputs.saliency
    np.testing.assert_array_equal(exact, result.saliency)
    records = outputs.rois
    assert outputs.overlay is None  # drawn only when asked for
    assert len(records) == len(result.rois)
    for record, roi in zip(records, result.rois, strict=True):
        assert (record["x_offset"], record["y_offset"], record["width"], record["height"]) == (
            roi.x,
            roi.y,
            roi.width,
            roi.height,
        )
        assert roi.x <= record["peak_x"] <= roi.x + roi.width and roi.y <= record["peak_y"] <= roi.y + roi.height
    assert result.rois == extract_rois(result.saliency, 40, 30)


def test_overlay_is_the_same_picture_for_rgb_and_bgr_input(estimator):
    bgr = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    result = SaliencyPipeline(estimator).step(bgr, 1, "cam")
    from_bgr = frame_outputs(result, "mono8", False, DecodedImage(bgr, "bgr8")).overlay
    from_rgb = frame_outputs(result, "mono8", False, DecodedImage(bgr[:, :, ::-1], "rgb8")).overlay
    assert from_bgr.shape == (30, 40, 3)
    np.testing.assert_array_equal(from_bgr, from_rgb)


def test_warning_throttle_is_per_kind_and_counts_what_it_held_back():
    now = [100.0]
    throttle = WarningThrottle(period_s=5.0, clock=lambda: now[0])
    assert throttle.allow("truncated") == 0
    assert throttle.allow("truncated") is None
    assert throttle.allow("truncated") is None
    assert throttle.allow("encoding") == 0  # a different problem is reported at once
    now[0] += 5.0
    assert throttle.allow("truncated") == 2


def test_stream_stats_rates_latencies_and_totals():
    now = [0.0]
    stats = StreamStats(clock=lambda: now[0])
    for skipped in (False, False, True, True):
        stats.count_received(skipped)
    stats.count_processed(latency_s=0.004, inference_s=0.002)
    stats.count_processed(latency_s=0.006, inference_s=0.003)
    stats.count_rejected(image_codec.SIZE_MISMATCH)
    stats.count_failed()
    now[0] = 2.0
    report = stats.report()
    assert report.input_hz == pytest.approx(2.0) and report.output_hz == pytest.approx(1.0)
    assert report.inference_ms_mean == pytest.approx(2.5) and report.inference_ms_max == pytest.approx(3.0)
    assert report.latency_ms_mean == pytest.approx(5.0) and report.latency_ms_max == pytest.approx(6.0)
    assert (report.received, report.processed, report.skipped, report.failed) == (4, 2, 2, 1)
    assert report.rejected == {image_codec.SIZE_MISMATCH: 1} and report.rejected_in_period == 1
    now[0] = 3.0
    quiet = stats.report()  # a new period: rates restart, totals stay
    assert quiet.input_hz == 0.0 and np.isnan(quiet.inference_ms_mean) and quiet.rejected_in_period == 0
    assert quiet.received == 4 and quiet.rejected == {image_codec.SIZE_MISMATCH: 1}


# --- ROI ids, rays and markers in the outputs ---------------------------------------------------------------------

PINHOLE = SimpleNamespace(
    distortion_model="plumb_bob",
    d=[0.0] * 5,
    k=[40.0, 0, 19.5, 0, 40.0, 14.5, 0, 0, 1],  # a 40 x 30 image, principal point at its centre
    width=40,
    height=30,
    binning_x=0,
    binning_y=0,
    roi=SimpleNamespace(x_offset=0, y_offset=0, width=0, height=0),
)


def test_outputs_carry_ids_ages_rays_bearings_and_markers(bright_estimator):
    frame = np.zeros((30, 40, 3), np.uint8)
    frame[5:12, 26:34] = 255  # one bright patch, up and right of the centre
    pipeline, tracker = SaliencyPipeline(bright_estimator), RoiTracker()
    camera = camera_model_from_info(PINHOLE)
    first = pipeline.step(frame, 1_000_000_000, "cam")
    assert first.rois, "the test needs ROIs"
    plain = frame_outputs(first, "mono8", False)  # the bag writer's call: not tracked, no rays
    assert (plain.rois["id"] == 0).all() and np.isnan(plain.rois["ray_x"]).all()
    assert plain.bearings is None and plain.markers is None
    outputs = frame_outputs(first, "mono8", False, tracker=tracker, camera=camera, marker_length=2.0)
    records = outputs.rois
    assert list(records["age"]) == [1] * len(records) and len(set(records["id"])) == len(records)
    peak_rays = camera.rays(np.stack([records["peak_x"], records["peak_y"]], axis=1))
    np.testing.assert_allclose(np.stack([records[f"ray_{a}"] for a in "xyz"], axis=1), peak_rays, atol=1e-6)
    centres = np.stack([records["x_offset"] + records["width"] / 2, records["y_offset"] + records["height"] / 2], 1)
    np.testing.assert_allclose(records["centre_ray_x"], camera.rays(centres)[:, 0], atol=1e-6)
    assert records["ray_x"][0] > 0 and records["ray_y"][0] < 0  # right of and above the axis (optical frame)
    assert len(outputs.bearings) == len(records) and len(outputs.markers) == len(records)
    marker = outputs.markers[0]
    np.testing.assert_allclose(marker.tip, 2.0 * peak_rays[0], atol=1e-6)
    assert marker.label == f"#{records['id'][0]} {records['score'][0]:.2f}"
    second = frame_outputs(pipeline.step(frame, 1_033_000_000, "cam"), "mono8", False, tracker=tracker, camera=camera)
    assert list(second.rois["id"]) == list(records["id"]) and list(second.rois["age"]) == [2] * len(records)
    restarted = pipeline.step(frame, 5_000_000_000, "other_cam")  # pairing restarts: the ids do too
    assert not set(frame_outputs(restarted, "mono8", False, tracker=tracker).rois["id"]) & set(records["id"])


def test_markers_without_a_camera_model_are_empty_so_the_old_ones_are_still_cleared(bright_estimator):
    frame = np.zeros((30, 40, 3), np.uint8)
    frame[5:12, 26:34] = 255
    result = SaliencyPipeline(bright_estimator).step(frame, 1, "cam")
    outputs = frame_outputs(result, "mono8", False, tracker=RoiTracker(), marker_length=1.0)
    assert outputs.markers == [] and outputs.bearings is None and len(outputs.rois) > 0


# --- frames lost before the node --------------------------------------------------------------------------------

STAMPS_30HZ = [round(index * 1e9 / 30) for index in range(300)]
STAMPS_LONG = [round(index * 1e9 / 30) for index in range(1000)]


def count_lost(counter: FrameGapCounter, indices, frame_id: str = "cam") -> int:
    return sum(counter.add(STAMPS_30HZ[index], frame_id) for index in indices)


def test_a_publisher_that_sends_every_third_frame_loses_two_thirds():
    """Frames 0..9 of a 30 Hz stamp sequence arrive, then only every third: 2 frames of 3 lost from then on."""
    counter = FrameGapCounter()
    assert count_lost(counter, range(10)) == 0
    assert counter.period_ns == pytest.approx(1e9 / 30, rel=1e-3)  # learned from the frames one period apart
    sent = range(12, 90, 3)
    lost = count_lost(counter, sent)
    assert lost == 2 * len(sent) and lost / (lost + len(sent)) == pytest.approx(2 / 3)


def test_a_given_frame_rate_counts_loss_from_the_first_frame():
    counter = FrameGapCounter(period_ns=round(1e9 / 30))
    sent = range(0, 90, 3)
    lost = count_lost(counter, sent)
    assert lost == 2 * (len(sent) - 1)
    # learning instead: a steady 10 Hz is taken as the camera's own rate, nothing can tell it from 2 in 3 lost
    assert count_lost(FrameGapCounter(), sent) == 0


def test_heavy_random_loss_is_counted_from_the_frames_that_arrive_back_to_back():
    """85 % of a jittery 30 Hz stream lost at random (large frames without shared memory): the period is learned
    from the few frames that still arrive one period apart, and from then on the loss is counted frame for frame."""
    rng = random.Random(3)
    jitter = [stamp + rng.randint(-1_500_000, 1_500_000) for stamp in STAMPS_LONG]
    arrived = [index for index in range(len(jitter)) if index == 0 or rng.random() < 0.15]
    counter = FrameGapCounter()
    warm_up = 40  # frames that arrived, enough to have seen several back to back
    for index in arrived[:warm_up]:
        counter.add(jitter[index], "cam")
    assert counter.period_ns == pytest.approx(1e9 / 30, rel=0.02)
    counted = sum(counter.add(jitter[index], "cam") for index in arrived[warm_up:])
    true_loss = arrived[-1] - arrived[warm_up - 1] - len(arrived[warm_up:])
    assert true_loss > 500 and counted == true_loss


def test_jitter_is_no_loss_and_restarts_are_not_gaps():
    rng = random.Random(5)
    counter = FrameGapCounter()
    stamps = [stamp + rng.randint(-4_000_000, 4_000_000) for stamp in STAMPS_30HZ[:100]]
    assert sum(counter.add(stamp, "cam") for stamp in stamps) == 0
    assert counter.add(stamps[0], "cam") == 0  # time went back (a looping bag): a restart, not a gap
    assert counter.add(stamps[0] + 3_000_000_000, "cam") == 0  # an interruption of 3 s: the stream stopped
    assert counter.add(stamps[0] + 3_200_000_000, "other") == 0  # another camera: learn anew
    assert counter.period_ns is None
    counter.restart()  # e.g. deactivated: the pause is not loss
    assert counter.add(stamps[0] + 3_900_000_000, "other") == 0


def test_stream_stats_count_frames_lost_separately_from_skipped_ones():
    now = [0.0]
    stats = StreamStats(clock=lambda: now[0])
    stats.count_received(skipped=False)
    stats.count_received(skipped=True, lost=2)
    stats.count_received(skipped=False, lost=2)
    now[0] = 1.0
    report = stats.report()
    assert (report.received, report.skipped, report.lost, report.lost_in_period) == (3, 1, 4, 4)
    assert report.lost_percent == pytest.approx(100 * 4 / 7)
    assert stats.report().lost_percent == 0.0 and stats.report().lost == 4


# --- what the node says about a misconfiguration ------------------------------------------------------------------


def test_an_unknown_parameter_is_named_with_the_closest_declared_ones():
    declared = [spec.name for spec in PARAMETERS] + ["use_sim_time"]
    message = unknown_parameter_message("reliability", declared)
    assert "'reliability'" in message and "ignored" in message and "qos_reliability?" in message
    assert "max_rois?" in unknown_parameter_message("max_roi", declared)
    assert "camera_info_topic?" in unknown_parameter_message("topic", declared)  # a name without its prefix
    assert "no declared name is close" in unknown_parameter_message("zzz", declared)


def test_incompatible_qos_names_both_sides_and_the_fix():
    message = incompatible_qos_message(
        "/cam/image_raw",
        "RELIABILITY",
        {"reliability": "reliable (qos_reliability: reliable)", "durability": "volatile"},
        ["/camera_driver: reliability best_effort, durability volatile"],
    )
    for words in (
        "/cam/image_raw",
        "RELIABILITY",
        "reliable",
        "/camera_driver: reliability best_effort",
        "qos_reliability: best_effort",
    ):
        assert words in message
    assert "qos_reliability" not in incompatible_qos_message("/t", "DURABILITY", {"durability": "volatile"}, [])


def test_the_frame_loss_warning_names_the_transport_remedy():
    message = frames_lost_message(2, 1e9 / 30, 40)
    assert message.startswith("2 frames lost before the node") and "33.3 ms" in message and "40 lost" in message
    assert TRANSPORT_REMEDY in message
    assert "config/fastdds_shm.xml" in TRANSPORT_REMEDY and "Inference backends and transport" in TRANSPORT_REMEDY
    readme = (REPO / "README.md").read_text()
    assert "## Inference backends and transport" in readme and (REPO / "config" / "fastdds_shm.xml").is_file()


# --- RViz --------------------------------------------------------------------------------------------------------


def test_the_rviz_configuration_follows_the_node_and_the_fixed_frame():
    template = (REPO / "config" / "skd_ros.rviz").read_text()
    document = yaml.safe_load(template)
    displays = {d["Name"]: d for d in document["Visualization Manager"]["Displays"]}
    assert displays["Saliency overlay"]["Topic"]["Value"] == "/saliency_node/overlay"
    assert displays["Attention rays"]["Topic"]["Value"] == "/saliency_node/markers"
    assert displays["TF"]["Class"] == "rviz_default_plugins/TF"
    assert outputs_prefix("") == "/saliency_node/" and outputs_prefix("/cam0") == "/cam0/saliency_node/"
    assert outputs_prefix("drone/cam0", "front") == "/drone/cam0/saliency_node/front/"
    rewritten = yaml.safe_load(rviz_config_for(template, outputs_prefix("cam0", "front"), "camera_link"))
    displays = {d["Name"]: d for d in rewritten["Visualization Manager"]["Displays"]}
    assert displays["Saliency overlay"]["Topic"]["Value"] == "/cam0/saliency_node/front/overlay"
    assert displays["Attention rays"]["Topic"]["Value"] == "/cam0/saliency_node/front/markers"
    assert rewritten["Visualization Manager"]["Global Options"]["Fixed Frame"] == "camera_link"
    with pytest.raises(ValueError, match="no '/saliency_node/'"):
        rviz_config_for("Fixed Frame: base_link", "/x/", "map")
