"""The child processes of skd-bench's node runs: the camera publisher, the measuring subscriber and a
relay node that does no work; the command measure runs one whole measurement by hand, printed as JSON.

``node_runs`` starts them as ``python -m skd_tools.bench.children <program>``; only these processes need ROS."""

from __future__ import annotations

import argparse
import array
import contextlib
import functools
import json
import signal
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image, PointCloud2

from skd_tools.bench.latencies import NODE_KINDS, run_as_dict
from skd_tools.bench.node_runs import NodeOptions, measure
from skd_tools.bench.transports import (
    DEFAULT_DOMAIN_ID,
    FRAME_ID,
    IMAGE_TOPIC,
    RELAY_OUTPUT_TOPIC,
    RESOLUTIONS,
    TRANSPORT_BY_NAME,
    camera_frames,
)


def _qos(reliability: str, depth: int):
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE,
    )


def _now_stamp():
    now = time.time_ns()
    return now, Time(sec=now // 1_000_000_000, nanosec=now % 1_000_000_000)


def camera_message(frame: np.ndarray, args: argparse.Namespace):
    """One frame as the camera sends it: JPEG-compressed, resized or raw in ``args.encoding``."""
    if args.resize:
        frame = cv2.resize(frame, tuple(args.resize), interpolation=cv2.INTER_AREA)
    if args.compressed:
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        msg = CompressedImage(format="jpeg")
        msg.data = array.array("B", jpeg.tobytes())
        return msg
    if args.encoding == "rgb8":
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    msg = Image(height=frame.shape[0], width=frame.shape[1], encoding=args.encoding, step=frame.shape[1] * 3)
    data = array.array("B")
    data.frombytes(frame.tobytes())
    msg.data = data
    return msg


def publish_main(args: argparse.Namespace) -> int:
    """Child: publish frames for warmup + seconds, then write every stamp and the timing to --out.

    A raw frame's message is built before the loop (only its stamp changes), so that the publisher's own copies
    do not compete with the processes measured; a JPEG or resized frame is encoded after its stamp, as a camera
    would (that time is the camera-side ms), unless --prepared encodes them before the loop too (then the
    camera-side ms is the mean cost measured there, not part of any latency)."""
    rclpy.init()
    node = rclpy.create_node("skd_bench_camera")
    publishers = [
        node.create_publisher(
            CompressedImage if args.compressed else Image,
            topic + ("/compressed" if args.compressed else ""),
            _qos(args.reliability, args.depth),
        )
        for topic in args.topic
    ]
    frames = camera_frames(args.width, args.height)
    camera_side_work = bool(args.resize or args.compressed)
    prepared, camera_side = None, []
    if args.prepared or not camera_side_work:
        prepared = []
        for frame in frames:
            t0 = time.perf_counter()
            prepared.append(camera_message(frame, args))
            camera_side.append(time.perf_counter() - t0)
    deadline = time.monotonic() + 60.0
    # discovery: do not publish into the void
    while sum(publisher.get_subscription_count() for publisher in publishers) < args.subscribers:
        if time.monotonic() > deadline:
            print(f"fewer than {args.subscribers} subscribers matched within 60 s", file=sys.stderr)
            return 1
        time.sleep(0.05)
    time.sleep(0.5)  # let the reverse direction of discovery settle too
    stamps = []
    start = time.monotonic()
    measure_from_ns = time.time_ns() + int(args.warmup * 1e9)
    end = start + args.warmup + args.seconds
    period = 1.0 / args.rate if args.rate > 0 else 0.0
    index = 0
    while (now := time.monotonic()) < end:
        if period:
            next_tick = start + index * period
            if now < next_tick:
                time.sleep(next_tick - now)
        stamp_ns, stamp = _now_stamp()
        if prepared is not None:
            msg = prepared[index % len(prepared)]
        else:
            t0 = time.perf_counter()
            msg = camera_message(frames[index % len(frames)], args)
            camera_side.append(time.perf_counter() - t0)
        msg.header.stamp = stamp
        msg.header.frame_id = FRAME_ID
        for publisher in publishers:  # several cameras: the same frame on each camera's topic
            publisher.publish(msg)
        stamps.append(stamp_ns)
        index += 1
    elapsed = time.monotonic() - start
    Path(args.out).write_text(
        json.dumps(
            {
                "stamps": stamps,
                "measure_from_ns": measure_from_ns,
                "publish_hz": len(stamps) / elapsed,
                "camera_side_ms": 1e3 * float(np.mean(camera_side)) if camera_side_work else 0.0,
            }
        )
    )
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


class StopSignal:
    """SIGINT or SIGTERM sets ``requested`` instead of ending the process, so that a child can stop
    spinning and write what it recorded (rclpy starts without its own handlers: see ``child_node``)."""

    def __init__(self):
        self.requested = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._request)

    def _request(self, signum, frame) -> None:
        self.requested = True


