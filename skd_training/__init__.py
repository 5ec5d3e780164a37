"""skd_training: the paper's method, trained and scored. Teachers, students and distillation
(``teachers``, ``losses``, ``pipeline``, ``engine``, ``config``), datasets (``data``), metrics with the MIT
saliency benchmark's definitions (``metrics``) and evaluation (``evaluate``). Imports the runtime's core and
engines, never the node or the desk tools."""
