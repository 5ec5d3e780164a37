import math
import struct
import zipfile
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
import torch

from skd_ros.core.checkpoint import CheckpointError, load_fused, save_fused
from skd_ros.core.model import SKDModel
from skd_ros.core.postprocess import ROI, CentrePrior, ROIParams, extract_rois, find_peak, resize_map, to_uint8
from skd_ros.core.preprocess import MEAN_RGB, STD_RGB, FramePairBuffer, area_resize, preprocess
from skd_ros.core.roi_record import roi_peaks
from skd_ros.core.visualize import stretch_for_display
from skd_ros.runtime import SaliencyEstimator, SaliencyPipeline


def blob_map(size, cx, cy, sigma=2.0):
    v, u = np.mgrid[0:size, 0:size]
    return np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / (2 * sigma**2)).astype(np.float32)


@pytest.mark.parametrize("width,height", [(1920, 1080), (640, 480)])
def test_roi_maps_back_to_source_pixels(width, height):
    sal = blob_map(64, cx=40, cy=20)
    rois = extract_rois(sal, width, height, ROIParams(rel_threshold=0.5))
    assert len(rois) == 1
    roi = rois[0]
    sx, sy = width / 64, height / 64
    # the blob's centre cell (40, 20) maps to source pixels around (40.5*sx, 20.5*sy), inside the box
    assert roi.x <= 40.5 * sx <= roi.x + roi.width
    assert roi.y <= 20.5 * sy <= roi.y + roi.height
    # half-maximum radius of a sigma-2 Gaussian is ~2.4 cells: the box is a few cells wide, not the image
    assert 2 * sx <= roi.width <= 7 * sx and 2 * sy <= roi.height <= 7 * sy
    assert 0 <= roi.x and roi.x + roi.width <= width and 0 <= roi.y and roi.y + roi.height <= height
    peak = find_peak(sal, width, height)
    assert peak.x == pytest.approx(40.5 * sx) and peak.y == pytest.approx(20.5 * sy)
    assert peak.value == pytest.approx(1.0)


def test_rois_one_per_peak_highest_first_and_limited():
    sal = blob_map(64, 10, 10, sigma=3.0) + 0.5 * blob_map(64, 50, 50, sigma=2.0) + 0.6 * blob_map(64, 10, 50)
    rois = extract_rois(sal, 640, 640, ROIParams(max_rois=2))
    assert len(rois) == 2
    assert rois[0].x < 100 and rois[0].y < 100  # the highest peak, (10, 10), first: it holds the attention point
    assert rois[1].x < 100 and rois[1].y > 400  # then the 0.6 peak at (10, 50), not the 0.5 one at (50, 50)
    # every peak gets its own box at half its own height, though two of them stay under half the highest
    assert len(extract_rois(sal, 640, 640)) == 3
    assert len(extract_rois(sal, 640, 640, ROIParams(peak_floor=0.55))) == 2
    assert len(extract_rois(sal, 640, 640, ROIParams(peak_floor=1.0))) == 1


def test_a_peak_on_a_higher_peaks_shoulder_gets_the_rest_of_its_blob():
    """Two overlapping blobs: the lower peak's half height reaches around the higher one's blob, and its box
    keeps to its own side instead of enclosing it."""
    sal = blob_map(64, 20, 32, sigma=3.0) + 0.45 * blob_map(64, 29, 32, sigma=3.0)
    first, second = extract_rois(sal, 640, 640)
    assert first.x < 20.5 * 10 < first.x + first.width
    assert second.x < 29.5 * 10 < second.x + second.width
    assert second.x >= first.x + first.width  # side by side, not nested
    # 1 cell closer, the lower peak stands inside the higher one's blob: one target, one box
    (only,) = extract_rois(0.9 * blob_map(64, 20, 32, sigma=3.0) + 0.45 * blob_map(64, 28, 32, sigma=3.0), 640, 640)
    assert only.x < 20.5 * 10 and 28.5 * 10 < only.x + only.width


