"""Where a frame's time goes inside the running node: an optional per-stage recorder, ROS-free.

skd-bench profiles the real node under a DDS stream with it (an in-process replay misses the hand-offs between
threads and the executor). It is off unless the environment variable ``SKD_NODE_STAGE_TIMES`` names a file; off,
the node holds ``NO_STAGE_TIMES``, whose methods do nothing (no clock is read), so a deployed node pays one empty
call per stage. On, the node marks each frame as it passes each stage (``time.perf_counter_ns``, one clock for
every thread) and the recorder writes every finished frame to the file as JSON when the node stops.

A frame is known by its key, (camera index, header stamp in ns). Its record: ``camera``, ``stamp_ns``,
``callback_wall_ns`` (the wall clock at the subscription callback's entry, to set against the stamp: transport and
deserialisation) and ``marks``, [stage, ns since the callback's entry] in the order passed; a stage's duration is
its mark minus the previous one. Frames the worker skipped (a newer one replaced them) are not written.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

ENVIRONMENT = "SKD_NODE_STAGE_TIMES"
# the first mark of every frame: the subscription callback's entry
RECEIVED = "received"
# stages inside one SaliencyResult's run (``skd_ros.node.stream.run_cameras``), split by its ``timings``
RUN_STAGES = ("decode", "preprocess", "align", "inference", "postprocess")
MAX_FRAMES = 100_000  # about an hour of one 30 FPS camera: a forgotten switch cannot fill the memory


class StageTimes:
    """Per-frame stage marks, written to ``path`` by ``write``. Thread-safe: callbacks start frames while the
    worker marks and finishes others."""

    def __init__(self, path: str | Path, clock=time.perf_counter_ns, wall_clock=time.time_ns):
        self.path = Path(path)
        self._clock, self._wall_clock = clock, wall_clock
        self._lock = threading.Lock()
        self._open: dict[tuple[int, int], dict] = {}
        self._finished: list[dict] = []

    def start(self, key: tuple[int, int]) -> None:
        """The subscription callback received the frame."""
        now, wall = self._clock(), self._wall_clock()
        with self._lock:
            if len(self._finished) + len(self._open) < MAX_FRAMES:
                camera, stamp_ns = key
                frame = {"camera": camera, "stamp_ns": stamp_ns, "callback_wall_ns": wall, "marks": [], "_t0": now}
                self._open[key] = frame

    def mark(self, key: tuple[int, int], stage: str) -> None:
        """The frame has just finished ``stage``."""
        self._add(key, [(stage, self._clock())])

    def mark_run(self, key: tuple[int, int], timings: dict[str, float]) -> None:
        """The frame's ``run_cameras`` call has just returned: its time since the last mark is split into
        ``RUN_STAGES`` by the result's ``timings`` (seconds of preprocess, align, inference and postprocess, those
        of the whole batch; the rest, decoding and batching, is ``decode``)."""
        end = self._clock()
        marks, at = [], end
        for stage in reversed(RUN_STAGES[1:]):
            marks.append((stage, at))
            at -= round(timings[stage] * 1e9)
        marks.append((RUN_STAGES[0], at))
        self._add(key, marks[::-1])

    def _add(self, key: tuple[int, int], marks: list[tuple[str, int]]) -> None:
        with self._lock:
            frame = self._open.get(key)
            if frame is not None:
                frame["marks"] += [[stage, at - frame["_t0"]] for stage, at in marks]

    def finish(self, key: tuple[int, int]) -> None:
        """The frame's last output is out; frames of this camera started before it were skipped: forgotten."""
        with self._lock:
            frame = self._open.pop(key, None)
            if frame is None:
                return
            camera, stamp_ns = key
            frame.pop("_t0")
            frame["marks"].insert(0, [RECEIVED, 0])
            self._finished.append(frame)
            for key in [key for key in self._open if key[0] == camera and key[1] < stamp_ns]:
                del self._open[key]

    def write(self) -> None:
        """Every finished frame to ``path`` (JSON: {"frames": [...]})."""
        with self._lock:
            frames = list(self._finished)
        self.path.write_text(json.dumps({"frames": frames}))


class _NoStageTimes:
    """The recorder switched off: every call does nothing."""

    def start(self, key: tuple[int, int]) -> None:
        pass

    def mark(self, key: tuple[int, int], stage: str) -> None:
        pass

    def mark_run(self, key: tuple[int, int], timings: dict[str, float]) -> None:
        pass

    def finish(self, key: tuple[int, int]) -> None:
        pass

    def write(self) -> None:
        pass


NO_STAGE_TIMES = _NoStageTimes()


def stage_times_from_environment(environ=os.environ) -> StageTimes | _NoStageTimes:
    """A recorder writing to the file ``SKD_NODE_STAGE_TIMES`` names, or ``NO_STAGE_TIMES`` when it is unset."""
    path = environ.get(ENVIRONMENT)
    return StageTimes(path) if path else NO_STAGE_TIMES


def stage_durations(frame: dict) -> list[tuple[str, float]]:
    """A written frame's [(stage, ms spent in it)], in order; a stage passed twice (one output published after
    another) keeps both."""
    marks = frame["marks"]
    return [(stage, (at - marks[i - 1][1]) / 1e6) for i, (stage, at) in enumerate(marks) if i]
