"""skd-reproduce: the paper's experiments (Tables I, III, IV, Fig. 8) trained over several seeds and scored as one
report, docs/REPRODUCTION.md. ``run`` is the command, ``presets`` its sizes, ``plan`` the training runs of every
row and seed, ``runs`` trains them, ``predictors`` what is evaluated, ``findings`` reads the verdicts (a difference
counts only beyond the seed spread), ``paper`` holds the paper's own numbers, ``recipe`` where config default
departs from the paper's recipe, ``report`` writes the document (``tables`` and ``figures`` its tables and
figures); ``spatial_teachers.yaml`` lists Table III's spatial teachers."""
