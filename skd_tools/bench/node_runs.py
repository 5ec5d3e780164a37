"""One measurement in fresh processes, as a deployment runs: a camera publisher, optionally the saliency
node(s) (``python -m skd_ros.node.saliency_node``) or a do-nothing relay, and subscribers, on their own
ROS domain (``--domain-id``, default 77) so that other ROS traffic on the machine neither joins nor
disturbs it. The child programs are ``children``'s; this module starts, waits for and stops them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from skd_ros.node.stage_times import ENVIRONMENT as STAGE_TIMES_ENVIRONMENT
from skd_tools.bench.latencies import MULTI_CAMERA_KINDS, NODE_KINDS, Latencies, Run, camera_summary, pooled_cameras
from skd_tools.bench.stage_profile import stage_profile
from skd_tools.bench.transports import (
    IMAGE_TOPIC,
    NAMESPACE,
    NODE_OUTPUT_TOPIC,
    RELAY_OUTPUT_TOPIC,
    RESOLUTIONS,
    Transport,
)

CHILDREN = "skd_tools.bench.children"  # run with -m; named, not imported: it imports this module (`measure`)
NODE_START_TIMEOUT_S = 180.0
CHILD_START_TIMEOUT_S = 180.0  # starting Python + rclpy took over a minute on the loaded 2-core machine
DRAIN_S = 1.0


class Processes:
    """Child processes that are always stopped, by their own id, whatever happens."""

    def __init__(self):
        self.children: list[subprocess.Popen] = []

    def start(self, command: list[str], env: dict, **kwargs) -> subprocess.Popen:
        child = subprocess.Popen(command, env=env, text=True, **kwargs)
        self.children.append(child)
        return child

    def stop(self, child: subprocess.Popen, timeout: float = 15.0) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.stop(child)


class OutputWatcher:
    """Drains a child's text stream on a thread (a full pipe would block the child) and lets the caller
    wait for a line containing a given text."""

    def __init__(self, child: subprocess.Popen, stream):
        self.child, self.lines, self._changed = child, [], threading.Condition()
        threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of stream
            self._changed.notify_all()

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(needle in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or (self.lines and self.lines[-1] == ""):
                    tail = "".join(self.lines[-20:]).strip() or "(no output)"
                    raise RuntimeError(f"waited for {needle!r} from {' '.join(self.child.args[:4])}: {tail}")
                self._changed.wait(min(left, 0.5))


@dataclass
class NodeOptions:
    """The saliency node's parameters in the node runs and in the hot-path profile."""

    backend: str = "auto"
    cpu_threads: int = 2  # the node's default
    camera_threads: int = 1  # with several cameras in one node (1: the node's default, one camera after the other)
    weights: str = ""
    resolution: int = 0  # the checkpoint's own


# the shipped weights README and NODE.md suggest for several cameras in one node: skd-bench runs them beside the default
SEVERAL_CAMERAS_WEIGHTS = "skd_fused_64.pt"


def camera_topics(kind: str, cameras: int) -> list[str]:
    """The image topic of each camera: the node's ``image`` for one camera, ``cam<i>/image`` for runs of several."""
    return [f"{NAMESPACE}/cam{i}/image" for i in range(cameras)] if kind in MULTI_CAMERA_KINDS else [IMAGE_TOPIC]


