"""Where saliency videos live on disk: one ``Source`` class per layout, all with the same interface.

A source lists its videos (``VideoInfo``: name, split, category, frame count, whether density and
fixation maps exist) and reads single frames and maps at their original resolution:

* ``read_frame(video, index)``    -> H x W x 3 uint8 **BGR**
* ``read_density(video, index)``  -> H x W float32 in [0, 1] (integer images divided by their maximum value)
* ``read_fixation(video, index)`` -> H x W bool (True where an observer fixated)
* ``iter_video(video)``           -> (frame, density or None, fixation or None) for every frame in order;
  the efficient way to decode a whole video (the frame cache uses it).

``index`` is always 0-based, whatever the file numbering (AVS1K's ``<video>_00001.png`` is frame 0).

Layouts (``open_source`` picks one by looking at the folder, or take ``layout=``):

* ``avs1k``: ``{root}/{trainSet,validSet,testSet}/{Frame,Ground}/<video>/<video>_%05d.png``, numbered
  from 1 with no gaps; ``Ground`` holds continuous density maps; a fixation folder beside them
  (``Fixation``, ``Fixations``, ``Fix`` or ``fixation``) with binary fixation maps of the same names is
  used when present, and then every video of that split must have its fixation maps. The category is
  the video-name prefix (``Building_``, ``Human_``, ``Vehicle_``, ``Others_``; anything else is
  ``Unknown``). Splits are named ``train``, ``val``, ``test``.
* ``dhf1k``: ``{root}/annotation/NNNN/{images,maps,fixation}/NNNN.png`` (frames numbered from 1); the
  split follows the DHF1K convention by video number: 1-600 train, 601-700 val, 701-1000 test.
  ``fixation`` is optional per video; category ``Unknown``.
* ``frames``: unlabeled frame folders, either ``{root}/<video>/<images>`` or ``{root}/<images>`` (one
  video named after the folder); images sorted by the numbers in their names.
* ``video``: unlabeled video files (mp4, avi, mov, mkv, ...) decoded with OpenCV: ``root`` is one file
  or a folder of them. The frame count is the container's; a file that decodes fewer frames raises a
  ``DatasetError`` naming the video and the frame.
* ``rosbag``: an image topic of a rosbag2 (sqlite3 or mcap) or ROS 1 bag, read with
  ``skd_training.data.rosbag.BagReader``; optional density/fixation image topics with the same message count make it
  labeled. ``root`` is one bag or a folder of bags; each bag is one video.

Unlabeled sources put every video in the split ``all``. Every problem raises ``DatasetError`` naming
the video and the file (missing folders, frame/map count mismatches, gaps in the numbering, empty or
unreadable files, truncated JPEGs).

All layouts share one module on purpose: they share the interface, the checks and the error messages, and a
new layout is one more ``Source`` subclass here plus one line in ``LAYOUTS``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from skd_training.data.rosbag import BagError, BagReader

log = logging.getLogger(__name__)

CATEGORIES = ("Building", "Human", "Vehicle", "Others")
UNKNOWN_CATEGORY = "Unknown"
AVS1K_SPLITS = {"train": "trainSet", "val": "validSet", "test": "testSet"}
FIXATION_FOLDERS = ("Fixation", "Fixations", "Fix", "fixation")
UNLABELED_SPLIT = "all"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
BAG_SUFFIXES = (".db3", ".mcap", ".bag")
LAYOUTS = ("avs1k", "dhf1k", "frames", "video", "rosbag")
# DHF1K's published split by video number (annotations of 701-1000 are withheld in the original release)
DHF1K_TRAIN_LAST, DHF1K_VAL_LAST = 600, 700


class DatasetError(ValueError):
    """A dataset on disk is incomplete or damaged; the message names the video and the file."""


def category_from_name(name: str) -> str:
    """The AVS1K category from a video name's prefix (``Vehicle_00083`` -> ``Vehicle``), else ``Unknown``."""
    prefix = name.split("_", 1)[0]
    for category in CATEGORIES:
        if prefix.lower() == category.lower():
            return category
    return UNKNOWN_CATEGORY


