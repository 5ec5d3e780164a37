"""skd_ros, the runtime a robot installs: real-time visual attention for drone cameras.

Three rooms, imports only downward (docs/ARCHITECTURE.md): ``core`` (frames in, saliency maps, ROIs and
peaks out; no ROS, no engines), ``engines`` (the inference engines that run the model) with ``runtime``
(the pipeline the node, the tools and training share), and ``node`` (the rclpy shell)."""
