"""The paper's published numbers, copied from its tables so that every comparison names its source.

Li, Fu, Zhao, Ge, "Spatiotemporal Knowledge Distillation for Efficient Estimation of Aerial Video
Saliency": all on the AVS1K test set, spatial teacher DVA, temporal teacher TSNet; speeds with
TensorFlow on a GTX 1080 Ti and one core of a 3.4 GHz CPU.
"""

PAPER_METRICS = ("AUC", "sAUC", "NSS", "SIM", "CC")

# Table I (AVS1K test set): AUC, sAUC, NSS, SIM, CC, parameters (M), memory (MB), GPU FPS, CPU FPS
PAPER_TABLE_I = [
    ("HFT", "heuristic", 0.789, 0.715, 1.671, 0.408, 0.539, None, None, None, 7.6),
    ("SP", "heuristic", 0.781, 0.706, 1.602, 0.422, 0.520, None, None, None, 3.6),
    ("PNSP", "heuristic", 0.787, 0.634, 1.140, 0.321, 0.370, None, None, None, None),
    ("SSD", "shallow learning", 0.737, 0.692, 1.564, 0.404, 0.503, None, None, None, 32.2),
    ("LDS", "shallow learning", 0.808, 0.720, 1.743, 0.452, 0.565, None, None, None, 4.6),
    ("eDN", "deep", 0.855, 0.732, 1.262, 0.289, 0.417, None, None, None, 0.2),
    ("iSEEL", "deep", 0.801, 0.767, 1.974, 0.458, 0.636, None, None, None, None),
    ("DVA (spatial teacher)", "deep", 0.864, 0.761, 2.044, 0.544, 0.658, 25.07, 59.01, 49, 2.5),
    ("SalNet", "deep", 0.797, 0.769, 1.835, 0.410, 0.593, 25.81, 43.22, 28, 1.5),
    ("STS", "deep", 0.804, 0.732, 1.821, 0.472, 0.578, 41.25, 86.94, 17, 0.9),
    ("SKD-DVA-32", "SKD", 0.859, 0.760, 2.040, 0.527, 0.657, 0.30, 0.14, 28738, 1490.5),
    ("SKD-DVA-64", "SKD", 0.867, 0.770, 2.100, 0.534, 0.674, 0.30, 0.58, 8522, 411.7),
]
# Table II: SKD-DVA-64 per AVS1K category
PAPER_TABLE_II = {
    "Building": (0.858, 0.762, 1.901, 0.535, 0.663),
    "Human": (0.903, 0.795, 2.465, 0.551, 0.719),
    "Vehicle": (0.883, 0.804, 2.396, 0.551, 0.728),
    "Others": (0.849, 0.804, 1.934, 0.519, 0.637),
}
# Table III: spatial teacher -> resolution -> metrics (temporal teacher TSNet throughout)
PAPER_TABLE_III_BY_TEACHER = {
    "DVA": {
        256: (0.800, 0.708, 1.624, 0.391, 0.514),
        128: (0.844, 0.735, 1.860, 0.455, 0.593),
        64: (0.867, 0.770, 2.100, 0.534, 0.674),
        32: (0.859, 0.760, 2.040, 0.527, 0.657),
    },
    "SalNet": {
        256: (0.806, 0.713, 1.664, 0.397, 0.527),
        128: (0.840, 0.739, 1.899, 0.461, 0.604),
        64: (0.868, 0.774, 2.108, 0.533, 0.676),
        32: (0.859, 0.756, 2.022, 0.524, 0.651),
    },
    "SSNet": {
        256: (0.807, 0.712, 1.650, 0.403, 0.523),
        128: (0.839, 0.738, 1.845, 0.454, 0.588),
        64: (0.867, 0.774, 2.100, 0.536, 0.674),
        32: (0.858, 0.753, 2.010, 0.528, 0.647),
    },
}
PAPER_TABLE_III = PAPER_TABLE_III_BY_TEACHER["DVA"]
# Table V: resolution -> (GPU ms, GPU FPS, CPU ms, CPU FPS, memory footprint MB)
PAPER_TABLE_V = {
    256: (1.414, 707, 37.828, 26.4, 9.24),
    128: (0.381, 2626, 9.675, 103.4, 2.31),
    64: (0.117, 8522, 2.429, 411.7, 0.58),
    32: (0.035, 28738, 0.671, 1490.5, 0.14),
}
# Table IV
PAPER_TABLE_IV = {
    "full": (0.867, 0.770, 2.100, 0.534, 0.674),
    "S": (0.865, 0.769, 2.085, 0.536, 0.669),
    "T": (0.866, 0.762, 2.007, 0.506, 0.647),
    "O": (0.845, 0.751, 1.943, 0.489, 0.621),
}
PAPER_BASE_RESOLUTION = 64
PAPER_BEST_LAMBDA = 0.5
PAPER_LAMBDA_PLATEAU = (0.0, 0.6)  # "average NSS relatively high (greater than 2.08)" in this range
