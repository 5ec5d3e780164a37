import cv2
import numpy as np

from skd_tools import demo


def write_frames(folder, count=5, size=(96, 72)):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        frame = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), frame)


def test_demo_on_frame_folder_writes_video_sheet_and_maps(tmp_path, capsys):
    write_frames(tmp_path / "frames")
    out = tmp_path / "out"
    args = [
        "--input",
        str(tmp_path / "frames"),
        "--out",
        str(out),
        "--save-maps",
        "--resolution",
        "32",
        "--device",
        "cpu",
        "--backend",
        "eager",
    ]
    assert demo.main(args) == 0
    video = cv2.VideoCapture(str(out / "overlay.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    ok, first = video.read()
    assert ok and first.shape == (72, 96, 3)
    assert cv2.imread(str(out / "contact_sheet.png")) is not None
    maps = sorted(p.name for p in (out / "maps").iterdir())
    assert maps == [f"frame_{i:03d}.png" for i in range(5)]
    saliency = cv2.imread(str(out / "maps" / "frame_000.png"), cv2.IMREAD_UNCHANGED)
    assert saliency.shape == (72, 96) and saliency.dtype == np.uint8
    printed = capsys.readouterr().out
    assert "frames processed: 5" in printed and "model FPS" in printed and "end-to-end FPS" in printed


def test_demo_reports_missing_and_empty_inputs(tmp_path, capsys):
    assert demo.main(["--input", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert demo.main(["--input", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no image files" in capsys.readouterr().err
