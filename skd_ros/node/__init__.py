"""The ROS 2 node, a thin rclpy shell (``saliency_node``) around ROS-free rooms: its parameters
(``settings``), the newest-frame mailbox, decoding, pairing and the camera's calibration (``stream``), what
each output topic carries (``outputs``), counters for /diagnostics and frames lost before the node (``stats``),
what the node says about a misconfiguration (``misconfiguration``), and the rclpy messages (``messages``);
``rviz_config`` and ``env_file`` for the launch files; ``gimbal_follower``, an example planner. Importing this
package imports no ROS; ``saliency_node``, ``messages`` and ``gimbal_follower`` do."""
