"""The ROS 2 node, a thin rclpy shell (``saliency_node``) around ROS-free rooms: its parameters
(``settings``), the newest-frame mailbox, decoding, pairing and the camera's calibration (``stream``), each camera
the node serves (``cameras``), what each output topic carries (``outputs``), counters for /diagnostics and frames
lost before the node (``stats``), what /diagnostics says (``diagnostics``), what the node says about a
misconfiguration (``misconfiguration``); the rclpy messages (``messages``) and the parameters' descriptors and QoS
profiles in rclpy's types (``ros_settings``); ``rviz_config`` and ``env_file`` for the launch files;
``gimbal_follower``, an example planner. Importing this package imports no ROS; ``saliency_node``, ``messages``,
``ros_settings`` and ``gimbal_follower`` do."""
