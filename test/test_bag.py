"""Bags in and out (skd_training.data.rosbag, skd_tools.bags) and skd_ros.core.roi_record: reading image topics,
writing the node's outputs, clear errors."""

import dataclasses

import numpy as np
import pytest

from skd_ros.core.postprocess import ROI, Peak, ROIParams, extract_rois, find_peak, to_uint8
from skd_ros.core.roi_record import (
    ROI_DTYPE,
    ROI_POINT_FIELDS,
    ROI_POINT_STEP,
    records_from_bytes,
    records_to_rois,
    roi_peaks,
    rois_to_records,
)
from skd_ros.runtime import SaliencyResult
from skd_tools.bags import (
    OutputTopics,
    SaliencyBagWriter,
    records_from_cloud,
    render_test_frames,
    saliency_from_msg,
    write_test_bag,
)
from skd_training.data import rosbag
from skd_training.data.rosbag import (
    TYPESTORE,
    BagError,
    BagReader,
    as_map,
    decode_image,
    ns_to_stamp,
    read_frames,
    stamp_to_ns,
)

FRAMES, WIDTH, HEIGHT = 8, 96, 72


def same_rois(found, expected):
    """Boxes equal; scores equal to float32 precision (the record stores float32)."""
    return [(r.x, r.y, r.width, r.height) for r in found] == [(r.x, r.y, r.width, r.height) for r in expected] and all(
        a.score == pytest.approx(b.score, rel=1e-6) for a, b in zip(found, expected, strict=True)
    )


def raw_image(pixels, encoding, step=None, **kwargs):
    """A rosbags sensor_msgs/Image of ``pixels`` (rows padded to ``step`` bytes when given)."""
    rows = np.ascontiguousarray(pixels).view(np.uint8).reshape(pixels.shape[0], -1)
    step = step or rows.shape[1]
    padded = np.zeros((rows.shape[0], step), np.uint8)
    kept = min(step, rows.shape[1])
    padded[:, :kept] = rows[:, :kept]
    header = TYPESTORE.types["std_msgs/msg/Header"](stamp=ns_to_stamp(0), frame_id="cam")
    fields = dict(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, is_bigendian=0, step=step)
    fields.update(kwargs)
    return TYPESTORE.types["sensor_msgs/msg/Image"](header=header, data=padded.ravel(), **fields)


@pytest.mark.parametrize("storage,compressed", [("sqlite3", False), ("mcap", False), ("mcap", True)])
def test_test_bag_reads_back_exactly(tmp_path, storage, compressed):
    made = write_test_bag(tmp_path / "bag", frames=FRAMES, width=WIDTH, height=HEIGHT, storage=storage,
                          compressed=compressed)  # fmt: skip
    expected, _ = render_test_frames(FRAMES, WIDTH, HEIGHT)
    with BagReader(made.path) as bag:
        assert bag.count(made.image_topic) == FRAMES
        frames = list(bag.frames(made.image_topic))
    assert [f.index for f in frames] == list(range(FRAMES))
    assert [f.stamp_ns for f in frames] == made.stamps_ns
    assert all(f.log_time_ns > f.stamp_ns for f in frames)  # recorded after capture, as in a real bag
    assert {f.frame_id for f in frames} == {"camera"}
    for frame, image in zip(frames, expected, strict=True):
        assert frame.image.dtype == np.uint8 and frame.image.shape == (HEIGHT, WIDTH, 3)
        np.testing.assert_array_equal(frame.image, image)  # raw and PNG are lossless


def test_ground_truth_maps_follow_the_target(tmp_path):
    made = write_test_bag(tmp_path / "bag", frames=FRAMES, width=WIDTH, height=HEIGHT)
    densities = [as_map(f.image) for f in read_frames(made.path, made.density_topic, color=None)]
    fixations = [f.image for f in read_frames(made.path, made.fixation_topic, color="mono8")]
    assert len(densities) == len(fixations) == FRAMES
    for density, fixation, (cx, cy) in zip(densities, fixations, made.centres, strict=True):
        assert density.dtype == np.float32 and density.max() == pytest.approx(1.0)
        peak_y, peak_x = np.unravel_index(np.argmax(density), density.shape)
        assert abs(peak_x - cx) <= 1 and abs(peak_y - cy) <= 1
        ys, xs = np.nonzero(fixation)
        assert len(xs) > 0 and abs(xs.mean() - cx) < WIDTH / 6 and abs(ys.mean() - cy) < HEIGHT / 6


