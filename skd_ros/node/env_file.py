"""Environment files: KEY=VALUE lines, blank lines and # comments skipped (what ``set -a; . FILE`` reads).

config/malloc_image_buffers.env is one; the launch files hand its variables to the node and skd-bench to
the processes of a transport option, both through ``read_env_file``. Standard library only, so that a
launch file can import it cheaply."""

from __future__ import annotations

from pathlib import Path


def read_env_file(path: str | Path) -> dict[str, str]:
    """The variables of an environment file; a line that is not KEY=VALUE raises ValueError naming the
    file and line."""
    path = Path(path)
    variables = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"{path}:{number}: expected KEY=VALUE, got {line!r}")
        variables[key.strip()] = value.strip()
    return variables
