"""The node's outputs as rclpy messages: ``skd_ros.node.outputs.FrameOutputs`` wrapped in sensor_msgs /
geometry_msgs / visualization_msgs types, each stamped with the input frame's header."""

from __future__ import annotations

import array
from collections.abc import Iterator

from geometry_msgs.msg import Point, PointStamped, Pose, PoseArray, Quaternion
from sensor_msgs.msg import Image, PointCloud2, PointField
from visualization_msgs.msg import Marker, MarkerArray

from skd_ros.core.image_codec import encode
from skd_ros.core.roi_record import ROI_POINT_FIELDS, ROI_POINT_STEP
from skd_ros.node.outputs import FrameOutputs, RoiMarker

OUTPUT_TYPES = {
    "saliency": Image,
    "rois": PointCloud2,
    "attention": PointStamped,
    "bearings": PoseArray,
    "overlay": Image,
    "markers": MarkerArray,
}
# marker namespaces, so that RViz can show or hide the rays and the labels apart
RAY_NAMESPACE = "saliency_rays"
LABEL_NAMESPACE = "saliency_labels"


def ros_messages(outputs: FrameOutputs, header) -> Iterator[tuple[str, object]]:
    """(output name, message) for every output built in ``outputs``, each built when asked for: the node
    publishes one before building the next, and times each."""
    if outputs.saliency is not None:
        yield "saliency", image_msg(outputs.saliency, outputs.saliency_encoding, header)
    if outputs.rois is not None:
        yield "rois", rois_msg(outputs.rois, header)
    if outputs.peak is not None:
        yield "attention", attention_msg(outputs.peak, header)
    if outputs.bearings is not None:
        yield "bearings", bearings_msg(outputs.bearings, header)
    if outputs.overlay is not None:
        yield "overlay", image_msg(outputs.overlay, "rgb8", header)
    if outputs.markers is not None:
        yield "markers", markers_msg(outputs.markers, header)


def image_msg(pixels, encoding: str, header) -> Image:
    fields = encode(pixels, encoding)
    msg = Image(
        header=header,
        height=fields.height,
        width=fields.width,
        encoding=fields.encoding,
        is_bigendian=int(fields.is_bigendian),
        step=fields.step,
    )
    data = array.array("B")
    data.frombytes(fields.data)  # one memcpy; handing rclpy an array.array skips its per-element checks
    msg.data = data
    return msg


def rois_msg(records, header) -> PointCloud2:
    data = array.array("B")
    data.frombytes(records.tobytes())
    return PointCloud2(
        header=header,
        height=1,
        width=len(records),
        fields=[PointField(name=n, offset=o, datatype=t, count=c) for n, o, t, c in ROI_POINT_FIELDS],
        is_bigendian=False,
        point_step=ROI_POINT_STEP,
        row_step=ROI_POINT_STEP * len(records),
        data=data,
        is_dense=True,
    )


def attention_msg(peak, header) -> PointStamped:
    msg = PointStamped(header=header)
    msg.point.x, msg.point.y, msg.point.z = float(peak.x), float(peak.y), float(peak.value)
    return msg


def bearings_msg(orientations, header) -> PoseArray:
    """One pose per ROI at the camera's origin, its x-axis along the ray of the ROI's peak."""
    return PoseArray(
        header=header,
        poses=[Pose(orientation=Quaternion(x=x, y=y, z=z, w=w)) for x, y, z, w in orientations],
    )


def markers_msg(markers: list[RoiMarker], header) -> MarkerArray:
    """A DELETEALL first, so that the ROIs of earlier frames vanish, then an arrow from the camera's origin and a
    label per ROI."""
    array_msg = MarkerArray(markers=[Marker(header=header, action=Marker.DELETEALL)])
    for index, marker in enumerate(markers):
        ray = Marker(header=header, ns=RAY_NAMESPACE, id=index, type=Marker.ARROW, action=Marker.ADD)
        ray.points = [Point(), Point(x=marker.tip[0], y=marker.tip[1], z=marker.tip[2])]
        ray.scale.x, ray.scale.y, ray.scale.z = marker.width, 3 * marker.width, 6 * marker.width  # shaft, head
        ray.pose.orientation.w = 1.0
        (ray.color.r, ray.color.g, ray.color.b), ray.color.a = marker.colour, 1.0
        label = Marker(header=header, ns=LABEL_NAMESPACE, id=index, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD)
        label.pose.position = Point(x=marker.tip[0], y=marker.tip[1], z=marker.tip[2])
        label.pose.orientation.w = 1.0
        label.scale.z = marker.text_height
        label.text = marker.label
        label.color = ray.color
        array_msg.markers.extend([ray, label])
    return array_msg
