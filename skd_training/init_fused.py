"""Fused models made from trained students, in the deployable ``SKDModel`` format.

Step 2 of the paper starts the fused model from both students (``init_from_students``: the streams
copied from the students' first eight layers, the fusion head drawn from a truncated normal).
Ablation-S and -T have no Step 2: ``fused_from_student`` rewrites one student, exactly, as a fused
model, so that every variant is evaluated and deployed the same way.
"""

from __future__ import annotations

import torch
from torch import nn

from skd_ros.core.model import SKDModel, Student


def init_from_students(model: SKDModel, students: dict[str, Student], seed: int, head_std: float | None) -> None:
    """Step 2's starting point: ``model``'s streams from the ``spatial`` and ``temporal`` students, its fusion
    head drawn with a generator seeded by ``seed`` (a resumed or repeated run starts from the same weights)
    and standard deviation ``head_std`` (None: scaled per layer, see ``SKDModel.init_from_students``)."""
    generator = torch.Generator().manual_seed(seed)
    model.init_from_students(students["spatial"], students["temporal"], generator=generator, std=head_std)


def fused_from_student(student: Student) -> SKDModel:
    """A fused model that computes exactly what ``student`` computes (Ablation-S/T in the deployable
    format): the student's stream in its slot, the head copied, and the head's first layer given zero
    weights for the other stream's features."""
    model = SKDModel(student.widths)
    own, other = (model.spatial, model.temporal) if student.kind == "spatial" else (model.temporal, model.spatial)
    own.load_state_dict(student.stream.state_dict())
    for parameter in other.parameters():
        nn.init.zeros_(parameter)
    head = model.head.state_dict()
    for key, value in student.head.state_dict().items():
        if head[key].shape == value.shape:
            head[key] = value.clone()
        else:  # the 1x1 reduction over [spatial features, temporal features]
            c3 = student.stream.out_channels
            merged = torch.zeros_like(head[key])
            offset = 0 if student.kind == "spatial" else c3
            merged[:, offset : offset + c3] = value
            head[key] = merged
    model.head.load_state_dict(head)
    return model.eval()
