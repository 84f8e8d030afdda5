"""What a task's container used: peak memory and CPU seconds, sampled from the engine.

The engine's counters vanish with the container's cgroup when it exits, so they are read
once a second while it runs; the figures are those of the last sample (a task shorter than a
second reports what one early sample saw, or nothing).
"""

from __future__ import annotations

import threading

from runner.docker_driver import TaskContainer

INTERVAL_S = 1.0


class UsageSampler(threading.Thread):
    def __init__(self, container: TaskContainer) -> None:
        super().__init__(name="usage", daemon=True)
        self._container = container
        self._stop_event = threading.Event()
        self.peak_memory_bytes = 0
        self.cpu_seconds = 0.0

    def run(self) -> None:
        while not self._stop_event.wait(INTERVAL_S if self.peak_memory_bytes else 0.2):
            sample = self._container.usage()
            if sample is None:
                return  # the container has gone
            memory, cpu = sample
            self.peak_memory_bytes = max(self.peak_memory_bytes, memory)
            self.cpu_seconds = max(self.cpu_seconds, cpu)

    def finish(self) -> dict[str, float] | None:
        self._stop_event.set()
        self.join(INTERVAL_S)
        if not self.peak_memory_bytes:
            return None
        return {
            "peak_memory_bytes": self.peak_memory_bytes,
            "cpu_seconds": round(self.cpu_seconds, 3),
        }
