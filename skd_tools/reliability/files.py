"""The file fuzz: damaged and wrong files where the tools and the node read them -- bags (the bag reader
``skd_training.data.rosbag``, ``skd-bag info``, ``skd-eval-bag``), fused-model checkpoints
(``skd_ros.core.checkpoint``) and exported models (``skd_ros.engines.export``'s verify and ncnn load).

Damage: cut at random points, random bit flips, emptied, replaced by noise, and, per kind of file, what
goes wrong in practice (a checkpoint of another shape or format, a model exported at another resolution, a
bag whose metadata or data file is gone, a message cut short part-way through a bag). Every case must end
in the reader's own error (``BagError``, ``CheckpointError``, ``ExportError``) naming the file -- or read
fine, when the damage left it readable -- and never in another exception, a hang or a wrong model loaded
silently; ``skd-eval-bag`` must keep what it wrote before the damage.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rosbags.rosbag2 import Writer

from skd_ros.core.checkpoint import CheckpointError, load_fused, save_fused
from skd_ros.core.model import SKDModel, Widths
from skd_ros.engines import export
from skd_ros.engines.export import ExportError
from skd_tools.bags import STORAGES, write_test_bag
from skd_tools.bags import main as bag_main
from skd_tools.eval_bag.cli import main as eval_bag_main
from skd_tools.eval_bag.offline import storage_of
from skd_tools.reliability.decoder import Hang, watchdog
from skd_training.data.rosbag import TYPESTORE, BagError, BagReader

RESOLUTION = 32
WATCHDOG_S = 60.0
EXAMPLES_KEPT = 20
READ, CLEAR_ERROR = "read fine", "clear error naming the file"


@dataclass
class FileFuzz:
    """Outcomes by (kind of file, damage, outcome); ``problems``: the first cases that went wrong."""

    outcomes: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    seconds: float = 0.0

    def add(self, kind: str, damage: str, outcome: str, problem: str = "") -> None:
        self.outcomes[(kind, damage, outcome)] += 1
        if problem:
            self.problem_count += 1
            if len(self.problems) < EXAMPLES_KEPT:
                self.problems.append(f"{kind}, {damage}: {problem}")

    @property
    def cases(self) -> int:
        return sum(self.outcomes.values())


def damaged_bytes(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One random kind of damage to ``data``: (its name, the damaged bytes)."""
    roll = rng.random()
    if roll < 0.4:
        return "cut short", data[: int(rng.integers(0, len(data)))]
    if roll < 0.8:
        flipped = bytearray(data)
        for _ in range(int(rng.integers(1, 9))):
            flipped[int(rng.integers(len(flipped)))] ^= 1 << int(rng.integers(8))
        return "bit flips", bytes(flipped)
    if roll < 0.9:
        return "emptied", b""
    return "noise", rng.integers(0, 256, int(rng.integers(1, 4096)), dtype=np.uint8).tobytes()


def judge(error: Exception | None, path: Path, expected: type[Exception]) -> tuple[str, str]:
    """(outcome, problem) of a read that raised ``error`` (None: it read fine)."""
    if error is None:
        return READ, ""
    if isinstance(error, Hang):
        return "hang", str(error)
    if not isinstance(error, expected):
        return f"other error ({type(error).__name__})", f"{type(error).__name__}: {error}"
    if str(path) not in str(error):
        return "error without the file's name", str(error)
    return CLEAR_ERROR, ""


def attempt(read: Callable[[], object]) -> Exception | None:
    try:
        with watchdog(WATCHDOG_S):
            read()
    except Exception as error:  # judged by the caller: only the reader's own error is right
        return error
    return None


# --- checkpoints ----------------------------------------------------------------------------------------


def same_weights(a: SKDModel, b: SKDModel) -> bool:
    """Bit for bit (a flip in a zip's padding changes no weight and may pass)."""
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def wrong_checkpoints(model: SKDModel) -> dict[str, object]:
    """Payloads ``torch.save`` writes fine that are no fused-model checkpoint of this model."""
    state = model.state_dict()
    good = {"format": "skd_ros.fused", "version": 1, "widths": model.widths.as_dict(), "resolution": RESOLUTION}
    first = next(iter(state))
    return {
        "a list, not a checkpoint": [1, 2, 3],
        "another format": {**good, "format": "something.else", "state_dict": state},
        "a newer version": {**good, "version": 99, "state_dict": state},
        "no weights": good,
        "weights of another width": {**good, "widths": Widths(c1=8).as_dict(), "state_dict": state},
        "widths not a dict": {**good, "widths": 16, "state_dict": state},
        "a weight of the wrong shape": {**good, "state_dict": {**state, first: torch.zeros(3, 3)}},
        "a weight missing": {**good, "state_dict": {k: v for k, v in state.items() if k != first}},
        "resolution not a number": {**good, "resolution": "sixty-four", "state_dict": state},
        "meta not a dict": {**good, "state_dict": state, "meta": 7},
    }


