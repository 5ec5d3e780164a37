"""Dataset layouts: hand-made AVS1K/DHF1K folders, frame folders, video files and bags load through one
dataset class with the right pairing, categories and ground truth; damaged layouts name the file."""

import cv2
import numpy as np
import pytest
import torch

from skd_ros.core.preprocess import preprocess
from skd_training.data import DatasetError, SaliencyVideoDataset, category_from_name, detect_layout, open_source
from skd_training.data.summary import main as summary_main

WIDTH, HEIGHT = 48, 36


def frame_image(video_seed: int, index: int) -> np.ndarray:
    """A frame whose pixels encode its video and index (so pairings can be checked)."""
    rng = np.random.default_rng(1000 * video_seed + index)
    return rng.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)


def density_image(index: int) -> np.ndarray:
    density = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(density, (5 + 3 * index, 10), 6, 255, -1)
    return cv2.GaussianBlur(density, (0, 0), 2)


def fixation_image(index: int) -> np.ndarray:
    fixation = np.zeros((HEIGHT, WIDTH), np.uint8)
    fixation[10, 5 + 3 * index] = 255
    fixation[HEIGHT - 1, WIDTH - 1] = 255  # a corner pixel, the easiest to lose when shrinking
    return fixation


def make_avs1k(root, splits=None, fixations=True):
    splits = splits or {"trainSet": {"Vehicle_00001": 4, "Human_00002": 3}, "testSet": {"Others_00003": 2}}
    for seed, (split, videos) in enumerate(splits.items()):
        for offset, (video, count) in enumerate(videos.items()):
            folders = ["Frame", "Ground"] + (["Fixation"] if fixations else [])
            for folder in folders:
                (root / split / folder / video).mkdir(parents=True)
            for i in range(count):
                name = f"{video}_{i + 1:05d}.png"
                cv2.imwrite(str(root / split / "Frame" / video / name), frame_image(10 * seed + offset, i))
                cv2.imwrite(str(root / split / "Ground" / video / name), density_image(i))
                if fixations:
                    cv2.imwrite(str(root / split / "Fixation" / video / name), fixation_image(i))
    return root


def make_dhf1k(root, videos=(1, 650), count=3):
    for number in videos:
        base = root / "annotation" / f"{number:04d}"
        for folder in ("images", "maps", "fixation"):
            (base / folder).mkdir(parents=True)
        for i in range(count):
            name = f"{i + 1:04d}.png"
            cv2.imwrite(str(base / "images" / name), frame_image(number, i))
            cv2.imwrite(str(base / "maps" / name), density_image(i))
            cv2.imwrite(str(base / "fixation" / name), fixation_image(i))
    return root


def assert_pairing(dataset, video):
    """previous = frame t-1 of the same video, the first frame paired with itself."""
    r = dataset.resolution
    for t in range(dataset.source.video(video).num_frames):
        item = dataset[dataset.index_of(video, t)]
        expected_current = preprocess(dataset.original_frame(video, t), r)
        expected_previous = preprocess(dataset.original_frame(video, max(t - 1, 0)), r)
        assert item["frame"] == t and item["video"] == video
        np.testing.assert_array_equal(item["current"].numpy(), expected_current)
        np.testing.assert_array_equal(item["previous"].numpy(), expected_previous)


def test_avs1k_layout_pairs_frames_and_parses_categories(tmp_path):
    root = make_avs1k(tmp_path / "avs")
    assert detect_layout(root) == "avs1k"
    dataset = SaliencyVideoDataset(root, split="train", resolution=16, teacher_resolution=32)
    assert [v.name for v in dataset.videos] == ["Human_00002", "Vehicle_00001"]
    assert len(dataset) == 7
    assert_pairing(dataset, "Vehicle_00001")
    item = dataset[dataset.index_of("Human_00002", 0)]
    assert item["category"] == "Human" and item["has_density"] and item["has_fixation"]
    assert item["previous"].shape == (3, 16, 16) and item["current_hr"].shape == (3, 32, 32)
    assert item["density"].shape == (1, 16, 16) and item["density"].dtype == torch.float32
    assert float(item["density"].max()) == pytest.approx(1.0)
    # both fixations survive the 48x36 -> 16x16 reduction, the corner one included
    assert int(item["fixation"].sum()) == 2 and float(item["fixation"][0, 15, 15]) == 1.0
    assert int(item["fixation_hr"].sum()) == 2
    test = SaliencyVideoDataset(root, split="test", resolution=16, teacher_resolution=None)
    assert test[0]["category"] == "Others" and "current_hr" not in test[0]


def test_original_resolution_ground_truth(tmp_path):
    dataset = SaliencyVideoDataset(make_avs1k(tmp_path / "avs"), resolution=16, teacher_resolution=None)
    truth = dataset.ground_truth("Vehicle_00001", 2)
    assert truth.density.shape == (HEIGHT, WIDTH) and truth.density.dtype == np.float32
    np.testing.assert_allclose(truth.density, density_image(2) / 255.0, atol=1e-6)
    assert truth.fixation.dtype == bool and truth.fixation.sum() == 2 and truth.fixation[10, 11]
    assert dataset.original_frame("Vehicle_00001", 2).shape == (HEIGHT, WIDTH, 3)