def test_interleaved_topics_keep_record_order(tmp_path):
    made = write_test_bag(tmp_path / "bag", frames=4, width=32, height=24)
    with BagReader(made.path) as bag:
        pairs = list(bag.image_messages({made.image_topic: "bgr8", made.density_topic: None}))
    assert len(pairs) == 8
    assert [topic for topic, _ in pairs[:2]] == [made.image_topic, made.density_topic]
    assert [f.stamp_ns for topic, f in pairs if topic == made.density_topic] == made.stamps_ns


def test_padded_rows_and_other_encodings_decode():
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(raw_image(bgr, "bgr8", step=7 * 3 + 11)), bgr)
    np.testing.assert_array_equal(decode_image(raw_image(bgr[:, :, ::-1], "rgb8")), bgr)
    grey = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    as_bgr = decode_image(raw_image(grey, "mono8", step=9))
    assert as_bgr.shape == (5, 7, 3) and all(np.array_equal(as_bgr[:, :, c], grey) for c in range(3))
    deep = (grey.astype(np.uint16) * 257).astype("<u2")
    np.testing.assert_array_equal(decode_image(raw_image(deep, "mono16"), color="mono8"), grey)


def test_broken_image_messages_name_the_problem():
    with pytest.raises(ValueError, match="step"):
        decode_image(raw_image(np.zeros((4, 4, 3), np.uint8), "bgr8", step=5))
    short = raw_image(np.zeros((4, 4, 3), np.uint8), "bgr8")
    with pytest.raises(ValueError, match="bytes"):
        decode_image(dataclasses.replace(short, data=short.data[:20]))
    with pytest.raises(ValueError, match="not supported"):
        decode_image(raw_image(np.zeros((4, 4, 3), np.uint8), "weird", step=12))


def test_missing_or_wrong_topic_lists_the_bags_topics(tmp_path):
    made = write_test_bag(tmp_path / "bag", frames=2, width=16, height=12)
    with BagReader(made.path) as bag:
        with pytest.raises(BagError, match="no topic '/nope'") as missing:
            list(bag.frames("/nope"))
        assert made.image_topic in str(missing.value) and made.density_topic in str(missing.value)
        assert "sensor_msgs/msg/Image" in str(missing.value)
    other = tmp_path / "points"
    with SaliencyBagWriter(other, OutputTopics.for_node("n")):
        pass
    with BagReader(other) as bag, pytest.raises(BagError, match="PointCloud2, expected"):
        bag.check_topic("/n/rois")


def test_truncated_sqlite3_bag_fails_listing_topics_from_metadata(tmp_path):
    made = write_test_bag(tmp_path / "bag", frames=6, width=64, height=48, storage="sqlite3")
    (data_file,) = made.path.glob("*.db3")
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    with pytest.raises(BagError, match="truncated or damaged") as failure:
        BagReader(made.path)
    assert failure.value.topics is not None and made.image_topic in failure.value.topics
    assert made.image_topic in str(failure.value)


