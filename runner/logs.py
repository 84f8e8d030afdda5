"""Copies a container's output into the task's log while it runs, in batches, so that the
log can be read live; when the container has exited the runner replaces it with the complete
output the engine kept (runner/execute.py).

The engine hands output over line by line; one store write per line would cap capture at a
few MB/s, so lines are gathered and written when BATCH_BYTES have come in or when the runner's
supervision loop calls flush() (every quarter second), whichever is first.
"""

from __future__ import annotations

import codecs
import logging
import threading
from collections.abc import Iterable

from ironworks.store import PASSING_ERRORS
from ironworks.store.tasks import LogAppend, TaskStore

log = logging.getLogger(__name__)

BATCH_BYTES = 256 * 1024


class LogPump(threading.Thread):
    """Streams output to the store until the output ends, the log is full, or the store
    refuses a write (the task is no longer running under this attempt, and a runner that lost
    its task must not touch its log). The engine keeps draining the container either way."""

    def __init__(
        self, output: Iterable[bytes], tasks: TaskStore, task_id: str, attempt: int, max_bytes: int
    ) -> None:
        super().__init__(name=f"logs-{task_id}", daemon=True)
        self._output, self._tasks = output, tasks
        self._task_id, self._attempt, self._max_bytes = task_id, attempt, max_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._open = True  # False once the log is full, no longer ours, or closed
        self.full = False  # the log reached its cap: it holds the beginning of the output

    def run(self) -> None:
        for chunk in self._output:
            with self._lock:
                self._pending.append(self._decoder.decode(chunk))
                self._pending_bytes += len(chunk)
                if self._pending_bytes >= BATCH_BYTES:
                    self._flush_locked()
                if not self._open:
                    return
        with self._lock:
            self._pending.append(self._decoder.decode(b"", final=True))
            self._flush_locked()

    def close(self) -> None:
        """Write nothing more (the runner is about to put the complete log in place)."""
        with self._lock:
            self._open, self._pending, self._pending_bytes = False, [], 0

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        text = "".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        if not (self._open and text):
            return
        try:
            result = self._tasks.append_log(self._task_id, self._attempt, text, self._max_bytes)
        except PASSING_ERRORS:
            log.warning(
                "task %s: Redis unavailable, %d log bytes dropped", self._task_id, len(text)
            )
            return
        self._open = result is LogAppend.OK
        self.full = result is LogAppend.FULL
