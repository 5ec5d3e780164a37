"""What a node run moves between its processes: the ROS names it uses (its own domain and namespace),
the camera's frames, and the transport options a user has -- QoS reliability and depth, Fast DDS
shared-memory transport with segments big enough for a full HD frame (``config/fastdds_shm.xml``), Fast
DDS data sharing (``config/fastdds_datasharing.xml``), synchronous publication, JPEG (CompressedImage)
input, and a camera-side resized topic."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from skd_ros.node.env_file import read_env_file

DEFAULT_DOMAIN_ID = 77
NAMESPACE = "/skd_bench"
IMAGE_TOPIC = f"{NAMESPACE}/image"
NODE_OUTPUT_TOPIC = f"{NAMESPACE}/saliency_node/saliency"
RELAY_OUTPUT_TOPIC = f"{NAMESPACE}/relay"
FRAME_ID = "skd_bench_camera"
RESOLUTIONS = {"640x480": (640, 480), "1280x720": (1280, 720), "1920x1080": (1920, 1080), "3840x2160": (3840, 2160)}
CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


@dataclass(frozen=True)
class Transport:
    """One way of moving images between processes."""

    name: str
    description: str
    reliability: str = "best_effort"  # publisher and subscriber
    depth: int = 5
    profile: str | None = None  # Fast DDS XML profile under config/
    synchronous: bool = False  # RMW_FASTRTPS_PUBLICATION_MODE=SYNCHRONOUS
    compressed: bool = False  # JPEG CompressedImage on <topic>/compressed
    resize: tuple[int, int] | None = None  # camera-side resize to (width, height) before publishing
    extra_env: tuple[tuple[str, str], ...] = ()
    env_file: str | None = None  # KEY=VALUE lines under config/, for every process of the run

    def environment(self) -> dict[str, str]:
        env = dict(self.extra_env)
        if self.env_file:
            env.update(read_env_file(CONFIG_DIR / self.env_file))
        if self.profile:
            env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(CONFIG_DIR / self.profile)
        if self.synchronous:
            env["RMW_FASTRTPS_PUBLICATION_MODE"] = "SYNCHRONOUS"
        return env


TRANSPORTS = (
    Transport("default", "Fast DDS defaults, best-effort, depth 5 (the node's default input QoS)"),
    Transport("reliable-10", "reliable, depth 10 (rclpy's default QoS)", reliability="reliable", depth=10),
    Transport("best-effort-1", "best-effort, depth 1", depth=1),
    Transport("reliable-1", "reliable, depth 1", reliability="reliable", depth=1),
    Transport("sync", "synchronous publication (RMW_FASTRTPS_PUBLICATION_MODE=SYNCHRONOUS)", synchronous=True),
    Transport("shm", "Fast DDS shared memory with 32 MB segments (config/fastdds_shm.xml)", profile="fastdds_shm.xml"),
    Transport(
        "shm-sync",
        "shared memory (fastdds_shm.xml) + synchronous publication",
        profile="fastdds_shm.xml",
        synchronous=True,
    ),
    Transport(
        "shm-sync-heap",
        "shm-sync + glibc malloc keeping freed image buffers in the heap (config/malloc_image_buffers.env) in "
        "every process; it is the receivers that gain: no fresh 6 MB buffer to page-fault per frame",
        profile="fastdds_shm.xml",
        synchronous=True,
        env_file="malloc_image_buffers.env",
    ),
    Transport(
        "large-data",
        "Fast DDS LARGE_DATA built-in transports (FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA: TCP + SHM for data)",
        extra_env=(("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA"),),
    ),
    Transport(
        "datasharing",
        "fastdds_shm.xml + data sharing AUTOMATIC (config/fastdds_datasharing.xml); Fast DDS shares only bounded "
        "types, so for sensor_msgs/Image this is the shared-memory transport again",
        profile="fastdds_datasharing.xml",
    ),
    Transport("jpeg", "JPEG CompressedImage (quality 90), encoded camera-side after the stamp", compressed=True),
    Transport("resize-320", "camera-side resize to 320x180 (INTER_AREA) after the stamp", resize=(320, 180)),
)
TRANSPORT_BY_NAME = {t.name: t for t in TRANSPORTS}
LOSS_TOLERANCE = 0.005  # share of frames a transport option may lose and still be ranked by its latency


def camera_frames(width: int, height: int, count: int = 8) -> list[np.ndarray]:
    """A short loop of BGR frames: a textured background drifting, and a few objects moving."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (height // 40 + 2, width // 40 + 2, 3), dtype=np.uint8)
    background = cv2.resize(coarse, (width + 64, height + 64), interpolation=cv2.INTER_CUBIC)
    frames = []
    for i in range(count):
        frame = background[2 * i : 2 * i + height, 2 * i : 2 * i + width].copy()
        for k in range(3):
            x, y, size = (width // 4) * (k + 1) + 6 * i, height // 2 + 4 * i * (k - 1), max(8, width // 60)
            cv2.rectangle(frame, (x, y), (x + size, y + size), (40 + 80 * k, 200, 255 - 60 * k), -1)
        frames.append(frame)
    return frames