def child_node(name: str):
    """(rclpy node ``name``, its StopSignal) for a child process that runs until SIGINT/SIGTERM."""
    stop = StopSignal()
    rclpy.init(signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    return rclpy.create_node(name), stop


def spin_until_stopped(node, stop: StopSignal) -> None:
    while not stop.requested:
        rclpy.spin_once(node, timeout_sec=0.05)


def message_type(topic: str):
    """The type of a topic of the bench: the node's ROIs, a compressed image, or an image."""
    if topic.endswith("/rois"):
        return PointCloud2
    return CompressedImage if topic.endswith("/compressed") else Image


def subscribe_main(args: argparse.Namespace) -> int:
    """Child: record (stamp, receive time) of every message on --topic and each --also topic until SIGINT/SIGTERM,
    then write --out: per stamp, the time the last of them arrived (stamps missing on one topic are not
    received). Prints "ready" once subscribed (and, with --wait-publisher, once every topic has a publisher)."""
    node, stop = child_node("skd_bench_subscriber")
    topics = [args.topic, *args.also]
    arrivals: list[dict[int, int]] = [{} for _ in topics]

    def on_message(seen: dict[int, int], msg):
        seen[msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec] = time.time_ns()

    qos = _qos(args.reliability, args.depth)
    for topic, seen in zip(topics, arrivals, strict=True):
        node.create_subscription(message_type(topic), topic, functools.partial(on_message, seen), qos)
    if args.wait_publisher:
        while not stop.requested and any(node.count_publishers(topic) < 1 for topic in topics):
            rclpy.spin_once(node, timeout_sec=0.05)
    print("ready", flush=True)
    spin_until_stopped(node, stop)
    first, *others = arrivals
    received = [
        (stamp, max([now, *(seen[stamp] for seen in others)]))
        for stamp, now in first.items()
        if all(stamp in seen for seen in others)
    ]
    Path(args.out).write_text(json.dumps({"received": received}))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def relay_main(args: argparse.Namespace) -> int:
    """Child: a Python rclpy node that does nothing but answer each image (raw or compressed) with a 64x64 mono8
    image under the same header, from the subscription callback: what any rclpy node adds to a frame's latency
    before doing any work (a second process on the cores, one more DDS hop, rclpy's executor, the received
    message's deserialisation)."""
    node, stop = child_node("skd_bench_relay")
    qos = _qos(args.reliability, args.depth)
    publisher = node.create_publisher(Image, args.output, qos)
    pixels = array.array("B", bytes(64 * 64))

    def on_image(msg):
        answer = Image(header=msg.header, height=64, width=64, encoding="mono8", step=64)
        answer.data = pixels
        publisher.publish(answer)

    node.create_subscription(message_type(args.topic), args.topic, on_image, qos)
    print("ready", flush=True)
    spin_until_stopped(node, stop)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m skd_tools.bench.children", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pub = commands.add_parser("publish", help="child: the camera publisher")
    pub.add_argument("--topic", nargs="+", default=[IMAGE_TOPIC], help="one topic per camera")
    pub.add_argument("--width", type=int, default=1920)
    pub.add_argument("--height", type=int, default=1080)
    pub.add_argument("--rate", type=float, default=30.0, help="frames per second; 0 = as fast as possible")
    pub.add_argument("--seconds", type=float, default=8.0)
    pub.add_argument("--warmup", type=float, default=3.0)
    pub.add_argument("--compressed", action="store_true")
    pub.add_argument("--encoding", choices=("bgr8", "rgb8"), default="bgr8", help="of raw frames")
    pub.add_argument("--prepared", action="store_true", help="JPEG-encode or resize the frames before publishing")
    pub.add_argument("--resize", nargs=2, type=int, default=None, metavar=("WIDTH", "HEIGHT"))
    pub.add_argument("--subscribers", type=int, default=1, help="wait for this many matched subscriptions, in all")
    sub = commands.add_parser("subscribe", help="child: the measuring subscriber")
    sub.add_argument("--topic", default=IMAGE_TOPIC)
    sub.add_argument("--wait-publisher", action="store_true")
    sub.add_argument("--also", nargs="*", default=[], help="topics whose message must also arrive (the node's ROIs)")
    relay = commands.add_parser("relay", help="child: an rclpy node that answers each image without any work")
    relay.add_argument("--topic", default=IMAGE_TOPIC)
    relay.add_argument("--output", default=RELAY_OUTPUT_TOPIC)
    measure_cmd = commands.add_parser("measure", help="one measurement, printed as JSON")
    measure_cmd.add_argument(
        "--kind", choices=("bare", "relay", *NODE_KINDS), default="bare", help="all but bare: with bare at once"
    )
    measure_cmd.add_argument("--cameras", type=int, default=1, help="camera topics (batched, per-camera)")
    measure_cmd.add_argument("--transport", choices=sorted(TRANSPORT_BY_NAME), default="default")
    measure_cmd.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="1920x1080")
    measure_cmd.add_argument("--rate", type=float, default=30.0)
    measure_cmd.add_argument("--seconds", type=float, default=5.0)
    measure_cmd.add_argument("--backend", default="auto")
    measure_cmd.add_argument("--encoding", choices=("bgr8", "rgb8", "jpeg"), default="bgr8")
    measure_cmd.add_argument("--stage-times", action="store_true", help="the node records where each frame's time goes")
    measure_cmd.add_argument("--domain-id", type=int, default=DEFAULT_DOMAIN_ID)
    for child in (pub, sub):
        child.add_argument("--out", required=True)
    for child in (pub, sub, relay):
        child.add_argument("--reliability", choices=("best_effort", "reliable"), default="best_effort")
        child.add_argument("--depth", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "publish":
        return publish_main(args)
    if args.command == "subscribe":
        return subscribe_main(args)
    if args.command == "relay":
        return relay_main(args)
    result = measure(
        args.kind,
        TRANSPORT_BY_NAME[args.transport],
        args.resolution,
        args.rate,
        args.seconds,
        min(3.0, args.seconds),
        args.domain_id,
        NodeOptions(backend=args.backend),
        args.cameras,
        args.encoding,
        args.stage_times,
    )
    print(json.dumps(run_as_dict(result), indent=1))
    return 0 if not result.error else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
