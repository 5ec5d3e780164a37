"""The whole fuzz and fault suite at chosen sizes: the decoder and pairing fuzz in this process, the live node
(one process for raw Image input, one for CompressedImage), and the damaged files; what each part found."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import rclpy

from skd_ros.core.device import usable_cores
from skd_tools.bench.machine import cpu_name, load_average
from skd_tools.reliability.decoder import DecoderFuzz, run_decoder_fuzz
from skd_tools.reliability.files import FileFuzz, run_file_fuzz
from skd_tools.reliability.live import LiveSizes, run_live
from skd_tools.reliability.live_session import NodeRun
from skd_tools.reliability.messages import iter_cases
from skd_tools.reliability.pairing import PairingFuzz, run_pairing_fuzz

PARTS = ("decoder", "pairing", "node", "files")
INPUT_KINDS = {"Image": False, "CompressedImage": True}  # name -> compressed


@dataclass(frozen=True)
class Sizes:
    """``messages``: generated messages per input kind for the decoder fuzz, the pairing fuzz and the live
    node's message fuzz; ``node``: the live node's other phases; ``bags``, ``checkpoints``, ``exported``:
    damaged files of each kind."""

    messages: int = 10_000
    node: LiveSizes = LiveSizes(warm_up=500, huge=500, anomalies=2000, parameters=300, transitions=60, soak=20_000)
    bags: int = 40
    checkpoints: int = 200
    exported: int = 60

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            messages=1000,
            node=LiveSizes(warm_up=100, huge=100, anomalies=300, parameters=60, transitions=16, soak=2000),
            bags=10,
            checkpoints=40,
            exported=12,
        )

    def with_soak(self, frames: int) -> Sizes:
        return dataclasses.replace(self, node=dataclasses.replace(self.node, soak=frames))


@dataclass
class SuiteResult:
    """What every part found; parts not run are empty (``files`` None)."""

    sizes: Sizes
    seed: int
    parts: tuple[str, ...]
    machine: dict[str, str] = field(default_factory=dict)
    decoder: dict[str, DecoderFuzz] = field(default_factory=dict)
    pairing: dict[str, PairingFuzz] = field(default_factory=dict)
    nodes: list[NodeRun] = field(default_factory=list)
    files: FileFuzz | None = None
    seconds: float = 0.0


def describe_machine() -> dict[str, str]:
    return {"CPU": cpu_name(), "usable cores": str(usable_cores()), "load average (1/5/15 min)": load_average()}


def run_suite(
    sizes: Sizes,
    workdir: Path,
    seed: int = 0,
    parts: tuple[str, ...] = PARTS,
    progress: Callable[[str], None] = print,
) -> SuiteResult:
    """Run ``parts`` of the suite at ``sizes``; node logs and damaged files go to ``workdir``. ROS_DOMAIN_ID
    and the discovery range come from the environment (the caller isolates the run)."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"parts must be among {PARTS}, got {sorted(unknown)}")
    result = SuiteResult(sizes, seed, tuple(parts), describe_machine())
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    for kind, compressed in INPUT_KINDS.items():
        if "decoder" in parts:
            progress(f"decoder fuzz, {kind}: {sizes.messages} messages")
            result.decoder[kind] = run_decoder_fuzz(iter_cases(sizes.messages, seed, compressed), compressed)
        if "pairing" in parts:
            progress(f"pairing fuzz, {kind}: {sizes.messages} messages")
            result.pairing[kind] = run_pairing_fuzz(sizes.messages, seed, compressed)
    if "node" in parts:
        context = rclpy.Context()
        rclpy.init(context=context)
        try:
            node_sizes = dataclasses.replace(sizes.node, messages=sizes.messages)
            for kind in INPUT_KINDS:
                result.nodes.append(run_live(context, kind, node_sizes, workdir, seed, progress))
        finally:
            rclpy.try_shutdown(context=context)
    if "files" in parts:
        progress(f"file fuzz: {sizes.bags} bags, {sizes.checkpoints} checkpoints, {sizes.exported} exported models")
        result.files = run_file_fuzz(workdir / "files", sizes.bags, sizes.checkpoints, sizes.exported, seed)
    result.seconds = time.monotonic() - started
    return result
