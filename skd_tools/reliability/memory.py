"""Resident memory from /proc (Linux): a process's RSS now and at its peak, and a sampler thread that follows a
process's RSS over a run."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024


def status_kib(pid: int | str, key: str) -> int:
    """A ``kB`` line of /proc/<pid>/status (``VmRSS``, ``VmHWM``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(f"/proc/{pid}/status has no {key} line")


def rss_bytes(pid: int | str = "self") -> int:
    return status_kib(pid, "VmRSS") * 1024


def reset_peak_rss() -> bool:
    """Start a new resident-memory peak (``VmHWM``) for this process; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    return status_kib("self", "VmHWM") * 1024


@dataclass
class RssSampler:
    """Samples a process's RSS every ``period_s`` in a background thread while ``mark`` labels where the
    run is; ``samples``: (seconds since start, RSS bytes, label)."""

    pid: int
    period_s: float = 0.25
    samples: list[tuple[float, int, str]] = field(default_factory=list)

    def __post_init__(self):
        self._label = "start"
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rss_sampler", daemon=True)
        self._thread.start()

    def mark(self, label: str) -> int:
        """Label the samples from now on; returns the RSS now (also recorded)."""
        self._label = label
        return self.sample()

    def sample(self) -> int:
        try:
            rss = rss_bytes(self.pid)
        except (OSError, KeyError):  # the process is gone
            return 0
        self.samples.append((time.monotonic() - self._start, rss, self._label))
        return rss

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
