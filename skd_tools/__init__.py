"""Desk tools, above the runtime and training: the demo (``demo``), bags in and out (``bags``), rosbag
replay evaluation (``eval_bag``), benchmarks (``bench``) and the paper's reproduction (``reproduction``).
They may import anything of skd_ros and skd_training; nothing imports them."""
