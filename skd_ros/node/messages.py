"""The node's outputs as rclpy messages: ``skd_ros.node.outputs.FrameOutputs`` wrapped in sensor_msgs /
geometry_msgs types, each stamped with the input frame's header."""

from __future__ import annotations

import array

from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import Image, PointCloud2, PointField

from skd_ros.core.image_codec import encode
from skd_ros.core.roi_record import ROI_POINT_FIELDS, ROI_POINT_STEP
from skd_ros.node.outputs import FrameOutputs

OUTPUT_TYPES = {"saliency": Image, "rois": PointCloud2, "attention": PointStamped, "overlay": Image}


def ros_messages(outputs: FrameOutputs, header) -> dict:
    """{output name: message} for every output in ``outputs`` (``overlay`` only when it was drawn)."""
    messages = {
        "saliency": image_msg(outputs.saliency, outputs.saliency_encoding, header),
        "rois": rois_msg(outputs.rois, header),
        "attention": attention_msg(outputs.peak, header),
    }
    if outputs.overlay is not None:
        messages["overlay"] = image_msg(outputs.overlay, "rgb8", header)
    return messages


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
