"""Copies a container's output into the task's log while it runs."""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterable

from ironworks.store.tasks import TaskStore


class LogPump(threading.Thread):
    """Streams output chunks to the store until the container's output ends.

    Stops writing (but keeps draining) once the store refuses a write: the task is no longer
    running under this attempt, and a runner that lost its task must not touch its log.
    """

    def __init__(
        self, output: Iterable[bytes], tasks: TaskStore, task_id: str, attempt: int, max_bytes: int
    ) -> None:
        super().__init__(name=f"logs-{task_id}", daemon=True)
        self._output, self._tasks = output, tasks
        self._task_id, self._attempt, self._max_bytes = task_id, attempt, max_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def run(self) -> None:
        owned = True
        for chunk in self._output:
            text = self._decoder.decode(chunk)
            if owned and text:
                owned = self._tasks.append_log(self._task_id, self._attempt, text, self._max_bytes)
        tail = self._decoder.decode(b"", final=True)
        if owned and tail:
            self._tasks.append_log(self._task_id, self._attempt, tail, self._max_bytes)