def test_each_rois_peak_lies_in_its_own_box_beside_a_higher_blob():
    """A lower, wider blob below and right of a higher one, in a frame that is not a multiple of the map: the
    lower box's top edge cuts into the row of cells through the higher blob, and none of those cells may
    become the lower box's peak."""
    v, u = np.mgrid[0:64, 0:64]
    lower = np.exp(-((u - 24.1) ** 2 / (2 * 4.9**2) + (v - 27.9) ** 2 / (2 * 2.5**2)))
    sal = (blob_map(64, 20, 20, sigma=3.0) + 0.3 * lower).astype(np.float32)
    for width, height in ((1000, 700), (1920, 1080), (641, 479)):
        rois = extract_rois(sal, width, height)
        assert len(rois) == 2
        for roi, peak in zip(rois, roi_peaks(sal, rois, width, height), strict=True):
            assert roi.x <= peak.x <= roi.x + roi.width and roi.y <= peak.y <= roi.y + roi.height


@pytest.mark.parametrize("value", [0.0, 0.37, 1.0])
def test_flat_maps_give_no_roi(value):
    assert extract_rois(np.full((64, 64), value, np.float32), 640, 480) == []


def rois_by_definition(saliency: np.ndarray, width: int, height: int, params: ROIParams) -> list[ROI]:
    """``extract_rois`` as its docstring defines it, with a flood fill cell by cell: slow, plain, the reference."""
    sal = saliency.astype(np.float32)
    low, high = float(sal.min()), float(sal.max())
    if params.max_rois == 0 or not math.isfinite(high) or high - low < params.min_contrast:
        return []
    rows, cols = sal.shape
    padded = np.pad(sal, 1, constant_values=-np.inf)
    neighbourhood_max = np.max([padded[dv : dv + rows, du : du + cols] for dv in range(3) for du in range(3)], axis=0)
    floor = np.float32(low + params.peak_floor * (high - low))
    cells = [(v, u) for v in range(rows) for u in range(cols)]
    peaks = [cell for cell in cells if sal[cell] >= neighbourhood_max[cell] and sal[cell] >= floor]

    def neighbours(cv, cu, reach=1):
        return [
            (nv, nu)
            for nv in range(max(0, cv - reach), min(rows, cv + reach + 1))
            for nu in range(max(0, cu - reach), min(cols, cu + reach + 1))
        ]

    def on_a_slope(v, u):  # a plateau cell whose plateau has a higher neighbour
        plateau, frontier = {(v, u)}, [(v, u)]
        while frontier:
            for cell in neighbours(*frontier.pop()):
                if sal[cell] > sal[v, u]:
                    return True
                if sal[cell] == sal[v, u] and cell not in plateau:
                    plateau.add(cell)
                    frontier.append(cell)
        return False

    peaks = [cell for cell in peaks if not on_a_slope(*cell)]
    peaks.sort(key=lambda cell: -sal[cell])  # stable: equal peaks stay in row-major order
    root = {}  # each cell's local maximum by steepest ascent, climbed cell by cell
    order = [(0, 0), (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    for v in range(rows):
        for u in range(cols):
            cv, cu = v, u
            while True:
                around = [(cv + dv, cu + du) for dv, du in order if 0 <= cv + dv < rows and 0 <= cu + du < cols]
                best = max(around, key=lambda cell: (sal[cell], -around.index(cell)))
                if best == (cv, cu):
                    break
                cv, cu = best
            root[v, u] = (cv, cu)
    taken = np.zeros(sal.shape, bool)
    total = float(sal.astype(np.float64).sum())
    reach = 2 * params.merge_radius + 1  # squares of radius merge_radius around two cells this far apart touch
    rois = []
    for v, u in peaks:
        if taken[v, u]:
            continue
        level = np.float32(low + params.rel_threshold * (float(sal[v, u]) - low))
        member = (sal >= level) & ~taken
        member &= ~np.array([[taken[root[cv, cu]] for cu in range(cols)] for cv in range(rows)])
        member[v, u] = True
        blob, frontier = {(v, u)}, [(v, u)]
        while frontier:
            for cell in neighbours(*frontier.pop(), reach):
                if member[cell] and cell not in blob:
                    blob.add(cell)
                    frontier.append(cell)
        cells = np.zeros(sal.shape, bool)
        cells[tuple(np.array(sorted(blob)).T)] = True
        taken |= cells
        score = float(sal[cells].astype(np.float64).sum()) / total if total > 0 else 0.0
        if score < params.min_score:
            continue
        vs, us = np.nonzero(cells)
        sx, sy = width / cols, height / rows
        x0, x1 = math.floor(us.min() * sx), min(width, math.ceil((us.max() + 1) * sx))
        y0, y1 = math.floor(vs.min() * sy), min(height, math.ceil((vs.max() + 1) * sy))
        rois.append(ROI(x0, y0, x1 - x0, y1 - y0, score))
    return rois[: params.max_rois]


@pytest.mark.parametrize(
    "params",
    [
        ROIParams(),
        ROIParams(merge_radius=0),
        ROIParams(merge_radius=3, max_rois=64, min_score=0.0, rel_threshold=0.3, peak_floor=0.1),
        ROIParams(rel_threshold=1.0, peak_floor=1.0),
    ],
)
def test_roi_extraction_gives_what_its_definition_gives(params):
    """The extraction (dilations and connected components per peak) against the plain definition, on maps with
    many peaks, ties and sizes that are not square: the same boxes and the same scores."""
    rng = np.random.default_rng(3)
    maps = [rng.random((64, 64), dtype=np.float32) for _ in range(6)]
    maps += [rng.random((24, 40)).astype(np.float32) ** 4 for _ in range(6)]
    maps += [np.kron(rng.random((8, 8)), np.ones((4, 4))).astype(np.float32) for _ in range(4)]  # plateaus: ties
    maps += [cv2.GaussianBlur(rng.random((64, 64), dtype=np.float32), (0, 0), 2.5) for _ in range(4)]  # smooth blobs
    for saliency in maps:
        got, expected = extract_rois(saliency, 1920, 1080, params), rois_by_definition(saliency, 1920, 1080, params)
        assert [(r.x, r.y, r.width, r.height) for r in got] == [(r.x, r.y, r.width, r.height) for r in expected]
        assert [r.score for r in got] == pytest.approx([r.score for r in expected], rel=1e-9)


def test_specks_below_the_minimum_mass_share_are_dropped():
    sal = 0.1 + 0.9 * blob_map(64, 32, 32, sigma=4.0)
    sal[0, 0] = 0.6  # one border cell above the threshold, holding ~0.1 % of the mass
    assert len(extract_rois(sal, 640, 480, ROIParams(min_score=0.0))) == 2
    (roi,) = extract_rois(sal, 640, 480)  # the default minimum share (1 %) drops the speck
    assert roi.x > 100 and roi.y > 100


def test_display_stretch_uses_the_maps_own_range_but_not_on_flat_maps():
    faint = 0.02 + 0.08 * blob_map(64, 20, 20)  # a clear peak at a low absolute level
    shown = stretch_for_display(faint)
    assert shown.min() == pytest.approx(0.0) and shown.max() == pytest.approx(1.0)
    flat = np.full((64, 64), 0.4, np.float32)
    flat[5, 5] = 0.41  # noise on a flat map stays dim
    assert stretch_for_display(flat).max() == pytest.approx(0.2)


def test_resize_and_uint8():
    sal = blob_map(64, 32, 32)
    full = resize_map(sal, 640, 480)
    assert full.shape == (480, 640) and full.dtype == np.float32
    assert to_uint8(np.array([0.0, 0.5, 1.0, 2.0])).tolist() == [0, 128, 255, 255]


@pytest.mark.parametrize(
    "frame,match",
    [
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((10, 10), np.uint8), "3 colour channels"),
        (np.zeros((10, 10, 4), np.uint8), "3 colour channels"),
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        ([[1, 2, 3]], "numpy array"),
    ],
)
def test_bad_frames_raise_value_error(frame, match):
    with pytest.raises(ValueError, match=match):
        preprocess(frame, 64)


def test_preprocess_encoding_order():
    red_bgr = np.zeros((8, 8, 3), np.uint8)
    red_bgr[..., 2] = 255
    a = preprocess(red_bgr, 4, "bgr8")
    b = preprocess(red_bgr[..., ::-1].copy(), 4, "rgb8")
    assert a.shape == (3, 4, 4) and np.allclose(a, b)
    assert a[0].mean() > a[2].mean()  # channel 0 is red after normalisation


def test_preprocess_normalises_each_level_as_the_formula():
    """The lookup table gives every level of every channel the ImageNet normalisation's value, in RGB order."""
    x, y = np.meshgrid(np.arange(256), np.arange(256))
    frame = np.stack([x, 255 - y, (x + 3 * y) % 256], axis=-1).astype(np.uint8)  # RGB: every level in each channel
    for encoding, pixels in (("rgb8", frame), ("bgr8", frame[:, :, ::-1])):
        tensor = preprocess(np.ascontiguousarray(pixels), 256, encoding)
        expected = (frame.astype(np.float32) * np.float32(1.0 / 255.0) - MEAN_RGB) / STD_RGB
        assert tensor.dtype == np.float32 and tensor.flags.c_contiguous
        assert np.array_equal(tensor, expected.transpose(2, 0, 1))


@pytest.mark.parametrize("source", [(1920, 1080), (1280, 720), (3840, 2160), (640, 480), (1000, 750), (30, 30)])
def test_area_resize_in_two_halves_is_the_same_to_the_bit(source):
    """With a helper thread the two halves of the frame are resized at once: the same pixels as one call."""
    noise = np.random.default_rng(5).integers(0, 256, (source[1], source[0], 3), dtype=np.uint8)
    frame = cv2.GaussianBlur(noise, (0, 0), 1.0)
    with ThreadPoolExecutor(1) as helper:
        for size in ((64, 64), (96, 96), (128, 128), (128, 96), (36, 30)):
            assert np.array_equal(area_resize(frame, *size, helper), area_resize(frame, *size))


def test_pair_buffer_order_and_resets():
    buf = FramePairBuffer()
    f = [np.full((3, 4, 4), i, np.float32) for i in range(5)]
    first = buf.push(f[0], 100, "cam")
    assert first.first and first.previous is f[0]
    second = buf.push(f[1], 200, "cam")
    assert not second.first and second.previous is f[0] and second.current is f[1]
    looped = buf.push(f[2], 50, "cam")  # time went backwards (bag loop): not paired
    assert looped.first and looped.previous is f[2]
    other = buf.push(f[3], 60, "other_cam")  # another camera: not paired
    assert other.first and other.previous is f[3]
    assert buf.push(f[4], 70, "other_cam").previous is f[3]
    assert buf.resets == 2


def test_pair_buffer_pairs_frames_an_interval_apart_whatever_the_camera_rate():
    """A checkpoint trained on pairs 0.1 s apart sees 0.1 s of motion from a 30 fps camera: each frame pairs with
    the kept frame closest to 0.1 s before it, the oldest one before that much time has passed."""
    period, interval = 33_333_333, 100_000_000
    buf = FramePairBuffer(interval)
    frames = [np.full((3, 4, 4), i, np.float32) for i in range(12)]
    partners = [buf.push(frame, i * period, "cam").previous for i, frame in enumerate(frames)]
    assert [int(p[0, 0, 0]) for p in partners] == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert len(buf._kept) <= 5  # only the frames a later one can still pair with
    pair = buf.push(frames[0], 12 * period, "cam")
    assert [int(f[0, 0, 0]) for f in (pair.previous, *pair.between)] == [9, 10, 11]  # the camera followed through
    assert FramePairBuffer().push(frames[0], 0, "cam").between == ()
    # a node that skipped frames: the closest kept one, never a frame from before a restart
    skipping = FramePairBuffer(interval)
    for index in (0, 1, 4):
        skipping.push(frames[index], index * period, "cam")
    assert int(skipping.push(frames[7], 7 * period, "cam").previous[0, 0, 0]) == 4  # 0.1 s before: frame 4
    restarted = skipping.push(frames[8], 8 * period, "other_cam")
    assert restarted.first and restarted.previous is frames[8]
    # without stamps there is no interval to keep: the frame just before
    unstamped = FramePairBuffer(interval)
    unstamped.push(frames[0], None, "cam")
    unstamped.push(frames[1], None, "cam")
    assert unstamped.push(frames[2], None, "cam").previous is frames[1]
    assert unstamped.push(frames[3], 3 * period, "cam").previous is frames[2]
    assert unstamped.push(frames[4], 4 * period, "cam").previous is frames[3]
    with pytest.raises(ValueError, match="interval_ns"):
        FramePairBuffer(-1)


def test_a_recalled_frame_pairs_only_within_its_run():
    """A frame the node skipped and restored pairs like a pushed one, but never across a restart or a camera."""
    period, interval = 100_000_000, 200_000_000
    frames = [np.full((3, 4, 4), i, np.float32) for i in range(8)]
    buf = FramePairBuffer(interval)
    buf.push(frames[0], 0, "cam")
    buf.push(frames[1], period, "cam")
    assert buf.recall(frames[2], 2 * period, "cam") and not buf.recall(frames[2], 2 * period, "cam")
    assert not buf.recall(frames[3], 3 * period, "other_cam") and not buf.recall(frames[3], 3 * period, "cam", (1,))
    assert buf.push(frames[4], 4 * period, "cam").previous is frames[2]
    buf.push(frames[5], 50 * period, "other_cam")  # a restart: the run begins at frame 5
    assert not buf.recall(frames[4], 4 * period, "other_cam")
    assert not FramePairBuffer().recall(frames[1], period, "cam")  # consecutive pairs restore by push


def test_the_checkpoints_pair_interval_sets_the_pipelines_pairing(tmp_path):
    path = tmp_path / "interval.pt"
    save_fused(SKDModel(), path, resolution=32, meta={"pair_interval_s": 0.2})
    estimator = SaliencyEstimator(weights=path, device="cpu", backend="eager")
    assert SaliencyPipeline(estimator).buffer.interval_ns == 200_000_000
    plain = tmp_path / "plain.pt"
    save_fused(SKDModel(), plain, resolution=32)
    assert SaliencyPipeline(SaliencyEstimator(weights=plain, device="cpu", backend="eager")).buffer.interval_ns == 0


def test_the_checkpoints_input_resolution_is_the_side_it_runs_at_unless_another_is_asked(tmp_path):
    path = tmp_path / "larger.pt"
    save_fused(SKDModel(), path, resolution=32, meta={"input_resolution": 48})
    estimator = SaliencyEstimator(weights=path, device="cpu", backend="eager")
    assert estimator.resolution == 48 and estimator.prepare(np.zeros((60, 80, 3), np.uint8)).shape == (3, 48, 48)
    assert SaliencyEstimator(weights=path, resolution=40, device="cpu", backend="eager").resolution == 40
    plain = tmp_path / "plain.pt"
    save_fused(SKDModel(), plain, resolution=32)
    assert SaliencyEstimator(weights=plain, device="cpu", backend="eager").resolution == 32


def test_pipeline_map_belongs_to_newest_frame(tmp_path):
    """The pipeline feeds (previous, current): the same frame twice gives a different map than a real pair,
    and a frame's map never depends on a later frame."""
    estimator = SaliencyEstimator(weights=None, resolution=32, device="cpu")
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    pipeline = SaliencyPipeline(estimator)
    r0 = pipeline.step(frames[0], 0, "cam")
    r1 = pipeline.step(frames[1], 1, "cam")
    assert not r0.paired_with_previous and r1.paired_with_previous
    previous, current = estimator.prepare(frames[0]), estimator.prepare(frames[1])
    # the previous frame as the checkpoint's temporal stream wants it (aligned onto the current one, or as it is)
    expected = estimator.infer(estimator.temporal_input(previous, current), current)
    np.testing.assert_allclose(r1.saliency, expected, atol=1e-6)
    alone = estimator.infer(estimator.prepare(frames[1]), estimator.prepare(frames[1]))
    assert np.abs(r1.saliency - alone).max() > 1e-6
    assert r1.saliency.shape == (32, 32) and (r1.source_width, r1.source_height) == (64, 48)


def test_checkpoint_roundtrip_and_errors(tmp_path):
    model = SKDModel()
    path = tmp_path / "m.pt"
    save_fused(model, path, resolution=64, meta={"note": "test"})
    loaded, resolution, meta = load_fused(path)
    assert resolution == 64 and meta["note"] == "test"
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_fused(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="damaged"):
        load_fused(corrupt)
    text_file = tmp_path / "notes.pt"
    text_file.write_text("not a checkpoint\n")
    with pytest.raises(CheckpointError, match="damaged or not a PyTorch file") as failure:
        load_fused(text_file)
    assert "weights_only" not in str(failure.value)  # torch's unsafe advice is not passed on
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not an SKD fused-model checkpoint"):
        load_fused(other)
    mismatched = tmp_path / "mismatched.pt"
    payload = torch.load(path, weights_only=True)
    payload["state_dict"].pop(next(iter(payload["state_dict"])))
    torch.save(payload, mismatched)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_fused(mismatched)


def test_a_flipped_bit_in_a_checkpoint_is_refused_naming_the_file(tmp_path):
    """Regression: torch.load does not check the CRC-32 torch.save stores per record, so a flipped bit in a
    weight loaded as a wrong weight without a word."""
    path = tmp_path / "m.pt"
    save_fused(SKDModel(), path, resolution=64)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        record = next(r for r in archive.infolist() if r.filename.endswith("/data/0"))  # the first weight
    name_length, extra_length = struct.unpack("<HH", data[record.header_offset + 26 : record.header_offset + 30])
    data[record.header_offset + 30 + name_length + extra_length] ^= 0x40  # a bit of the weight's first value
    flipped = tmp_path / "flipped.pt"
    flipped.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="is damaged") as failure:
        load_fused(flipped)
    assert str(flipped) in str(failure.value)