@dataclass(frozen=True)
class VideoInfo:
    """One video of a source: ``num_frames`` frames, maps when ``has_density``/``has_fixation``."""

    name: str
    split: str
    category: str
    num_frames: int
    has_density: bool
    has_fixation: bool


def _numbers(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


def _images_in(folder: Path) -> list[Path]:
    """Image files of ``folder`` sorted by the numbers in their names (then by name)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: (_numbers(p.stem), p.name))


def read_image(path: Path, flags: int, video: str, index: int, what: str) -> np.ndarray:
    """cv2-decoded image, or DatasetError naming the video, the frame and the file."""
    where = f"video {video!r}, frame {index}: {what} {path}"
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DatasetError(f"{where} cannot be read: {exc}") from exc
    if data.size == 0:
        raise DatasetError(f"{where} is empty")
    # libjpeg decodes a truncated JPEG with a warning instead of failing; its end-of-image marker tells
    if path.suffix.lower() in (".jpg", ".jpeg") and b"\xff\xd9" not in data[-64:].tobytes():
        raise DatasetError(f"{where} is truncated (no JPEG end-of-image marker)")
    image = cv2.imdecode(data, flags)
    if image is None:
        raise DatasetError(f"{where} is not a readable image (truncated or damaged?)")
    return image


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    return image


def as_density(image: np.ndarray) -> np.ndarray:
    """A stored density image (grey/colour, 8/16-bit or float) -> H x W float32 in [0, 1]."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / float(np.iinfo(image.dtype).max)
    return np.clip(image.astype(np.float32), 0.0, 1.0)


def as_fixation(image: np.ndarray) -> np.ndarray:
    """A stored fixation image -> H x W bool (any nonzero channel is a fixation)."""
    return image.any(axis=2) if image.ndim == 3 else image != 0


class Source:
    """The interface every layout implements (see the module docstring)."""

    layout = ""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.videos: list[VideoInfo] = []

    # -- listing ---------------------------------------------------------------------------------------
    @property
    def splits(self) -> list[str]:
        return sorted({v.split for v in self.videos})

    def video(self, name: str) -> VideoInfo:
        for info in self.videos:
            if info.name == name:
                return info
        raise DatasetError(f"{self.layout} dataset {self.root} has no video {name!r}")

    @property
    def key(self) -> str:
        """A short name for this source, unique per layout and root (cache folders use it)."""
        digest = hashlib.sha1(f"{self.layout}:{self.root.resolve()}".encode()).hexdigest()[:10]
        return f"{self.layout}-{self.root.name or 'root'}-{digest}"

    def fingerprint(self, video: str) -> str:
        """Changes whenever the video's files change (names, sizes, modification times)."""
        raise NotImplementedError

    # -- reading ---------------------------------------------------------------------------------------
    def read_frame(self, video: str, index: int) -> np.ndarray:
        raise NotImplementedError

    def read_density(self, video: str, index: int) -> np.ndarray:
        raise DatasetError(f"video {video!r} of the {self.layout} dataset {self.root} has no density maps")

    def read_fixation(self, video: str, index: int) -> np.ndarray:
        raise DatasetError(f"video {video!r} of the {self.layout} dataset {self.root} has no fixation maps")

    def iter_video(self, video: str) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
        info = self.video(video)
        for index in range(info.num_frames):
            density = self.read_density(video, index) if info.has_density else None
            fixation = self.read_fixation(video, index) if info.has_fixation else None
            yield self.read_frame(video, index), density, fixation

    def check_index(self, video: str, index: int) -> VideoInfo:
        info = self.video(video)
        if not 0 <= index < info.num_frames:
            raise DatasetError(f"video {video!r} has frames 0..{info.num_frames - 1}, asked for frame {index}")
        return info

    def __repr__(self) -> str:
        frames = sum(v.num_frames for v in self.videos)
        return f"{type(self).__name__}({str(self.root)!r}: {len(self.videos)} videos, {frames} frames)"


@dataclass
class _FileVideo:
    info: VideoInfo
    frames: list[Path]
    densities: list[Path] = field(default_factory=list)
    fixations: list[Path] = field(default_factory=list)


class _FileSource(Source):
    """A source whose frames and maps are image files."""

    def __init__(self, root: str | Path):
        super().__init__(root)
        self._files: dict[str, _FileVideo] = {}

    def _add(self, entry: _FileVideo) -> None:
        if entry.info.name in self._files:
            raise DatasetError(f"video name {entry.info.name!r} appears twice in {self.root}")
        self._files[entry.info.name] = entry
        self.videos.append(entry.info)

    def fingerprint(self, video: str) -> str:
        entry = self._files[self.video(video).name]
        digest = hashlib.sha1()
        for path in (*entry.frames, *entry.densities, *entry.fixations):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return digest.hexdigest()

    def files(self, video: str, index: int) -> tuple[Path, Path | None, Path | None]:
        """(frame, density, fixation) paths of one frame (None where the video has no such map)."""
        self.check_index(video, index)
        entry = self._files[video]
        density = entry.densities[index] if entry.densities else None
        fixation = entry.fixations[index] if entry.fixations else None
        return entry.frames[index], density, fixation

    def read_frame(self, video: str, index: int) -> np.ndarray:
        path = self.files(video, index)[0]
        return _as_bgr(read_image(path, cv2.IMREAD_UNCHANGED, video, index, "frame"))

    def read_density(self, video: str, index: int) -> np.ndarray:
        path = self.files(video, index)[1]
        if path is None:
            return super().read_density(video, index)
        return as_density(read_image(path, cv2.IMREAD_UNCHANGED, video, index, "density map"))

    def read_fixation(self, video: str, index: int) -> np.ndarray:
        path = self.files(video, index)[2]
        if path is None:
            return super().read_fixation(video, index)
        return as_fixation(read_image(path, cv2.IMREAD_UNCHANGED, video, index, "fixation map"))


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DatasetError(f"missing {what}: {path}")


def _matched_maps(video: str, frames: list[Path], folder: Path, what: str) -> list[Path]:
    """The map file for each frame, matched by file stem; raises naming the first unmatched file."""
    _require_dir(folder, f"{what} folder of video {video!r}")
    maps = {p.stem: p for p in _images_in(folder)}
    available = len(maps)
    matched = []
    for frame in frames:
        if frame.stem not in maps:
            raise DatasetError(
                f"video {video!r}: frame {frame.name} has no {what} ({folder / (frame.stem + '.png')} is missing); "
                f"{len(frames)} frames but {available} {what}s"
            )
        matched.append(maps.pop(frame.stem))
    if maps:
        extra = sorted(maps)[0]
        raise DatasetError(
            f"video {video!r}: {what} {maps[extra]} has no frame (no {extra}.* in {frames[0].parent}); "
            f"{len(frames)} frames but {available} {what}s"
        )
    return matched


def _check_numbering(video: str, frames: list[Path], first: int = 1) -> None:
    """Frames must be numbered first, first+1, ... by the last number in their names, with no gaps."""
    for expected, path in enumerate(frames, start=first):
        digits = re.findall(r"\d+", path.stem)
        if not digits or int(digits[-1]) != expected:
            # the name the missing frame would have, in the numbering style of its neighbour
            head, number, tail = path.name.rpartition(digits[-1]) if digits else ("", "", path.name)
            missing = path.with_name(f"{head}{expected:0{len(number)}d}{tail}")
            raise DatasetError(
                f"video {video!r}: frame {expected} is missing (expected {missing}, found {path.name} next)"
            )


class AVS1KLayout(_FileSource):
    """``{root}/{trainSet,validSet,testSet}/{Frame,Ground[,Fixation]}/<video>/<video>_%05d.png``."""

    layout = "avs1k"

    def __init__(self, root: str | Path):
        super().__init__(root)
        _require_dir(self.root, "AVS1K dataset root")
        present = {split: self.root / folder for split, folder in AVS1K_SPLITS.items() if (self.root / folder).is_dir()}
        if not present:
            wanted = ", ".join(AVS1K_SPLITS.values())
            raise DatasetError(f"AVS1K dataset {self.root} has none of the split folders {wanted}")
        for split, split_dir in present.items():
            frame_root, ground_root = split_dir / "Frame", split_dir / "Ground"
            _require_dir(frame_root, f"frame folder of split {split_dir.name}")
            _require_dir(ground_root, f"density-map folder of split {split_dir.name}")
            fixation_root = next((split_dir / f for f in FIXATION_FOLDERS if (split_dir / f).is_dir()), None)
            for video_dir in sorted(p for p in frame_root.iterdir() if p.is_dir()):
                video = video_dir.name
                frames = _images_in(video_dir)
                if not frames:
                    raise DatasetError(f"video {video!r}: no frames in {video_dir}")
                _check_numbering(video, frames)
                densities = _matched_maps(video, frames, ground_root / video, "density map")
                fixations = []
                if fixation_root is not None:
                    fixations = _matched_maps(video, frames, fixation_root / video, "fixation map")
                info = VideoInfo(video, split, category_from_name(video), len(frames), True, bool(fixations))
                self._add(_FileVideo(info, frames, densities, fixations))
            extra = sorted(
                {p.name for p in ground_root.iterdir() if p.is_dir()} - {p.name for p in frame_root.iterdir()}
            )
            if extra:
                raise DatasetError(f"density maps of video {extra[0]!r} in {ground_root / extra[0]} have no frames")
        if not self.videos:
            raise DatasetError(f"AVS1K dataset {self.root} has no videos")


def dhf1k_split(number: int) -> str:
    if number <= DHF1K_TRAIN_LAST:
        return "train"
    return "val" if number <= DHF1K_VAL_LAST else "test"


class DHF1KLayout(_FileSource):
    """``{root}/annotation/NNNN/{images,maps,fixation}/NNNN.png``."""

    layout = "dhf1k"

    def __init__(self, root: str | Path):
        super().__init__(root)
        annotation = self.root / "annotation"
        _require_dir(annotation, "DHF1K annotation folder")
        for video_dir in sorted(p for p in annotation.iterdir() if p.is_dir()):
            video = video_dir.name
            if not video.isdigit():
                raise DatasetError(f"DHF1K video folders are numbers, found {video_dir}")
            _require_dir(video_dir / "images", f"frame folder of video {video!r}")
            frames = _images_in(video_dir / "images")
            if not frames:
                raise DatasetError(f"video {video!r}: no frames in {video_dir / 'images'}")
            _check_numbering(video, frames)
            densities = _matched_maps(video, frames, video_dir / "maps", "density map")
            fixations = []
            if (video_dir / "fixation").is_dir():
                fixations = _matched_maps(video, frames, video_dir / "fixation", "fixation map")
            info = VideoInfo(video, dhf1k_split(int(video)), UNKNOWN_CATEGORY, len(frames), True, bool(fixations))
            self._add(_FileVideo(info, frames, densities, fixations))
        if not self.videos:
            raise DatasetError(f"DHF1K dataset {self.root} has no videos in {annotation}")


class FrameFolders(_FileSource):
    """Unlabeled frame folders: ``{root}/<video>/<images>`` or ``{root}/<images>``."""

    layout = "frames"

    def __init__(self, root: str | Path):
        super().__init__(root)
        _require_dir(self.root, "frame folder")
        own = _images_in(self.root)
        folders = [(self.root.name, own)] if own else []
        folders += [(p.name, _images_in(p)) for p in sorted(self.root.iterdir()) if p.is_dir()]
        for video, frames in folders:
            if frames:
                self._add(
                    _FileVideo(
                        VideoInfo(video, UNLABELED_SPLIT, category_from_name(video), len(frames), False, False), frames
                    )
                )
        if not self.videos:
            raise DatasetError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {self.root} or its sub-folders")


class _SequentialSource(Source):
    """A source that decodes frames in order (video files, bags): random access re-reads from the start
    when it has to go back, so read through ``iter_video`` or the frame cache for speed."""

    def __init__(self, root: str | Path):
        super().__init__(root)
        self._paths: dict[str, Path] = {}
        # (video, index of the next frame to decode, decoder, the last decoded item)
        self._cursor: tuple[str, int, Iterator, tuple | None] | None = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cursor"] = None  # decoders hold open files; a DataLoader worker opens its own
        return state

    def fingerprint(self, video: str) -> str:
        path = self._paths[self.video(video).name]
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        digest = hashlib.sha1()
        for item in files:
            stat = item.stat()
            digest.update(f"{item.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return digest.hexdigest()

    def _decode(self, video: str) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
        raise NotImplementedError

    def iter_video(self, video: str):
        info = self.video(video)
        decoded = 0
        for item in self._decode(video):
            if decoded == info.num_frames:  # frames past the announced count are left out
                return
            decoded += 1
            yield item
        if decoded < info.num_frames:
            raise DatasetError(
                f"video {video!r} ({self._paths[video]}): decoding stopped at frame {decoded}, "
                f"the file announces {info.num_frames} frames (truncated?)"
            )

    def _item(self, video: str, index: int):
        """The decoded (frame, density, fixation) of one frame; consecutive requests decode once."""
        self.check_index(video, index)
        if self._cursor is not None and self._cursor[0] == video and self._cursor[1] == index + 1:
            return self._cursor[3]
        if self._cursor is None or self._cursor[0] != video or self._cursor[1] > index:
            self._cursor = (video, 0, self.iter_video(video), None)
        _, position, decoder, item = self._cursor
        while position <= index:
            item = next(decoder)
            position += 1
        self._cursor = (video, position, decoder, item)
        return item

    def read_frame(self, video: str, index: int) -> np.ndarray:
        return self._item(video, index)[0]

    def read_density(self, video: str, index: int) -> np.ndarray:
        if not self.video(video).has_density:
            return super().read_density(video, index)
        return self._item(video, index)[1]

    def read_fixation(self, video: str, index: int) -> np.ndarray:
        if not self.video(video).has_fixation:
            return super().read_fixation(video, index)
        return self._item(video, index)[2]


class VideoFiles(_SequentialSource):
    """Unlabeled video files (one file, or a folder of them) decoded with OpenCV."""

    layout = "video"

    def __init__(self, root: str | Path):
        super().__init__(root)
        if self.root.is_file():
            files = [self.root]
        else:
            _require_dir(self.root, "video file or folder")
            files = sorted(p for p in self.root.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
            if not files:
                raise DatasetError(f"no video files ({', '.join(VIDEO_EXTENSIONS)}) in {self.root}")
        for path in files:
            capture = cv2.VideoCapture(str(path))
            try:
                if not capture.isOpened():
                    raise DatasetError(f"video {path.stem!r}: OpenCV cannot open {path}")
                count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            finally:
                capture.release()
            if count <= 0:
                raise DatasetError(f"video {path.stem!r}: {path} reports no frames")
            if path.stem in self._paths:
                raise DatasetError(f"two videos named {path.stem!r} in {self.root}")
            self._paths[path.stem] = path
            self.videos.append(
                VideoInfo(path.stem, UNLABELED_SPLIT, category_from_name(path.stem), count, False, False)
            )

    def _decode(self, video: str):
        capture = cv2.VideoCapture(str(self._paths[video]))
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield frame, None, None
        finally:
            capture.release()


class RosbagSource(_SequentialSource):
    """An image topic of one bag, or of every bag in a folder (one video per bag), with optional
    ground-truth topics (mono8/16 density images; fixation images, nonzero = fixated)."""

    layout = "rosbag"

    def __init__(
        self,
        root: str | Path,
        topic: str,
        density_topic: str | None = None,
        fixation_topic: str | None = None,
    ):
        super().__init__(root)
        self.topic, self.density_topic, self.fixation_topic = topic, density_topic, fixation_topic
        self._cut_short: set[str] = set()  # videos whose bag was cut short: their frames are those before the cut
        bags = [self.root] if _is_bag(self.root) else []
        if not bags:
            _require_dir(self.root, "bag or folder of bags")
            bags = sorted(p for p in self.root.iterdir() if _is_bag(p))
            if not bags:
                raise DatasetError(f"no rosbags (rosbag2 folders, {', '.join(BAG_SUFFIXES)}) in {self.root}")
        for path in bags:
            name = path.stem if path.is_file() else path.name
            try:
                with BagReader(path) as bag:
                    bag.check_topic(topic)
                    count = bag.count(topic)
                    if bag.recovered:  # an mcap bag cut short: the video is the frames recorded before the cut
                        log.warning("video %r: %s", name, bag.recovered)
                        self._cut_short.add(name)
                    for extra in (density_topic, fixation_topic):
                        if extra is not None:
                            bag.check_topic(extra)
                            if bag.count(extra) != count:
                                raise DatasetError(
                                    f"video {name!r}: bag {path} has {count} messages on {topic} "
                                    f"but {bag.count(extra)} on {extra}"
                                )
            except BagError as exc:
                raise DatasetError(f"video {name!r}: {exc}") from exc
            if count == 0:
                raise DatasetError(f"video {name!r}: bag {path} has no messages on {topic}")
            self._paths[name] = path
            labeled = density_topic is not None
            self.videos.append(
                VideoInfo(name, UNLABELED_SPLIT, category_from_name(name), count, labeled, fixation_topic is not None)
            )

    @property
    def key(self) -> str:
        digest = hashlib.sha1(f"{self.root.resolve()}:{self.topic}".encode()).hexdigest()[:10]
        return f"rosbag-{self.root.name}-{digest}"

    def _decode(self, video: str):
        path = self._paths[video]
        colors = {self.topic: "bgr8"}
        colors.update({t: None for t in (self.density_topic, self.fixation_topic) if t is not None})
        pending: dict[str, np.ndarray] = {}
        delivered = 0
        try:
            with BagReader(path) as bag:
                # ground truth travels on its own topics; an image is complete once every topic has delivered
                for topic, frame in bag.image_messages(colors):
                    if topic in pending:
                        raise DatasetError(
                            f"video {video!r}: bag {path} has two {topic} messages (index {frame.index}) "
                            "before the other topics' messages of the same frame"
                        )
                    pending[topic] = frame.image
                    if len(pending) == len(colors):
                        density = as_density(pending[self.density_topic]) if self.density_topic else None
                        fixation = as_fixation(pending[self.fixation_topic]) if self.fixation_topic else None
                        yield pending[self.topic], density, fixation
                        pending = {}
                        delivered += 1
        except BagError as exc:
            if video in self._cut_short and delivered == self.video(video).num_frames:  # the cut, after them all
                return
            raise DatasetError(f"video {video!r}: {exc}") from exc


def _is_bag(path: Path) -> bool:
    return (path.is_dir() and (path / "metadata.yaml").is_file()) or (
        path.is_file() and path.suffix.lower() in BAG_SUFFIXES
    )


def detect_layout(root: str | Path) -> str:
    """The layout of ``root`` from its folder structure (see the module docstring)."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"dataset path {root} does not exist")
    if _is_bag(root):
        return "rosbag"
    if root.is_file():
        if root.suffix.lower() in VIDEO_EXTENSIONS:
            return "video"
        raise DatasetError(f"{root} is neither a video file ({', '.join(VIDEO_EXTENSIONS)}) nor a bag")
    if any((root / folder).is_dir() for folder in AVS1K_SPLITS.values()):
        return "avs1k"
    if (root / "annotation").is_dir():
        return "dhf1k"
    children = list(root.iterdir())
    if any(_is_bag(p) for p in children):
        return "rosbag"
    if any(p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS for p in children):
        return "video"
    return "frames"


def open_source(
    root: str | Path,
    layout: str = "auto",
    topic: str | None = None,
    density_topic: str | None = None,
    fixation_topic: str | None = None,
) -> Source:
    """The ``Source`` for ``root``; ``layout`` one of ``LAYOUTS`` or ``auto``; ``topic`` (and optional
    ground-truth topics) for bags."""
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "rosbag":
        if topic is None:
            raise DatasetError(f"{root} is a rosbag: name the image topic to read (topic=...)")
        return RosbagSource(root, topic, density_topic, fixation_topic)
    classes = {"avs1k": AVS1KLayout, "dhf1k": DHF1KLayout, "frames": FrameFolders, "video": VideoFiles}
    if layout not in classes:
        raise ValueError(f"layout must be 'auto' or one of {LAYOUTS}, got {layout!r}")
    return classes[layout](root)
