"""skd-reliability (``cli``): the fuzz and fault suite of issue #20, in rooms of one purpose each.

* ``messages``: generated image messages, good and bad, each with the outcomes that are right for it.
* ``decoder``: those messages through the node's decoding, in this process, under a watchdog.
* ``pairing``: header anomalies and skipped frames through the node's ROS-free stream path, every pair checked.
* ``parameters``: generated runtime parameter changes and whether the node must take them.
* ``live``: the node as its own process, driven over DDS phase by phase, its memory read from /proc:
  ``node_driver`` (the process and the DDS link to it), ``live_session`` (the watchdog and what every phase
  shares), ``live_phases`` (the phases).
* ``files``: damaged bags, checkpoints and exported models where the tools read them.
* ``memory``: resident memory from /proc.
* ``suite``, ``report``: every part at chosen sizes, and docs/RELIABILITY.md with its figures.
"""