def test_noise_in_place_of_a_checkpoint_is_a_checkpoint_error(tmp_path):
    """Regression: torch's unpickler raised IndexError or UnicodeDecodeError on some noise."""
    rng = np.random.default_rng(0)
    for index in range(40):
        path = tmp_path / f"noise_{index}.pt"
        path.write_bytes(rng.integers(0, 256, int(rng.integers(1, 4096)), dtype=np.uint8).tobytes())
        with pytest.raises(CheckpointError, match="damaged or not a PyTorch file"):
            load_fused(path)


@pytest.mark.parametrize(
    "field,value",
    [("resolution", "sixty-four"), ("meta", 7), ("meta", {"centre_prior": {"sigma": 0.2, "power": 1}}),
     ("meta", {"centre_prior": {"sigma": [0.2, 0.2], "power": -1}})],
)  # fmt: skip
def test_an_unreadable_resolution_or_meta_is_a_checkpoint_error(tmp_path, field, value):
    """Regression: these raised ValueError / TypeError instead of naming the file."""
    path = tmp_path / "m.pt"
    save_fused(SKDModel(), path, resolution=64)
    payload = torch.load(path, weights_only=True)
    payload[field] = value
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="resolution or meta") as failure:
        load_fused(path)
    assert str(path) in str(failure.value)


