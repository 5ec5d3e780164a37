"""skd-eval-bag (``cli``): evaluate the saliency node on a recorded rosbag2, offline and live.

Offline: every message of ``--image-topic`` goes through the node's own processing path --
``skd_ros.node.stream.LiveSaliency`` (the node's image decoding) around ``skd_ros.runtime.SaliencyPipeline``
(the same estimator, ROI extraction, frame pairing and buffer resets on a frame_id change or time
going backwards) -- and the node's outputs (saliency, rois, attention, built by the same
``skd_ros.node.outputs.frame_outputs``) are written to a new bag, stamped like the inputs: the input's header
stamp and frame_id, recorded at the input's record time. With ground-truth maps in the bag
(``--gt-topic`` density maps, ``--fixation-topic`` binary fixation maps, matched to the images by
header stamp) the metrics of ``skd_training.metrics`` are computed per frame and averaged.

Live (``--live``): the node (``python -m skd_ros.node.saliency_node``) runs as a separate process with the same
weights, resolution, backend and ROI parameters and reliable input QoS; the bag's image messages are
published to it over DDS, byte for byte as recorded, at the recorded rate (``--rate`` multiplier;
0 = as fast as possible); its outputs are recorded into a second bag, and the report gives
end-to-end latency (p50/p99: receive time minus publish time, both taken in this process, so node
and evaluator share one clock), dropped frames (inputs without an output) and the agreement of the
node's maps with the offline ones.

A bag that fails part-way still gives an output bag (closed properly) and a summary of what was done.

Modules: ``offline`` (with ``ground_truth``), ``live``, ``report`` (terminal lines, JSON, plot), ``cli``.
"""
