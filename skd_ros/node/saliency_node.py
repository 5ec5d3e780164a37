"""saliency_node: the SKD saliency model as a ROS 2 lifecycle node.

Run it with ``ros2 run skd_ros saliency_node`` (ROS install) or ``skd-saliency-node`` (pip install);
both accept the usual ``--ros-args`` (``-r image:=/camera/image_raw``, ``--params-file``, ``-p``).

Lifecycle: configure reads the parameters and loads the model; activate (re)loads the model if it
was freed, starts the inference worker and subscribes; deactivate unsubscribes, stops the worker and
frees the model (and so its GPU memory); cleanup drops the publishers. With ``auto_start`` (the
default) the node configures and activates itself on start-up.

Topics (``~`` is the node's name, e.g. ``/cam0/saliency_node``):

* in:  ``image`` (sensor_msgs/Image), or ``<image>/compressed`` (sensor_msgs/CompressedImage) with
  ``input_compressed``; sensor-data QoS by default. ``camera_info`` beside the image (sensor_msgs/CameraInfo,
  optional) for bearings.
* out: ``~/saliency`` (sensor_msgs/Image), ``~/rois`` (sensor_msgs/PointCloud2, layout in
  ``skd_ros.core.roi_record``: boxes, ids that persist across frames, rays), ``~/attention``
  (geometry_msgs/PointStamped), ``~/bearings`` (geometry_msgs/PoseArray, with CameraInfo), ``~/overlay`` (rgb8)
  and ``~/markers`` (visualization_msgs/MarkerArray), the last two only built while subscribed, each stamped with
  the header of the input frame it belongs to; ``/diagnostics`` (diagnostic_msgs/DiagnosticArray).

Nothing set up wrong passes in silence: parameters the node does not declare are reported with the closest
declared names (``strict_parameters`` makes them fail configure), a camera publisher whose QoS the subscription
cannot accept is reported with both sides' settings, and frames lost before the node (gaps in the camera's header
stamps) are counted and reported with the transport remedy.

With ``cameras:=front,down`` one node serves several cameras, their newest frames batched into one
forward pass: camera ``front`` is read from ``front/image`` and published under ``~/front/``.

The work itself lives in ROS-free modules beside this one: parameters (``settings``), the mailbox,
decoding, pairing and the camera's calibration (``stream``), each camera the node serves (``cameras``), what each
topic carries (``outputs``), the counters (``stats``), what /diagnostics says (``diagnostics``) and what the node
says about a misconfiguration (``misconfiguration``); the parameters' descriptors and the QoS profiles in rclpy's
types are ``ros_settings``.
"""

from __future__ import annotations

import functools
import gc
import sys
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import Executor

import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.logging import get_logger
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from skd_ros.core.checkpoint import CheckpointError
from skd_ros.core.device import usable_cores
from skd_ros.core.image_codec import ImageDecodeError
from skd_ros.node import diagnostics
from skd_ros.node.cameras import CameraStream, apply_settings, attach_model
from skd_ros.node.messages import OUTPUT_TYPES, ros_messages
from skd_ros.node.misconfiguration import frames_lost_message, unknown_parameter_message
from skd_ros.node.outputs import ROI_OUTPUTS, frame_outputs
from skd_ros.node.ros_settings import incompatible_qos_report, input_qos, output_qos, parameter_descriptor
from skd_ros.node.settings import PARAMETERS, NodeSettings, camera_names
from skd_ros.node.stage_times import ENVIRONMENT as STAGE_TIMES_ENVIRONMENT
from skd_ros.node.stage_times import stage_times_from_environment
from skd_ros.node.stats import FrameGapCounter, WarningThrottle
from skd_ros.node.stream import NewestPairMailbox, camera_info_beside, camera_pool, header_of, run_cameras
from skd_ros.runtime import SaliencyEstimator

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble: the module was still called qos_event
    from rclpy.qos_event import SubscriptionEventCallbacks

NODE_NAME = "saliency_node"
WARN_PERIOD_S = 5.0
WORKER_JOIN_TIMEOUT_S = 10.0
# how long a subscription callback waits for an idle worker to take its frame (NewestPairMailbox: why); far above
# the tens of microseconds a wake-up takes, so it only bounds the wait when the worker is not scheduled at all
HAND_OVER_TIMEOUT_S = 0.005
DIAGNOSTIC_LEVELS = {diagnostics.OK: DiagnosticStatus.OK, diagnostics.WARN: DiagnosticStatus.WARN}


