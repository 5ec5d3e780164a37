"""skd-reproduce: the paper's experiments (Tables I, III, IV, Fig. 8) trained and scored as one report,
docs/REPRODUCTION.md. ``run`` plans and runs them, ``findings`` reads the verdicts, ``paper`` holds the
paper's own numbers, ``report`` writes the document and its figures."""