def test_the_checkpoints_centre_prior_weights_its_maps_and_only_its(tmp_path):
    prior = CentrePrior(0.2, 0.25, 0.5)
    weights = prior.weights(32, 48)
    assert weights.shape == (32, 48) and weights.max() <= 1.0
    # a centred Gaussian: highest at the centre, symmetric, its exponent scaled by the power
    assert np.unravel_index(np.argmax(weights), weights.shape) in {(15, 23), (15, 24), (16, 23), (16, 24)}
    np.testing.assert_allclose(weights, weights[::-1, ::-1], rtol=1e-6)
    np.testing.assert_allclose(weights, CentrePrior(0.2, 0.25, 1.0).weights(32, 48) ** 0.5, rtol=1e-5)
    assert CentrePrior.of({}) is None and CentrePrior.of({"centre_prior": prior.as_meta()}) == prior

    model = SKDModel()
    plain, with_prior = tmp_path / "plain.pt", tmp_path / "prior.pt"
    save_fused(model, plain, resolution=32)
    save_fused(model, with_prior, resolution=32, meta={"centre_prior": prior.as_meta()})
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (40, 60, 3), dtype=np.uint8) for _ in range(2)]
    maps = {}
    for name, path, use in (("plain", plain, True), ("prior", with_prior, True), ("off", with_prior, False)):
        estimator = SaliencyEstimator(weights=path, device="cpu", backend="eager", centre_prior=use)
        pipeline = SaliencyPipeline(estimator)
        maps[name] = [pipeline.step(frame, i, "cam").saliency for i, frame in enumerate(frames)][-1]
    np.testing.assert_allclose(maps["prior"], maps["plain"] * prior.weights(32, 32), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(maps["off"], maps["plain"])