def checkpoint_fuzz(workdir: Path, cases: int, rng: np.random.Generator, found: FileFuzz) -> None:
    model = SKDModel().eval()
    good = workdir / "good.pt"
    save_fused(model, good, RESOLUTION)
    data = good.read_bytes()
    for index in range(cases):
        damage, damaged = damaged_bytes(data, rng)
        path = workdir / f"damaged_{index}.pt"
        path.write_bytes(damaged)
        loaded: list[SKDModel] = []
        outcome, problem = judge(
            attempt(lambda p=path, into=loaded: into.append(load_fused(p)[0])), path, CheckpointError
        )
        if loaded and not same_weights(loaded[0], model):
            problem = "a damaged checkpoint loaded as other weights without an error"
        found.add("checkpoint", damage, outcome, problem)
    for damage, payload in wrong_checkpoints(model).items():
        path = workdir / f"{damage.replace(' ', '_')}.pt"
        torch.save(payload, path)
        outcome, problem = judge(attempt(lambda p=path: load_fused(p)), path, CheckpointError)
        found.add("checkpoint", damage, outcome, problem or ("loaded without an error" if outcome == READ else ""))
    for damage, path in (("missing", workdir / "nowhere.pt"), ("a directory", workdir)):
        outcome, problem = judge(attempt(lambda p=path: load_fused(p)), path, CheckpointError)
        found.add("checkpoint", damage, outcome, problem)


# --- exported models --------------------------------------------------------------------------------------


def exported_fuzz(workdir: Path, cases: int, rng: np.random.Generator, found: FileFuzz) -> None:
    """ONNX, TorchScript and ncnn files damaged, then verified against the model (``export.verify_*``): a
    damaged file must fail verification with the file's name; one whose damage changes nothing may pass."""
    model = SKDModel().eval()
    files = {
        "ONNX": (export.save_onnx(model, workdir / "model.onnx", RESOLUTION), export.verify_onnx),
        "TorchScript": (export.save_torchscript(model, workdir / "model.ts.pt", RESOLUTION), export.verify_torchscript),
        "ncnn graph": (export.save_ncnn(model, workdir / "model.ncnn.param", RESOLUTION), export.verify_ncnn),
    }
    files["ncnn weights"] = (export.ncnn_weights_path(files["ncnn graph"][0]), export.verify_ncnn)
    for index in range(cases):
        kind = list(files)[index % len(files)]
        source, verify = files[kind]
        folder = workdir / f"case_{index}"
        folder.mkdir()
        graph = files["ncnn graph"][0] if kind.startswith("ncnn") else source
        for original in {graph, export.ncnn_weights_path(graph)} if kind.startswith("ncnn") else {graph}:
            shutil.copy(original, folder / original.name)
        damage, damaged = damaged_bytes(source.read_bytes(), rng)
        (folder / source.name).write_bytes(damaged)
        target = folder / graph.name
        outcome, problem = judge(attempt(lambda v=verify, t=target: v(model, t, RESOLUTION)), folder, ExportError)
        found.add(kind, damage, outcome, problem)
    wrong = workdir / "resolution_16.onnx"
    export.save_onnx(model, wrong, 16)
    outcome, problem = judge(attempt(lambda: export.verify_onnx(model, wrong, RESOLUTION)), wrong, ExportError)
    found.add("ONNX", "exported at another resolution", outcome, problem or ("passed" if outcome == READ else ""))
    other = SKDModel(Widths(c1=8)).eval()
    outcome, problem = judge(
        attempt(lambda: export.verify_onnx(other, files["ONNX"][0], RESOLUTION)), files["ONNX"][0], ExportError
    )
    found.add("ONNX", "another model's file", outcome, problem or ("passed" if outcome == READ else ""))


# --- bags -------------------------------------------------------------------------------------------------


