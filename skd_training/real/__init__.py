"""Distilling real-world attention into the small fused model, for real drone footage.

The paper's premise is heavy teachers that know the real world; this package gives the student two:
``spatial_teacher`` (ImageNet-pretrained EfficientNet-Lite0 features, frozen, read out by a small network
trained on human fixations on still images, MIT1003) and ``motion_teacher`` (what moves against the
camera's own motion: frames registered by a homography, differenced). ``soft_labels`` runs and combines
them over box sequences (real drone clips with the target's box, ``skd_training.data.box_sequences``) and
caches their maps; ``distill`` trains the fused model on those soft labels mixed with weak labels from the
boxes, k-fold by sequence so that every sequence is scored by a model that never saw it
(``skd-eval-real``), then on every sequence for the shipped weights; ``cli`` is ``skd-train-real``.
Training-only: the runtime never imports this package, and the shipped model stays the small network.
"""