def _transition(callback):
    """rclpy turns an exception in a transition callback into ERROR without a word: log it first."""

    @functools.wraps(callback)
    def logged(self, state):
        try:
            return callback(self, state)
        except Exception:
            self.get_logger().error(f"{callback.__name__} raised:\n{traceback.format_exc()}")
            raise

    return logged


class SaliencyNode(LifecycleNode):
    """See the module docstring. ``kwargs`` go to rclpy's LifecycleNode (namespace, context,
    parameter_overrides, ...)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs):
        super().__init__(node_name, **kwargs)
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, parameter_descriptor(spec))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.settings: NodeSettings | None = None
        # `cameras` is read-only: the streams are fixed for the node's lifetime
        cameras = self.get_parameter("cameras").value
        try:
            self.cameras = [CameraStream(name) for name in camera_names(cameras) or [""]]
        except ValueError as exc:
            raise InvalidParameterValueException("cameras", cameras, str(exc)) from None
        # rclpy (Humble to Kilted) has no public accessor for the parameter overrides (--params-file, -p,
        # parameter_overrides); the public way round, automatically_declare_parameters_from_overrides and undeclaring
        # afterwards, would declare every misspelled name on the node for a moment and announce it on
        # /parameter_events
        self.unknown_parameters = sorted(name for name in self._parameter_overrides if not self.has_parameter(name))
        declared = self.list_parameters([], 0).names
        for name in self.unknown_parameters:
            self.get_logger().warning(unknown_parameter_message(name, declared))
        self._throttle = WarningThrottle(WARN_PERIOD_S)
        # skd-bench's per-stage profile of the live node (SKD_NODE_STAGE_TIMES); does nothing when unset
        self.stage_times = stage_times_from_environment()
        self._mailbox = NewestPairMailbox(len(self.cameras))
        self._estimator: SaliencyEstimator | None = None
        self._pool: Executor | None = None  # threads for several cameras' work (camera_threads)
        self._worker: threading.Thread | None = None
        self._state = "unconfigured"
        # /diagnostics reports in every lifecycle state, on the steady clock: with use_sim_time and no /clock
        # (or a paused bag) a ROS-time timer would never fire, and a monitor could not tell stopped from dead
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diagnostics_timer = self.create_timer(
            self.get_parameter("diagnostics_period").value,
            self._publish_diagnostics,
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )

    @property
    def model_loaded(self) -> bool:
        return self._estimator is not None

    # --- parameters ---------------------------------------------------------------------------

    def _parameter_values(self) -> dict:
        return {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """Validate runtime changes as a whole; valid ones take effect from the next frame on."""
        values = self._parameter_values()
        values.update({p.name: p.value for p in parameters if p.name in values})
        try:
            settings = NodeSettings.from_values(values)
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if self.settings is not None:
            self.settings = settings
            apply_settings(self.cameras, settings)
        return SetParametersResult(successful=True)

    # --- lifecycle ----------------------------------------------------------------------------

    @_transition
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            settings = NodeSettings.from_values(self._parameter_values())
            if settings.strict_parameters and self.unknown_parameters:
                raise ValueError(
                    f"strict_parameters: given but not declared: {', '.join(self.unknown_parameters)} (the "
                    "warnings above name the closest declared parameters)"
                )
            self._load_model(settings)
        except (ValueError, CheckpointError, OSError, RuntimeError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            self._free_model()
            return TransitionCallbackReturn.FAILURE
        self.settings = settings
        period_ns = round(1e9 / settings.camera_frame_rate) if settings.camera_frame_rate else None
        for camera in self.cameras:
            camera.gaps = FrameGapCounter(period_ns)
        qos = output_qos(settings)
        for camera in self.cameras:
            camera.outputs = {
                name: self.create_lifecycle_publisher(msg_type, "~/" + camera.topic(name), qos)
                for name, msg_type in OUTPUT_TYPES.items()
            }
        self._state = "inactive"
        outputs = ", ".join(f"{self.get_fully_qualified_name()}/{camera.topic('')}" for camera in self.cameras)
        prior = self._estimator.centre_prior
        weighting = (
            f", maps weighted by the checkpoint's centre prior (sigma {prior.sigma_x:.2f} x {prior.sigma_y:.2f} of "
            f"the frame, power {prior.power:g})"
            if prior
            else ""
        )
        self.get_logger().info(
            f"configured: model at {self._estimator.resolution}x{self._estimator.resolution}, inference backend "
            f"{self._estimator.backend.describe()}{weighting}, outputs under {outputs}"
        )
        return super().on_configure(state)

    @_transition
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        settings = self.settings
        if self._estimator is None:  # freed by deactivate
            try:
                self._load_model(settings)
            except (ValueError, CheckpointError, OSError, RuntimeError) as exc:
                self.get_logger().error(f"activate failed: cannot reload the model: {exc}")
                return TransitionCallbackReturn.FAILURE
        self._mailbox.reopen()
        self._worker = threading.Thread(target=self._work, name="saliency_inference", daemon=True)
        self._worker.start()
        qos = input_qos(settings)
        for index, camera in enumerate(self.cameras):
            # <image>/compressed and camera_info beside <image>, after remapping, the image_transport convention:
            # one remap of `image` covers all three
            image_topic = self.resolve_topic_name(camera.topic("image"))
            camera.input_topic = image_topic + "/compressed" if settings.input_compressed else image_topic
            camera.info_topic = (
                self.resolve_topic_name(camera.topic(settings.camera_info_topic))
                if settings.camera_info_topic
                else camera_info_beside(image_topic)
            )
            camera.gaps.restart()  # the time this node was not listening is no loss
            camera.subscription = self.create_subscription(
                CompressedImage if settings.input_compressed else Image,
                camera.input_topic,
                functools.partial(self._on_image, index),
                qos,
                event_callbacks=self._qos_events(camera.input_topic, qos),
            )
            camera.info_subscription = self.create_subscription(
                CameraInfo,
                camera.info_topic,
                camera.calibration.update,
                qos,
                event_callbacks=self._qos_events(camera.info_topic, qos),
            )
        self._state = "active"
        topics = ", ".join(f"{camera.input_topic} (CameraInfo: {camera.info_topic})" for camera in self.cameras)
        self.get_logger().info(f"active: listening on {topics} ({settings.qos_reliability})")
        return super().on_activate(state)

    @_transition
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_streaming()
        self._free_model()
        self._state = "inactive"
        self.get_logger().info("inactive: unsubscribed, model freed")
        return super().on_deactivate(state)

    @_transition
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_outputs()
        self._free_model()
        self.settings = None
        self._state = "unconfigured"
        return super().on_cleanup(state)

    @_transition
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop()
        self._state = "finalized"
        return super().on_shutdown(state)

    @_transition
    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error during a transition from {state.label}: releasing everything")
        self.stop()
        self.settings = None
        self._state = "unconfigured"
        return super().on_error(state)

    def stop(self) -> None:
        """Stop streaming and release the model and publishers, from whatever state the node is in."""
        self._stop_streaming()
        self._release_outputs()
        self._free_model()

    def _load_model(self, settings: NodeSettings) -> None:
        self._estimator = SaliencyEstimator(
            weights=settings.weights or None,
            resolution=settings.resolution or None,
            device=settings.device,
            backend=settings.backend,
            # more threads than the cores this process may run on only queue behind each other
            threads=min(settings.cpu_threads, usable_cores()) or None,
        )
        if self._estimator.untrained:
            self.get_logger().warning("UNTRAINED weights: no trained checkpoint is shipped or configured (weights:=)")
        attach_model(self.cameras, self._estimator, settings, self._refused_predecessor)
        self._mailbox.pair_by_interval(self._estimator.pair_interval_ns)
        self._pool = camera_pool(settings.camera_threads, len(self.cameras))
        # A full garbage collection walks every tracked object: with torch and the engines loaded some 250,000, which
        # took 120-180 ms on the developers' 2-core machine (at the node's exit too), a stall of every camera's worker
        # and callback whenever the collector decides a long-lived generation has grown enough. Objects alive now
        # (modules, the model, the engines) are moved out of its reach; from here on it walks what streaming makes.
        # Process-wide: several nodes in one process share it, and freeing any model lets the collector walk all.
        gc.collect()
        gc.freeze()

    def _free_model(self) -> None:
        on_gpu = self._estimator is not None and self._estimator.device.type == "cuda"
        self._estimator = None
        gc.unfreeze()  # what _load_model froze becomes collectable again: a freed model's cycles are not kept
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        for camera in self.cameras:
            camera.live = None
        if on_gpu:
            torch.cuda.empty_cache()

    def _stop_streaming(self) -> None:
        for camera in self.cameras:
            for subscription in (camera.subscription, camera.info_subscription):
                if subscription is not None:
                    self.destroy_subscription(subscription)
            camera.subscription = camera.info_subscription = None
        self._mailbox.close()
        if self._worker is not None:
            self._worker.join(WORKER_JOIN_TIMEOUT_S)
            if self._worker.is_alive():
                self.get_logger().error("the inference worker did not stop in time; abandoning it")
            self._worker = None

    def _release_outputs(self) -> None:
        for camera in self.cameras:
            for publisher in camera.outputs.values():
                self.destroy_lifecycle_publisher(publisher)
            camera.outputs = {}

    # --- streaming ----------------------------------------------------------------------------

    def _on_image(self, index: int, msg) -> None:
        """Subscription callback: hand the message over, then count the frames lost before this one (while the
        worker runs); the worker does the work."""
        camera = self.cameras[index]
        stamp_ns, frame_id = header_of(msg)
        self.stage_times.start((index, stamp_ns))
        skipped = self._mailbox.put(msg, index, HAND_OVER_TIMEOUT_S)
        lost = camera.gaps.add(stamp_ns, frame_id)
        camera.stats.count_received(skipped=skipped, lost=lost)
        if lost:
            self._warn(camera, "frames lost", frames_lost_message(lost, camera.gaps.period_ns, camera.stats.lost))

    def _qos_events(self, topic: str, requested: QoSProfile) -> SubscriptionEventCallbacks:
        """Report a publisher on ``topic`` whose QoS this subscription cannot accept (nothing it sends arrives),
        with both sides' settings and the parameter that fixes it."""

        def incompatible(event) -> None:
            publishers = self.get_publishers_info_by_topic(topic)
            report = incompatible_qos_report(
                topic, requested, publishers, self.settings.qos_reliability, event.last_policy_kind
            )
            self.get_logger().warning(report)

        return SubscriptionEventCallbacks(incompatible_qos=incompatible)

    def _work(self) -> None:
        mailbox, lives = self._mailbox, [camera.live for camera in self.cameras]  # fixed until the worker stops
        while (pairs := mailbox.take()) is not None:
            started = time.perf_counter()
            cameras = [self.cameras[index] for index in pairs]
            streams = [lives[index] for index in pairs]
            keys = [(index, header_of(newest)[0]) for index, (newest, *_) in pairs.items()]
            for key in keys:
                self.stage_times.mark(key, "hand-off to the worker")
            # only what someone reads is computed: ROIs, the full-size frame the overlay is drawn on, each message
            wanted = [{name for name, out in cam.outputs.items() if out.get_subscription_count()} for cam in cameras]
            for live, names in zip(streams, wanted, strict=True):
                live.full_frames = "overlay" in names
                live.pipeline.find_rois = not ROI_OUTPUTS.isdisjoint(names)
            resets = [Counter(live.pipeline.buffer.reset_reasons) for live in streams]
            try:
                outcomes = run_cameras(streams, list(pairs.values()), self._pool)
            except Exception as exc:  # a backend hiccup must not end the node
                if not self.context.ok():  # Ctrl-C shut ROS down meanwhile
                    return
                for camera in cameras:
                    camera.stats.count_failed()
                    self._warn(camera, "failure", f"processing a frame failed: {exc!r}", error=True)
                continue
            for key, outcome in zip(keys, outcomes, strict=True):
                if not isinstance(outcome, ImageDecodeError):
                    self.stage_times.mark_run(key, outcome[0].timings)
            batch = zip(cameras, streams, keys, wanted, pairs.values(), outcomes, resets, strict=True)
            for camera, live, key, names, (newest, *_), outcome, before in batch:
                if isinstance(outcome, ImageDecodeError):
                    camera.stats.count_rejected(outcome.kind)
                    self._warn(camera, outcome.kind, f"dropped a frame: {outcome}")
                    continue
                result, frame = outcome
                try:
                    self._publish_outputs(camera, key, names, newest.header, result, frame)
                except Exception as exc:  # a bad frame must not end the node
                    if not self.context.ok():  # Ctrl-C shut ROS down while this frame was being published
                        return
                    camera.stats.count_failed()
                    self._warn(camera, "failure", f"publishing the outputs of a frame failed: {exc!r}", error=True)
                    continue
                camera.stats.count_processed(time.perf_counter() - started, result.timings["inference"])
                self.stage_times.finish(key)
                reasons = live.pipeline.buffer.reset_reasons - before
                if reasons:
                    self._warn(
                        camera,
                        "pairing restart",
                        f"{', '.join(sorted(reasons))} (stamp {newest.header.stamp.sec}."
                        f"{newest.header.stamp.nanosec:09d}, frame_id {newest.header.frame_id!r}, "
                        f"{frame.source_width}x{frame.source_height} {frame.source_encoding}): frame pairing restarted",
                        info=True,
                    )

    def _publish_outputs(self, camera: CameraStream, key: tuple[int, int], wanted: set, header, result, frame) -> None:
        """The outputs of one frame that someone reads (``wanted``; ``key``: the frame's camera index and stamp, for
        the stage times); one that cannot be published is counted and logged, the others still go."""
        settings, publishers = self.settings, camera.outputs
        model, problem = camera.calibration.model_for(result.source_width, result.source_height)
        if problem:
            self.get_logger().warning(f"{camera.info_topic}: no bearings for {camera.input_topic}: {problem}")
        outputs = frame_outputs(
            result,
            settings.saliency_encoding,
            settings.saliency_full_size,
            frame if "overlay" in wanted else None,
            settings.max_output_pixels,
            tracker=camera.tracker,
            camera=model,
            marker_length=settings.marker_length if "markers" in wanted else None,
            wanted=wanted,
        )
        self.stage_times.mark(key, "outputs")
        for name, message in ros_messages(outputs, header):
            self.stage_times.mark(key, f"build {name}")
            try:
                publishers[name].publish(message)
            except Exception as exc:  # rclpy raises for a message the middleware cannot take
                if not self.context.ok():
                    raise
                camera.stats.count_unpublished(name)
                self._warn(camera, f"unpublished {name}", f"~/{camera.topic(name)} not published: {exc!r}", error=True)
            self.stage_times.mark(key, f"publish {name}")

    def _refused_predecessor(self, camera: CameraStream, error: ImageDecodeError) -> None:
        """A skipped frame, decoded as the predecessor of the newest one, that could not be read."""
        camera.stats.count_rejected(error.kind)
        self._warn(camera, error.kind, f"dropped a frame (the predecessor of the newest): {error}")

    def _warn(self, camera: CameraStream, kind: str, message: str, error: bool = False, info: bool = False) -> None:
        """A throttled log line about ``camera``'s input (throttled per camera and kind of problem)."""
        held_back = self._throttle.allow(f"{camera.name}: {kind}")
        if held_back is None:
            return
        message = f"{camera.input_topic}: {message}"
        if held_back:
            message += f" ({held_back} more like this in the last {WARN_PERIOD_S:g} s)"
        # one call site per severity: rclpy's logger refuses a different severity from the same line
        if error:
            self.get_logger().error(message)
        elif info:
            self.get_logger().info(message)
        else:
            self.get_logger().warning(message)

    # --- diagnostics --------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        if not self.context.ok():
            return
        device = diagnostics.device_description(self._estimator, self.settings)
        header = Header(stamp=self.get_clock().now().to_msg())
        statuses = [self._camera_status(camera, device) for camera in self.cameras]
        self._diagnostics_pub.publish(DiagnosticArray(header=header, status=statuses))

    def _camera_status(self, camera: CameraStream, device: str) -> DiagnosticStatus:
        """One DiagnosticStatus per camera, named after the camera's output namespace (``diagnostics``)."""
        status = diagnostics.camera_status(
            camera,
            self.get_fully_qualified_name(),
            self._state,
            device,
            len(self.cameras),
            self._estimator,
            self.settings,
        )
        return DiagnosticStatus(
            name=status.name,
            hardware_id=status.hardware_id,
            level=DIAGNOSTIC_LEVELS[status.level],
            message=status.message,
            values=[KeyValue(key=k, value=v) for k, v in status.values.items()],
        )


def main(args=None) -> int:
    """Console script ``skd-saliency-node`` / ``ros2 run skd_ros saliency_node``."""
    rclpy.init(args=args)
    node = None
    try:
        node = SaliencyNode()
        if node.get_parameter("auto_start").value:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                return 1
            if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (InvalidParameterValueException, InvalidParameterTypeException) as exc:
        get_logger(NODE_NAME).fatal(f"invalid parameter: {exc}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.stop()
            try:
                node.stage_times.write()
            except OSError as exc:  # the profile is lost, not the node's exit status
                get_logger(NODE_NAME).error(f"{STAGE_TIMES_ENVIRONMENT}: cannot write the stage times: {exc}")
            node.destroy_node()
        if rclpy.ok():  # (rclpy.try_shutdown is not in Humble)
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
