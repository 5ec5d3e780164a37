"""The ROS 2 node, a thin rclpy shell (``saliency_node``) around ROS-free rooms: its parameters
(``settings``), the newest-frame mailbox, decoding and pairing (``stream``), what each output topic carries
(``outputs``), counters for /diagnostics (``stats``), and the rclpy messages (``messages``). Importing
this package imports no ROS; ``saliency_node`` and ``messages`` do."""
