"""The ``--json`` file of a skd-bench run: what a run writes, and what ``--reuse`` reads back from earlier
runs, section by section. Its field names are a file format: files written before a change must still load."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from skd_tools.bench.accuracy import AccuracyRow
from skd_tools.bench.int8_portability import PortabilityRow
from skd_tools.bench.model_timing import GPU_SUFFIX, ModelRow


def load_reused(paths: list[Path]) -> dict[str, dict]:
    """The sections of earlier ``--json`` runs, each from the last of ``paths`` that holds it: "cpu_model"
    and "gpu_model" (rows, skipped backends, run), "accuracy" (rows, note, run) and "node"."""
    sections: dict[str, dict] = {}
    for path in paths:
        try:
            sections.update(_reused_sections(path, json.loads(path.read_text())))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise SystemExit(f"skd-bench: cannot reuse {path}: {exc!r}") from None
    return sections


def _reused_sections(path: Path, raw: dict) -> dict[str, dict]:
    sections = {}
    rows = [ModelRow(**row) for row in raw.get("model", [])]
    accuracy = [AccuracyRow(**row) for row in raw.get("accuracy", [])]
    skipped = raw.get("skipped", {})
    cpu_rows = [r for r in rows if r.device.startswith("CPU")]
    gpu_rows = [r for r in rows if not r.device.startswith("CPU")]
    if cpu_rows:
        sections["cpu_model"] = {
            "file": path,
            "run": raw["model_run"],
            "rows": cpu_rows,
            "sgemm": raw["sgemm"],
            "skipped": {k: v for k, v in skipped.items() if not k.endswith(GPU_SUFFIX)},
        }
    if gpu_rows:
        sections["gpu_model"] = {
            "file": path,
            "run": raw.get("gpu_run", raw["model_run"]),
            "rows": gpu_rows,
            "conditions": raw.get("gpu_conditions", {}),
            "skipped": {k: v for k, v in skipped.items() if k.endswith(GPU_SUFFIX)},
        }
    if accuracy:
        run = raw.get("accuracy_run", raw["node_run"])  # files from before accuracy_run: same run as node
        note = raw.get("accuracy_note", f"as measured in the run of {run['date']}")
        portability = raw.get("int8_portability", {"rows": [], "note": ""})  # files from before it: none
        sections["accuracy"] = {
            "file": path,
            "run": run,
            "rows": accuracy,
            "note": note,
            "portability": [PortabilityRow(**row) for row in portability["rows"]],
            "portability_note": portability["note"],
        }
    if raw.get("node_summary") is not None:  # a run with --skip-node keeps only a "Skipped" line
        sections["node"] = {
            "file": path,
            "run": raw["node_run"],
            "summary": raw["node_summary"],
            "json": raw["node"],
            "lines": raw["node_lines"],
        }
    return sections


def reused_note(section: dict) -> str:
    run = section["run"]
    return (
        f"*Reused with `--reuse {section['file']}` from the run of {run['date']} "
        f"(load before/after {run['load_before']} / {run['load_after']}).*"
    )


def write_run(
    path: Path,
    run_info: dict,
    reused: dict[str, dict],
    *,
    gpu_conditions: dict,
    sgemm: dict,
    model_rows: list[ModelRow],
    skipped: dict,
    accuracy: list[AccuracyRow],
    accuracy_note: str,
    portability: list[PortabilityRow],
    portability_note: str,
    node_json: dict,
    node_summary: dict | None,
    node_lines: list[str],
    targets: list[tuple[str, str, str]],
) -> None:
    """Every number of a run as JSON. ``run_info`` (command, date, load) is this run's; ``reused`` holds the
    sections this run took from earlier files instead of measuring them; they keep the run they came from."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def run_of(section: str) -> dict:
        return reused[section]["run"] if section in reused else run_info

    raw = {
        "model_run": run_of("cpu_model"),
        "gpu_run": run_of("gpu_model"),
        "gpu_conditions": gpu_conditions,
        "accuracy_run": run_of("accuracy"),
        "node_run": run_of("node"),
        "sgemm": sgemm,
        "model": [asdict(r) for r in model_rows],
        "skipped": skipped,
        "accuracy": [asdict(r) for r in accuracy],
        "accuracy_note": accuracy_note,
        "int8_portability": {"rows": [asdict(r) for r in portability], "note": portability_note},
        "node": node_json,
        "node_summary": node_summary,
        "node_lines": reused["node"]["lines"] if "node" in reused else node_lines,  # without the reuse note
        "targets": targets,
    }
    path.write_text(json.dumps(raw, indent=1, default=str))