def bag_with_cut_message(source: Path, target: Path, topic: str, index: int) -> None:
    """A copy of ``source`` (same storage) whose ``index``-th message on ``topic`` has its serialised bytes cut
    short."""
    with BagReader(source) as bag:
        messages = list(bag.serialized_messages(list(bag.topics)))
        types = {name: msgtype for name, (msgtype, _) in bag.topics.items()}
    with Writer(target, version=9, storage_plugin=STORAGES[storage_of(source)]) as writer:
        connections = {
            name: writer.add_connection(name, msgtype, typestore=TYPESTORE) for name, msgtype in types.items()
        }
        seen = Counter()
        for name, _, log_time, raw in messages:
            if name == topic and seen[name] == index:
                raw = raw[: len(raw) // 3]
            seen[name] += 1
            writer.write(connections[name], log_time, raw)


def damaged_bag(good: Path, target: Path, topic: str, rng: np.random.Generator) -> str:
    """A damaged copy of the bag ``good`` at ``target``; returns what was done to it."""
    roll = rng.random()
    if roll < 0.15:
        bag_with_cut_message(good, target, topic, int(rng.integers(1, 10)))
        return "a message cut short"
    shutil.copytree(good, target)
    (data_file,) = [p for p in target.iterdir() if p.name != "metadata.yaml"]
    if roll < 0.25:
        metadata = target / "metadata.yaml"
        metadata.write_bytes(damaged_bytes(metadata.read_bytes(), rng)[1])
        return "metadata.yaml damaged"
    if roll < 0.3:
        data_file.unlink()
        return "data file missing"
    damage, damaged = damaged_bytes(data_file.read_bytes(), rng)
    data_file.write_bytes(damaged)
    return damage


def run_main(main: Callable[[list[str]], int], arguments: list[str]) -> tuple[int | None, str, Exception | None]:
    """A command's ``main`` in this process: (exit code, what it wrote to stderr, the exception that escaped)."""
    codes: list[int] = []
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        error = attempt(lambda: codes.append(main(arguments)))
    return (codes[0] if codes else None), stderr.getvalue(), error


def bag_info_outcome(bag: Path, code: int | None, stderr: str) -> tuple[str, str]:
    """(outcome, problem) of ``skd-bag info`` on a damaged bag."""
    if code == 0:
        return "exit 0, topics listed", ""
    if code == 1 and str(bag) in stderr:
        return "exit 1, error names the bag", ""
    return "problem", f"exit code {code}: {stderr.strip()[:200]}"


def eval_bag_outcome(bag: Path, out: Path, summary_path: Path, code: int | None, stderr: str) -> tuple[str, str]:
    """(outcome, problem) of ``skd-eval-bag`` on a damaged bag: a clear error before it starts, or a summary
    that says how far it got with the output bag holding exactly the frames done."""
    if not summary_path.is_file():
        if code == 1 and str(bag) in stderr:
            return "exit 1 before starting, error names the bag", ""
        return "problem", f"exit code {code} without a summary: {stderr.strip()[:200]}"
    summary = json.loads(summary_path.read_text())
    if summary["complete"]:
        if code != 0:
            return "problem", f"exit code {code} after a complete run"
        return ("exit 0, damaged frames refused and counted" if summary["frames_rejected"] else "exit 0"), ""
    if code != 1 or str(bag) not in (summary["error"] or ""):
        return "problem", f"exit code {code}, an incomplete run, error {summary['error']!r}"
    with BagReader(out) as written:
        kept = written.count(summary["output_topics"]["saliency"])
    if kept != summary["frames"]:
        return "problem", f"the output bag keeps {kept} maps of the {summary['frames']} frames done"
    return "exit 1 part-way, the frames done kept", ""


def bag_fuzz(workdir: Path, cases: int, rng: np.random.Generator, found: FileFuzz) -> None:
    """Damaged sqlite3 (raw images) and mcap (PNG images) bags through the reader, ``skd-bag info`` and
    ``skd-eval-bag``. The mcap bag's frames are large enough for several chunks (the writer closes one every
    MiB), so that a cut can leave whole chunks before it to read."""
    sizes = {"sqlite3": (64, 48), "mcap": (320, 240)}
    goods = {
        storage: write_test_bag(workdir / f"good_{storage}", 12, *size, storage=storage, compressed=storage == "mcap")
        for storage, size in sizes.items()
    }
    for index in range(cases):
        storage = ("sqlite3", "mcap")[index % 2]
        good = goods[storage]
        bag = workdir / f"bag_{index}"
        damage = damaged_bag(good.path, bag, good.image_topic, rng)

        def read_all(path=bag, topic=good.image_topic):
            with BagReader(path) as reader:
                return sum(1 for _ in reader.frames(topic))

        outcome, problem = judge(attempt(read_all), bag, BagError)
        found.add(f"bag ({storage})", damage, outcome, problem)
        code, stderr, error = run_main(bag_main, ["info", str(bag)])
        outcome, problem = ("problem", repr(error)) if error else bag_info_outcome(bag, code, stderr)
        found.add("skd-bag info", damage, outcome, problem)
        out, summary_path = workdir / f"out_{index}", workdir / f"summary_{index}.json"
        arguments = [str(bag), "--image-topic", good.image_topic, "--out", str(out), "--summary", str(summary_path)]
        arguments += ["--resolution", str(RESOLUTION), "--backend", "eager", "--device", "cpu"]
        code, stderr, error = run_main(eval_bag_main, arguments)
        outcome, problem = ("problem", repr(error)) if error else eval_bag_outcome(bag, out, summary_path, code, stderr)
        found.add("skd-eval-bag", damage, outcome, problem)


def run_file_fuzz(workdir: Path, bags: int, checkpoints: int, exported: int, seed: int = 0) -> FileFuzz:
    """``bags`` damaged bags, ``checkpoints`` damaged checkpoints (plus the wrong ones) and ``exported``
    damaged exported models (plus the wrong ones), in ``workdir`` (which must be empty or new)."""
    rng, found = np.random.default_rng(seed), FileFuzz()
    started = time.monotonic()
    for name, fuzz, count in (("bags", bag_fuzz, bags), ("checkpoints", checkpoint_fuzz, checkpoints),
                              ("exported", exported_fuzz, exported)):  # fmt: skip
        folder = workdir / name
        folder.mkdir(parents=True)
        fuzz(folder, count, rng, found)
    found.seconds = time.monotonic() - started
    return found
