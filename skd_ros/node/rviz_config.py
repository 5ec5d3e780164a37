"""config/skd_ros.rviz for a given node: its topics follow the node's namespace and camera, its Fixed Frame the
robot's. RViz configurations cannot take arguments, so the launch file writes a copy with these three things
replaced (``rviz_config_for``). Standard library only, so that a launch file can import it cheaply."""

from __future__ import annotations

RVIZ_CONFIG = "skd_ros.rviz"
# what config/skd_ros.rviz holds: the outputs of a node named saliency_node in the root namespace, one camera
OUTPUTS_IN_CONFIG = "/saliency_node/"
FIXED_FRAME_IN_CONFIG = "Fixed Frame: base_link"


def outputs_prefix(namespace: str, camera: str = "", node_name: str = "saliency_node") -> str:
    """Where a node's outputs are: "cam0" -> "/cam0/saliency_node/"; with camera "front" of a node serving several
    cameras -> "/saliency_node/front/"."""
    parts = [part for part in (*namespace.split("/"), node_name, camera) if part]
    return "/" + "/".join(parts) + "/"


def rviz_config_for(template: str, outputs: str, fixed_frame: str) -> str:
    """``template`` (the text of config/skd_ros.rviz) showing the outputs under ``outputs`` (from ``outputs_prefix``)
    in the Fixed Frame ``fixed_frame``; ValueError when the template no longer holds what is replaced."""
    for expected in (OUTPUTS_IN_CONFIG, FIXED_FRAME_IN_CONFIG):
        if f" {expected}" not in template:
            raise ValueError(f"the RViz configuration has no {expected!r} to replace; {RVIZ_CONFIG} changed?")
    if not fixed_frame.strip():
        raise ValueError("the RViz Fixed Frame must not be empty")
    text = template.replace(f" {OUTPUTS_IN_CONFIG}", f" {outputs}")
    return text.replace(FIXED_FRAME_IN_CONFIG, f"Fixed Frame: {fixed_frame.strip()}")