def test_truncated_mcap_bag_gives_every_message_before_the_cut(tmp_path, monkeypatch, capsys):
    """A recorder killed part-way leaves an mcap without its summary: the frames recorded before the cut are
    read, identical to the whole bag's, and the stream then ends with an error that says where it was cut."""
    monkeypatch.setattr(rosbag, "SCAN_PROGRESS_BYTES", 0)  # the progress bar of a large bag's first reading
    # 320 x 240 frames: the writer closes a chunk every MiB, so the cut falls after a few whole chunks
    made = write_test_bag(tmp_path / "bag", frames=12, width=320, height=240, storage="mcap")
    with BagReader(made.path) as whole:
        assert whole.recovered is None
        everything = list(whole.frames(made.image_topic))
    (data_file,) = made.path.glob("*.mcap")
    data = data_file.read_bytes()
    data_file.write_bytes(data[: len(data) // 2])
    with BagReader(made.path) as cut:
        assert "read record by record" in cut.recovered and data_file.name in cut.recovered
        assert "reading the bag record by record" in capsys.readouterr().err
        kept = cut.count(made.image_topic)
        assert 0 < kept < 12 and set(cut.topics) == {made.image_topic, made.density_topic, made.fixation_topic}
        read = []
        with pytest.raises(BagError, match=f"cut short: {data_file.name}'s records end at byte") as failure:
            read.extend(cut.frames(made.image_topic))
    assert len(read) == kept == failure.value.frames_read
    for got, want in zip(read, everything[:kept], strict=True):
        assert (got.stamp_ns, got.log_time_ns, got.frame_id) == (want.stamp_ns, want.log_time_ns, want.frame_id)
        np.testing.assert_array_equal(got.image, want.image)


def test_split_mcap_bag_is_read_file_after_file_in_recording_order(tmp_path):
    """A split recording (<name>_2.mcap, then <name>_10.mcap) whose recorder died during the last file: the
    earlier file whole, then the last up to the cut, in the order they were recorded."""
    first = write_test_bag(tmp_path / "first", frames=4, width=32, height=24, storage="mcap", density_topic=None,
                           fixation_topic=None, seed=1)  # fmt: skip
    last = write_test_bag(tmp_path / "last", frames=12, width=320, height=240, storage="mcap", density_topic=None,
                          fixation_topic=None, seed=2)  # fmt: skip
    split = tmp_path / "flight"
    split.mkdir()
    (split / "flight_2.mcap").write_bytes(next(first.path.glob("*.mcap")).read_bytes())
    data = next(last.path.glob("*.mcap")).read_bytes()
    (split / "flight_10.mcap").write_bytes(data[: len(data) // 2])
    with BagReader(first.path) as bag:
        expected = [frame.image for frame in bag.frames(first.image_topic)]
    with BagReader(last.path) as bag:
        expected += [frame.image for frame in bag.frames(last.image_topic)]
    with BagReader(split) as bag:
        assert "flight_10.mcap's records end at byte" in bag.recovered
        read = []
        with pytest.raises(BagError, match="cut short: flight_10.mcap"):
            read.extend(frame.image for frame in bag.frames(first.image_topic))
    assert 4 < len(read) == bag.count(first.image_topic) < 16
    for got, want in zip(read, expected, strict=False):
        np.testing.assert_array_equal(got, want)


def test_mcap_bag_without_metadata_or_with_garbage(tmp_path):
    """A bag folder whose metadata.yaml was never written is read from its mcap file (every message, no error
    at the end); a file that is no mcap at all is refused at once, naming the bag."""
    made = write_test_bag(tmp_path / "bag", frames=5, width=32, height=24, storage="mcap")
    (made.path / "metadata.yaml").unlink()
    with BagReader(made.path) as bag:
        assert "every file ends properly" in bag.recovered
        assert len(list(bag.frames(made.image_topic))) == bag.count(made.image_topic) == 5
    (data_file,) = made.path.glob("*.mcap")
    data_file.write_bytes(b"not an mcap file at all" * 10)
    with pytest.raises(BagError, match=f"cannot read bag {made.path}.*no readable mcap records"):
        BagReader(made.path)


def test_unreadable_or_missing_bag_names_the_problem(tmp_path):
    with pytest.raises(BagError, match="does not exist"):
        BagReader(tmp_path / "nowhere")
    made = write_test_bag(tmp_path / "bag", frames=2, width=16, height=12)
    (made.path / "metadata.yaml").write_text("rosbag2_bagfile_information: [")
    with pytest.raises(BagError, match="metadata.yaml") as failure:
        BagReader(made.path)
    assert failure.value.topics is None


def result_with_rois(width=160, height=120):
    v, u = np.mgrid[0:32, 0:32]
    saliency = np.exp(-((u - 8) ** 2 + (v - 20) ** 2) / 8.0) + 0.6 * np.exp(-((u - 25) ** 2 + (v - 6) ** 2) / 4.0)
    saliency = (saliency / saliency.max()).astype(np.float32)
    rois = extract_rois(saliency, width, height, ROIParams(rel_threshold=0.3))
    return SaliencyResult(saliency, rois, find_peak(saliency, width, height), width, height, True)


@pytest.mark.parametrize("encoding", ["mono8", "32FC1"])
def test_output_bag_round_trip(tmp_path, encoding):
    result = result_with_rois()
    assert len(result.rois) == 2
    topics = OutputTopics.for_node("skd", namespace="/drone1")
    assert topics.rois == "/drone1/skd/rois"
    stamps = [(1_000_000_123, 1_000_500_000), (1_100_000_456, 1_100_400_000)]
    with SaliencyBagWriter(tmp_path / "out", topics, storage="mcap", saliency_encoding=encoding) as writer:
        for stamp, log_time in stamps:
            writer.write(result, stamp, "cam", log_time)
    with BagReader(tmp_path / "out") as bag:
        assert {name: t for name, (t, _) in bag.topics.items()} == {
            topics.saliency: "sensor_msgs/msg/Image",
            topics.rois: "sensor_msgs/msg/PointCloud2",
            topics.attention: "geometry_msgs/msg/PointStamped",
        }
        messages = list(bag.messages([topics.saliency, topics.rois, topics.attention]))
    assert len(messages) == 6
    for topic, log_time, msg in messages:
        stamp = stamp_to_ns(msg.header.stamp)
        assert (stamp, log_time) in stamps and msg.header.frame_id == "cam"
        if topic == topics.saliency:
            assert msg.encoding == encoding and (msg.height, msg.width) == result.saliency.shape
            decoded = saliency_from_msg(msg)
            expected = to_uint8(result.saliency) / 255.0 if encoding == "mono8" else result.saliency
            np.testing.assert_allclose(decoded, expected, atol=1e-7)
        elif topic == topics.rois:
            rois, peaks = records_to_rois(records_from_cloud(msg))
            assert same_rois(rois, result.rois)
            for roi, peak in zip(rois, peaks, strict=True):
                assert roi.x <= peak.x <= roi.x + roi.width and roi.y <= peak.y <= roi.y + roi.height
        else:
            assert (msg.point.x, msg.point.y, msg.point.z) == pytest.approx(
                (result.peak.x, result.peak.y, result.peak.value)
            )


def test_existing_output_bag_is_not_overwritten(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="exists already"):
        SaliencyBagWriter(tmp_path / "out", OutputTopics.for_node("n"))


def test_roi_record_layout_is_packed_and_round_trips():
    assert ROI_POINT_STEP == 60 and ROI_DTYPE.itemsize == 60
    assert [name for name, *_ in ROI_POINT_FIELDS] == [
        "x_offset", "y_offset", "width", "height", "score", "peak_x", "peak_y",  # the first layout, unchanged
        "id", "age", "ray_x", "ray_y", "ray_z", "centre_ray_x", "centre_ray_y", "centre_ray_z",
    ]  # fmt: skip
    assert [offset for _, offset, *_ in ROI_POINT_FIELDS] == list(range(0, 60, 4))
    assert [datatype for _, _, datatype, _ in ROI_POINT_FIELDS] == [6] * 4 + [7] * 3 + [6] * 2 + [7] * 6
    rois = [ROI(3, 4, 10, 12, 0.6), ROI(40, 50, 8, 9, 0.25)]
    peaks = [Peak(7.5, 9.0, 0.9), Peak(44.0, 53.5, 0.4)]
    records = rois_to_records(rois, peaks)
    back_rois, back_peaks = records_to_rois(records_from_bytes(records.tobytes()))
    assert [(r.x, r.y, r.width, r.height) for r in back_rois] == [(r.x, r.y, r.width, r.height) for r in rois]
    assert [r.score for r in back_rois] == pytest.approx([r.score for r in rois])
    assert [(p.x, p.y) for p in back_peaks] == [(p.x, p.y) for p in peaks]
    with pytest.raises(ValueError, match=r"one entry per ROI \(2 ROIs\), got 1 peaks"):
        rois_to_records(rois, peaks[:1])
    with pytest.raises(ValueError, match="got 1 identities"):
        rois_to_records(rois, peaks, identities=[(1, 1)])
    untracked = records_from_bytes(records.tobytes())
    assert list(untracked["id"]) == [0, 0] and np.isnan(untracked["ray_x"]).all()  # offline: not tracked, no rays
    tracked = rois_to_records(rois, peaks, [(4, 2), (9, 1)], np.eye(3)[[2, 0]], np.eye(3)[[1, 2]])
    assert list(tracked["id"]) == [4, 9] and list(tracked["age"]) == [2, 1]
    assert list(tracked["ray_z"]) == [1, 0] and list(tracked["centre_ray_y"]) == [1, 0]
    with pytest.raises(ValueError, match="multiple"):
        records_from_bytes(records.tobytes()[:-1])


def test_roi_peaks_find_each_boxes_own_maximum():
    result = result_with_rois()
    peaks = roi_peaks(result.saliency, result.rois, result.source_width, result.source_height)
    assert peaks[0].value == pytest.approx(1.0)  # the global peak sits in the strongest box
    assert (peaks[0].x, peaks[0].y) == pytest.approx((result.peak.x, result.peak.y))
    assert 0.5 < peaks[1].value < 0.7  # the weaker blob's own maximum (0.6 at its centre)
    for roi, peak in zip(result.rois, peaks, strict=True):
        assert roi.x <= peak.x <= roi.x + roi.width and roi.y <= peak.y <= roi.y + roi.height


def test_rclpy_reads_the_written_clouds(tmp_path):
    serialization = pytest.importorskip("rclpy.serialization")
    from sensor_msgs.msg import PointCloud2

    result = result_with_rois()
    topics = OutputTopics.for_node("n")
    with SaliencyBagWriter(tmp_path / "out", topics) as writer:
        writer.write(result, 5, "cam", 7)
    with BagReader(tmp_path / "out") as bag:
        ((_, msgtype, _, raw),) = bag.serialized_messages([topics.rois])
    assert msgtype == "sensor_msgs/msg/PointCloud2"
    cloud = serialization.deserialize_message(raw, PointCloud2)
    assert cloud.width == len(result.rois) and cloud.point_step == ROI_POINT_STEP
    assert same_rois(records_to_rois(records_from_cloud(cloud))[0], result.rois)


def test_ros1_bag_reads_and_converts_to_ros2_cdr(tmp_path):
    from rosbags.rosbag1 import Writer
    from rosbags.typesys import Stores, get_typestore

    ros1 = get_typestore(Stores.ROS1_NOETIC)
    frames, _ = render_test_frames(3, 32, 24)
    with Writer(tmp_path / "old.bag") as writer:
        connection = writer.add_connection("/cam", "sensor_msgs/msg/Image", typestore=ros1)
        for i, frame in enumerate(frames):
            stamp = ros1.types["builtin_interfaces/msg/Time"](sec=5, nanosec=i)
            header = ros1.types["std_msgs/msg/Header"](seq=i, stamp=stamp, frame_id="cam")
            msg = ros1.types["sensor_msgs/msg/Image"](
                header=header, height=24, width=32, encoding="bgr8", is_bigendian=0, step=96, data=frame.ravel()
            )
            writer.write(connection, 10**9 + i, ros1.serialize_ros1(msg, "sensor_msgs/msg/Image"))
    with BagReader(tmp_path / "old.bag") as bag:
        assert bag.ros1
        read = list(bag.frames("/cam"))
        converted = list(bag.image_cdr("/cam"))
    assert [f.stamp_ns for f in read] == [5 * 10**9 + i for i in range(3)]
    for frame, expected, (log_time, cdr) in zip(read, frames, converted, strict=True):
        np.testing.assert_array_equal(frame.image, expected)
        msg = TYPESTORE.deserialize_cdr(cdr, "sensor_msgs/msg/Image")  # what rclpy would receive
        assert log_time == frame.log_time_ns and stamp_to_ns(msg.header.stamp) == frame.stamp_ns
        np.testing.assert_array_equal(decode_image(msg), expected)
