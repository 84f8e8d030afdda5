"""What a task's container used: peak memory and CPU seconds, sampled from the engine.

The engine's counters vanish with the container's cgroup when it exits, so they are read
every few seconds while it runs; the figures are those of the last sample (a short task
reports what one early sample saw, or nothing).
"""

from __future__ import annotations

import threading
import time

from runner.engine import Container

# Sampled soon after the start, each second for a while, then less often: every running task
# on the host is sampled by the runner's one process, and each sample is an engine call.
FIRST_S, INTERVAL_S, LATER_S, LATER_AFTER_S = 0.2, 1.0, 5.0, 10.0


class UsageSampler(threading.Thread):
    def __init__(self, container: Container) -> None:
        super().__init__(name="usage", daemon=True)
        self._container = container
        self._stop_event = threading.Event()
        self.peak_memory_bytes = 0
        self.cpu_seconds = 0.0

    def run(self) -> None:
        started = time.monotonic()
        while not self._stop_event.wait(self._next_wait(time.monotonic() - started)):
            sample = self._container.usage()
            if sample is None:
                return  # the container has gone
            memory, cpu = sample
            self.peak_memory_bytes = max(self.peak_memory_bytes, memory)
            self.cpu_seconds = max(self.cpu_seconds, cpu)

    def _next_wait(self, running_s: float) -> float:
        if not self.peak_memory_bytes:
            return FIRST_S
        return INTERVAL_S if running_s < LATER_AFTER_S else LATER_S

    def finish(self) -> dict[str, float] | None:
        self._stop_event.set()
        self.join(INTERVAL_S)
        if not self.peak_memory_bytes:
            return None
        return {
            "peak_memory_bytes": self.peak_memory_bytes,
            "cpu_seconds": round(self.cpu_seconds, 3),
        }
