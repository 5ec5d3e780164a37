"""skd_ros.core.tracking: ROI ids over a generated clip of saliency maps (through the real ROI extraction), the
hysteresis that keeps an id over missed frames, and new ids for new regions and after a reset."""

import numpy as np
import pytest

from skd_ros.core.postprocess import ROI, Peak, extract_rois
from skd_ros.core.roi_record import roi_peaks
from skd_ros.core.tracking import RoiTracker, TrackParams

WIDTH, HEIGHT, CELLS = 320, 240, 64


def saliency_map(blobs) -> np.ndarray:
    """A 64 x 64 map with a Gaussian blob at each (column, row) in model cells."""
    rows, cols = np.mgrid[0:CELLS, 0:CELLS]
    saliency = np.zeros((CELLS, CELLS))
    for u, v in blobs:
        saliency = np.maximum(saliency, np.exp(-((cols - u) ** 2 + (rows - v) ** 2) / (2 * 2.5**2)))
    return saliency


def track_frame(tracker, blobs) -> list[tuple[int, int, ROI]]:
    """(id, age, roi) for each ROI the node would publish for this map, best first."""
    saliency = saliency_map(blobs)
    rois = extract_rois(saliency, WIDTH, HEIGHT)
    peaks = roi_peaks(saliency, rois, WIDTH, HEIGHT)
    return [(ident, age, roi) for (ident, age), roi in zip(tracker.update(rois, peaks), rois, strict=True)]


def id_at(frame, u, v) -> int:
    """The id of the ROI whose box holds model cell (u, v)."""
    x, y = (u + 0.5) * WIDTH / CELLS, (v + 0.5) * HEIGHT / CELLS
    (ident,) = [i for i, _, r in frame if r.x <= x <= r.x + r.width and r.y <= y <= r.y + r.height]
    return ident


def test_a_moving_region_keeps_its_id_and_a_new_one_gets_a_new_id():
    tracker = RoiTracker(TrackParams(min_iou=0.3, max_missed=2))
    mover = [(8 + 2 * i, 14 + i // 2) for i in range(24)]  # two cells right and half a cell down per frame
    first = track_frame(tracker, [mover[0]])
    ((mover_id, age, _),) = first
    assert age == 1
    newcomer_id = None
    for index in range(1, 24):
        blobs = [mover[index]] + ([(15, 52)] if index >= 10 else [])
        frame = track_frame(tracker, blobs)
        assert id_at(frame, *mover[index]) == mover_id, f"frame {index}: the moving region changed its id"
        assert dict((i, a) for i, a, _ in frame)[mover_id] == index + 1  # its age counts every frame since
        if index == 10:
            newcomer_id = id_at(frame, 15, 52)
            assert newcomer_id not in (mover_id, 0), "a region that appears gets a new id"
        if index > 10:
            assert id_at(frame, 15, 52) == newcomer_id
    assert len({ident for ident, *_ in frame}) == 2


def test_a_region_missed_for_a_few_frames_keeps_its_id_and_one_gone_longer_gets_a_new_one():
    tracker = RoiTracker(TrackParams(min_iou=0.3, max_missed=2))
    ((steady, *_),) = track_frame(tracker, [(30, 30)])
    track_frame(tracker, [(31, 30)])
    assert track_frame(tracker, []) == []  # faded below the threshold for two frames
    assert track_frame(tracker, []) == []
    ((back, age, _),) = track_frame(tracker, [(32, 31)])
    assert back == steady and age == 5  # the frames it was missed count towards its age
    for _ in range(3):  # gone for longer than max_missed
        track_frame(tracker, [])
    ((later, age, _),) = track_frame(tracker, [(32, 31)])
    assert later not in (steady, 0) and age == 1


def test_reset_gives_new_ids_and_ids_are_never_reused():
    tracker = RoiTracker()
    before = {ident for ident, *_ in track_frame(tracker, [(15, 15), (45, 40)])}
    tracker.reset()
    after = {ident for ident, *_ in track_frame(tracker, [(15, 15), (45, 40)])}
    assert len(before) == len(after) == 2 and not before & after


def test_a_region_that_moved_or_grew_beyond_its_overlap_keeps_its_id_through_its_peak():
    tracker = RoiTracker(TrackParams(min_iou=0.5, max_missed=0))
    small = ROI(100, 100, 10, 10, 0.5)
    (first,) = tracker.update([small], [Peak(105, 105, 1.0)])
    grown = ROI(60, 60, 80, 80, 0.5)  # IoU 0.016, but the peak stayed put
    (second,) = tracker.update([grown], [Peak(104, 106, 1.0)])
    assert second[0] == first[0]
    moved = ROI(110, 110, 80, 80, 0.5)  # IoU 0.4, the peak 50 px on: within half the diagonal (56.6)
    (third,) = tracker.update([moved], [Peak(144, 146, 1.0)])
    assert third[0] == first[0]
    elsewhere = ROI(260, 10, 80, 80, 0.5)  # no overlap, the peak 170 px away: another region
    (fourth,) = tracker.update([elsewhere], [Peak(300, 50, 1.0)])
    assert fourth[0] != first[0]


def test_two_regions_each_keep_their_own_id_when_they_swap_rank():
    tracker = RoiTracker()
    a, b = ROI(10, 10, 20, 20, 0.6), ROI(200, 150, 20, 20, 0.3)
    ids = tracker.update([a, b], [Peak(20, 20, 1.0), Peak(210, 160, 0.5)])
    swapped = tracker.update([b, a], [Peak(210, 160, 1.0), Peak(20, 20, 0.5)])  # b is now the best
    assert [ident for ident, _ in swapped] == [ids[1][0], ids[0][0]]


def test_track_parameters_are_checked():
    with pytest.raises(ValueError, match="min_iou"):
        TrackParams(min_iou=0.0)
    with pytest.raises(ValueError, match="max_missed"):
        TrackParams(max_missed=-1)
    with pytest.raises(ValueError, match="one peak per ROI"):
        RoiTracker().update([ROI(0, 0, 1, 1, 1.0)], [])