def test_avs1k_without_fixation_folder(tmp_path):
    dataset = SaliencyVideoDataset(
        make_avs1k(tmp_path / "avs", fixations=False), resolution=16, teacher_resolution=None
    )
    item = dataset[0]
    assert not item["has_fixation"] and item["has_density"] and float(item["fixation"].sum()) == 0.0
    assert dataset.ground_truth(*dataset.items[0]).fixation is None


def test_category_prefixes():
    assert category_from_name("Building_00122") == "Building"
    assert category_from_name("vehicle_00083") == "Vehicle"
    assert category_from_name("Others_7") == "Others"
    assert category_from_name("0001") == "Unknown"
    assert category_from_name("Humanoid_3") == "Unknown"


def test_dhf1k_layout_and_split_by_number(tmp_path):
    root = make_dhf1k(tmp_path / "dhf")
    assert detect_layout(root) == "dhf1k"
    source = open_source(root)
    assert {v.name: v.split for v in source.videos} == {"0001": "train", "0650": "val"}
    dataset = SaliencyVideoDataset(source, split="val", resolution=16, teacher_resolution=None)
    assert len(dataset) == 3 and dataset[0]["category"] == "Unknown" and dataset[0]["has_fixation"]
    assert_pairing(dataset, "0650")


def test_frame_folders_and_video_files_are_unlabeled(tmp_path):
    folder = tmp_path / "frames" / "Vehicle_clip"
    folder.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(folder / f"img{i + 8}.png"), frame_image(5, i))  # numbered 8, 9, 10: numeric order
    dataset = SaliencyVideoDataset(tmp_path / "frames", resolution=16, teacher_resolution=None)
    assert dataset.source.layout == "frames" and len(dataset) == 3
    np.testing.assert_array_equal(dataset.original_frame("Vehicle_clip", 2), frame_image(5, 2))
    item = dataset[2]
    assert not item["has_density"] and not item["has_fixation"] and item["category"] == "Vehicle"
    assert float(item["density"].abs().sum()) == 0.0
    assert_pairing(dataset, "Vehicle_clip")
    with pytest.raises(DatasetError, match="no ground truth"):
        dataset.ground_truth("Vehicle_clip", 0)

    video_path = tmp_path / "videos" / "Human_clip.avi"
    video_path.parent.mkdir()
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (WIDTH, HEIGHT))
    for i in range(5):
        writer.write(np.full((HEIGHT, WIDTH, 3), 40 * i, np.uint8))
    writer.release()
    videos = SaliencyVideoDataset(tmp_path / "videos", resolution=16, teacher_resolution=None)
    assert videos.source.layout == "video" and len(videos) == 5
    # decoded frames in order, wherever the reads start (the decoder restarts to go back)
    levels = [int(videos.original_frame("Human_clip", t).mean().round()) for t in (3, 1, 4, 0)]
    assert levels == pytest.approx([120, 40, 160, 0], abs=3)
    assert_pairing(videos, "Human_clip")


def test_rosbag_layout_with_ground_truth_topics(tmp_path):
    from skd_tools.bags import write_test_bag

    bags = tmp_path / "bags"
    bags.mkdir()
    write_test_bag(bags / "Vehicle_flight", frames=4, width=WIDTH, height=HEIGHT, storage="mcap")
    write_test_bag(bags / "Human_flight", frames=3, width=WIDTH, height=HEIGHT, storage="sqlite3", compressed=True)
    plain = SaliencyVideoDataset(bags, topic="/camera/image_raw", resolution=16, teacher_resolution=None)
    assert plain.source.layout == "rosbag" and len(plain) == 7 and not plain[0]["has_density"]
    assert {v.name: v.category for v in plain.videos} == {"Human_flight": "Human", "Vehicle_flight": "Vehicle"}
    assert_pairing(plain, "Vehicle_flight")
    assert_pairing(plain, "Human_flight")
    source = open_source(
        bags,
        topic="/camera/image_raw",
        density_topic="/camera/saliency_density",
        fixation_topic="/camera/saliency_fixations",
    )
    labeled = SaliencyVideoDataset(source, resolution=16, teacher_resolution=None)
    item = labeled[1]
    assert item["has_density"] and item["has_fixation"] and float(item["fixation"].sum()) >= 1
    # a cache built from the images alone is rebuilt once the ground-truth topics are asked for
    cache = tmp_path / "cache"
    SaliencyVideoDataset(bags, topic="/camera/image_raw", resolution=16, teacher_resolution=None, cache_dir=cache)
    cached = SaliencyVideoDataset(source, resolution=16, teacher_resolution=None, cache_dir=cache, progress=False)
    torch.testing.assert_close(cached[1]["density"], item["density"], rtol=0, atol=0)
    with pytest.raises(DatasetError, match="no topic"):
        open_source(bags, topic="/missing")
    with pytest.raises(DatasetError, match="image topic"):
        open_source(bags)


