"""The ROS-free core: the SKD networks (``model``), frames in (``preprocess``: resize, normalise, pair),
maps out (``postprocess``: ROIs and the peak in source pixels), the ``~/rois`` record layout
(``roi_record``), ROI identities across frames (``tracking``), rays from CameraInfo (``bearings``),
checkpoints (``checkpoint``), image messages <-> pixels (``image_codec``), drawing (``visualize``) and the one
device resolver (``device``). It imports nothing else of the project."""
