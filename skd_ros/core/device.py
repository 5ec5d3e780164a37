"""The one place a device name ("auto", "cpu", "cuda", "cuda:N") becomes a torch.device, and the count of CPU
cores this process may run on, for the node, the tools and training alike."""

from __future__ import annotations

import os

import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """The name "auto" takes CUDA when PyTorch sees a GPU, else the CPU. Plain "cuda" means GPU ``local_rank``
    (a torchrun worker's own GPU; 0 outside torchrun). Raises ValueError for an unknown name or a CUDA
    device on a machine without one."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ValueError(f"device must be one of {', '.join(DEVICES)} or 'cuda:N', got {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
        return torch.device("cuda", local_rank) if device == "cuda" else torch.device(device)
    return torch.device("cpu")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it, else every core)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
