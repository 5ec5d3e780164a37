"""skd-bench (``cli``): how fast the SKD model and the saliency node are, in rooms of one purpose each.

* ``machine``: the CPU, load, GPU software, and the single-thread SGEMM reference rate.
* ``model_timing``: the model-only grid (backend x resolution x batch x threads), its cost counted.
* ``accuracy``: what int8 / bf16 cost in accuracy against fp32.
* ``targets``: what the numbers are read against (issue 7's targets, the paper's Table V).
* ``transports``, ``latencies``, ``node_runs``, ``children``: the node and transport measurements in
  separate processes (the ROS names and transport options, what a run measured, one run's processes,
  the programs those processes run).
* ``hot_path``: the node's per-frame calls profiled in-process.
* ``node_section``: plans the node runs and sums them up for the targets.
* ``report``, ``node_report``, ``figures``: docs/BENCHMARKS.md and its figures.
* ``saved_runs``: the ``--json`` file a run writes and ``--reuse`` reads back.
"""