def start_saliency_nodes(
    processes: Processes,
    env: dict,
    kind: str,
    cameras: int,
    transport: Transport,
    node: NodeOptions,
    stage_files: list[Path] | None = None,
) -> list[str]:
    """Start the saliency node(s) of a run and wait until they listen -> one ``~/saliency`` topic per camera.
    ``stage_files``: with one file per node, each node records its stage times there (``SKD_NODE_STAGE_TIMES``)."""
    names = [f"cam{i}" for i in range(cameras)]
    if kind == "per-camera":  # node i in namespace .../cam<i>, reading that camera's topic
        launches = [
            (f"{NAMESPACE}/{name}", ["-r", f"image:={topic}"])
            for name, topic in zip(names, camera_topics(kind, cameras), strict=True)
        ]
        outputs = [f"{NAMESPACE}/{name}/saliency_node/saliency" for name in names]
    elif kind == "batched":  # one node; camera <name> reads <name>/image in the node's namespace: the camera topics
        launches = [(NAMESPACE, ["-p", f"cameras:={','.join(names)}", "-p", f"camera_threads:={node.camera_threads}"])]
        outputs = [f"{NAMESPACE}/saliency_node/{name}/saliency" for name in names]
    else:
        launches = [(NAMESPACE, ["-r", f"image:={IMAGE_TOPIC}"])]
        outputs = [NODE_OUTPUT_TOPIC]
    for index, (namespace, extra) in enumerate(launches):
        ros_args = [
            "--ros-args",
            "-r", f"__ns:={namespace}",
            *extra,
            "-p", f"backend:={node.backend}",
            "-p", f"cpu_threads:={node.cpu_threads}",
            "-p", f"resolution:={node.resolution}",
            "-p", f"qos_reliability:={transport.reliability}",
            "-p", f"qos_depth:={transport.depth}",
            "-p", f"input_compressed:={'true' if transport.compressed else 'false'}",
        ]  # fmt: skip
        if node.weights:  # rcl cannot parse an empty override; the node's default is the shipped weights
            ros_args += ["-p", f"weights:={node.weights}"]
        node_env = {**env, STAGE_TIMES_ENVIRONMENT: str(stage_files[index])} if stage_files else env
        child = processes.start(
            [sys.executable, "-m", "skd_ros.node.saliency_node", *ros_args],
            node_env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        OutputWatcher(child, child.stderr).wait_for("active:", NODE_START_TIMEOUT_S)
    return outputs


def measure(
    kind: str,
    transport: Transport,
    resolution: str,
    rate: float,
    seconds: float,
    warmup: float,
    domain_id: int,
    node: NodeOptions,
    cameras: int = 1,
    encoding: str = "bgr8",
    stage_times: bool = False,
) -> Run:
    """One run in fresh processes (see ``Run``); a failure is recorded in ``Run.error``, not raised.

    ``encoding``: what the camera sends over ``transport``: raw ``bgr8`` or ``rgb8`` Images, or ``jpeg``
    CompressedImages encoded before publishing (``transport.compressed`` alone encodes each frame after its stamp,
    the camera-side cost). ``stage_times``: the saliency node(s) record where each frame's time goes
    (``Run.stages``)."""
    if cameras < 1 or (cameras > 1 and kind not in MULTI_CAMERA_KINDS):
        raise ValueError(
            f"only runs of kind {' and '.join(MULTI_CAMERA_KINDS)} take several cameras, the others one; "
            f"got kind {kind!r} with {cameras} camera(s)"
        )
    prepared = encoding == "jpeg"
    if prepared:
        transport = replace(transport, compressed=True)
    run = Run(kind=kind, transport=transport.name, resolution=resolution, rate=rate, cameras=cameras, encoding=encoding)
    width, height = RESOLUTIONS[resolution]
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), **transport.environment(), "PYTHONUNBUFFERED": "1"}
    qos = ["--reliability", transport.reliability, "--depth", str(transport.depth)]
    me = [sys.executable, "-m", CHILDREN]
    topics = camera_topics(kind, cameras)  # the publisher adds /compressed itself
    inputs = [topic + ("/compressed" if transport.compressed else "") for topic in topics]  # what arrives where
    processes = Processes()
    with tempfile.TemporaryDirectory(prefix="skd_bench_") as tmp:
        pub_out, bare_out = Path(tmp) / "pub.json", Path(tmp) / "bare.json"
        node_outs = [Path(tmp) / f"node{i}.json" for i in range(cameras)]
        node_count = cameras if kind == "per-camera" else 1
        stage_files = [Path(tmp) / f"stages{i}.json" for i in range(node_count)] if stage_times else None
        try:
            subscribers = []
            if kind in NODE_KINDS:
                outputs = start_saliency_nodes(processes, env, kind, cameras, transport, node, stage_files)
                # a frame is out when its map and its ROIs are (a planner reads the ROIs)
                subscribers += [
                    [topic, out, "--wait-publisher", "--also", topic.removesuffix("saliency") + "rois"]
                    for topic, out in zip(outputs, node_outs, strict=True)
                ]
            elif kind == "relay":
                relay = processes.start(
                    [*me, "relay", "--topic", inputs[0], "--output", RELAY_OUTPUT_TOPIC, *qos],
                    env,
                    stdout=subprocess.PIPE,
                )
                OutputWatcher(relay, relay.stdout).wait_for("ready", CHILD_START_TIMEOUT_S)
                subscribers.append([RELAY_OUTPUT_TOPIC, node_outs[0], "--wait-publisher"])
            subscribers.append([inputs[0], bare_out])
            for topic, out, *extra in subscribers:
                child = processes.start(
                    [*me, "subscribe", "--topic", topic, "--out", str(out), *qos, *extra], env, stdout=subprocess.PIPE
                )
                OutputWatcher(child, child.stdout).wait_for("ready", CHILD_START_TIMEOUT_S)
            # what subscribes to the camera topics: the bare subscriber and one subscription per camera
            # (the nodes' or the relay's)
            readers = 1 + (cameras if kind != "bare" else 0)
            publisher_args = [
                *me, "publish", "--topic", *topics, "--width", str(width), "--height", str(height),
                "--rate", str(rate), "--seconds", str(seconds), "--warmup", str(warmup), "--out", str(pub_out),
                "--subscribers", str(readers), *qos,
            ]  # fmt: skip
            if transport.compressed:
                publisher_args.append("--compressed")
            if prepared:
                publisher_args.append("--prepared")
            if encoding != "jpeg":
                publisher_args += ["--encoding", encoding]
            if transport.resize:
                publisher_args += ["--resize", *map(str, transport.resize)]
            publisher = processes.start(publisher_args, env)
            publisher.wait(timeout=warmup + seconds + 120.0)
            if publisher.returncode != 0:
                raise RuntimeError(f"the camera publisher failed (exit {publisher.returncode})")
            time.sleep(DRAIN_S)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            run.error = str(exc).splitlines()[0][:200]
            return run
        finally:
            processes.stop_all()  # subscribers write their files when stopped
        published = json.loads(pub_out.read_text())
        window = [s for s in published["stamps"] if s >= published["measure_from_ns"]]
        run.bare = Latencies.of(window, json.loads(bare_out.read_text())["received"])
        per_camera = (
            []
            if kind == "bare"
            else [Latencies.of(window, json.loads(out.read_text())["received"]) for out in node_outs]
        )
        if stage_files:
            written = [json.loads(path.read_text()) for path in stage_files if path.exists()]
            run.stages = stage_profile(written, window) if written else None
    run.published, run.publish_hz, run.camera_side_ms = (
        len(window),  # on each camera's topic
        published["publish_hz"],
        published["camera_side_ms"],
    )
    if per_camera:
        run.node = per_camera[0] if cameras == 1 else pooled_cameras(per_camera)
        run.per_camera = [camera_summary(lat) for lat in per_camera]
        # every camera got the same frames at the same moment: each output is compared with the bare subscriber's
        both = [
            lat.by_stamp[s] - run.bare.by_stamp[s] for lat in per_camera for s in lat.by_stamp if s in run.bare.by_stamp
        ]
        if both:
            run.overhead_p50_ms, run.overhead_p99_ms = float(np.median(both)), float(np.percentile(both, 99))
    return run