def test_rosbag_layout_takes_the_frames_before_a_cut(tmp_path, caplog):
    """A flight bag whose recorder died (mcap without its summary) is a video of the frames recorded before the
    cut, each as in the whole bag, with a warning that says so."""
    from skd_tools.bags import write_test_bag

    bags = tmp_path / "bags"
    bags.mkdir()
    made = write_test_bag(bags / "Vehicle_flight", frames=12, width=320, height=240, storage="mcap")
    whole = SaliencyVideoDataset(bags, topic="/camera/image_raw", resolution=16, teacher_resolution=None)
    expected = [whole.original_frame("Vehicle_flight", t) for t in range(12)]
    (data_file,) = made.path.glob("*.mcap")
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    cut = SaliencyVideoDataset(bags, topic="/camera/image_raw", resolution=16, teacher_resolution=None)
    assert 0 < len(cut) < 12 and "read record by record" in caplog.text
    frames = [frame for frame, _, _ in cut.source.iter_video("Vehicle_flight")]  # read through to the cut
    assert len(frames) == len(cut)
    for frame, want in zip(frames, expected, strict=False):
        np.testing.assert_array_equal(frame, want)
    assert_pairing(cut, "Vehicle_flight")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda r: (r / "trainSet/Ground/Human_00002/Human_00002_00002.png").unlink(), "Human_00002_00002"),
        (lambda r: (r / "trainSet/Frame/Vehicle_00001/Vehicle_00001_00002.png").unlink(), "Vehicle_00001_00002"),
        (lambda r: (r / "trainSet/Fixation/Vehicle_00001/Vehicle_00001_00004.png").unlink(), "Vehicle_00001_00004"),
        (lambda r: __import__("shutil").rmtree(r / "trainSet/Ground"), "Ground"),
        (lambda r: __import__("shutil").rmtree(r / "testSet/Ground/Others_00003"), "Others_00003"),
    ],
    ids=["missing-density", "gap-in-frames", "missing-fixation", "no-ground-folder", "no-video-maps"],
)
def test_truncated_avs1k_names_the_file(tmp_path, damage, message):
    root = make_avs1k(tmp_path / "avs")
    damage(root)
    with pytest.raises(DatasetError, match=message):
        SaliencyVideoDataset(root, resolution=16, teacher_resolution=None)


def test_unreadable_files_name_video_and_file(tmp_path):
    root = make_avs1k(tmp_path / "avs")
    bad = root / "trainSet/Ground/Vehicle_00001/Vehicle_00001_00003.png"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated PNG
    dataset = SaliencyVideoDataset(root, resolution=16, teacher_resolution=None)
    with pytest.raises(DatasetError, match=r"Vehicle_00001.*frame 2.*Vehicle_00001_00003\.png"):
        dataset[dataset.index_of("Vehicle_00001", 2)]
    with pytest.raises(DatasetError, match="Vehicle_00001_00003.png"):
        SaliencyVideoDataset(root, resolution=16, teacher_resolution=None, cache_dir=tmp_path / "cache", progress=False)

    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0001.jpg"), frame_image(0, 0))
    jpeg = (frames / "0001.jpg").read_bytes()
    (frames / "0002.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # OpenCV alone would decode this silently
    with pytest.raises(DatasetError, match="0002.jpg is truncated"):
        SaliencyVideoDataset(frames, resolution=16, teacher_resolution=None)[1]


def test_dhf1k_map_count_mismatch(tmp_path):
    root = make_dhf1k(tmp_path / "dhf")
    (root / "annotation/0001/maps/0003.png").unlink()
    with pytest.raises(DatasetError, match=r"'0001'.*0003"):
        open_source(root)


def test_unknown_split_and_video(tmp_path):
    root = make_avs1k(tmp_path / "avs")
    with pytest.raises(DatasetError, match="no split 'val'"):
        SaliencyVideoDataset(root, split="val")
    with pytest.raises(DatasetError, match="Nope_1"):
        SaliencyVideoDataset(root, videos=["Nope_1"])


def test_summary_command(tmp_path, capsys):
    root = make_avs1k(tmp_path / "avs")
    assert summary_main([str(root)]) == 0
    out = capsys.readouterr().out
    assert "avs1k" in out
    train_line = next(line for line in out.splitlines() if line.startswith("train"))
    assert train_line.split()[1:3] == ["2", "7"]  # videos, frames
    assert "1 (4)" in train_line and "1 (3)" in train_line  # Vehicle 1 video (4 frames), Human 1 (3)
    (root / "testSet/Ground/Others_00003/Others_00003_00001.png").unlink()
    assert summary_main([str(root)]) == 1
    assert "Others_00003_00001" in capsys.readouterr().err
