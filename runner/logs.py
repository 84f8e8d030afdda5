"""Copies a container's output into the task's log while it runs."""

from __future__ import annotations

import codecs
import logging
import threading
from collections.abc import Iterable

import redis

from ironworks.store.tasks import LogAppend, TaskStore

log = logging.getLogger(__name__)


class LogPump(threading.Thread):
    """Streams output chunks to the store until the output ends, the log is full, or the store
    refuses a write (the task is no longer running under this attempt, and a runner that lost
    its task must not touch its log). The engine keeps draining the container either way."""

    def __init__(
        self, output: Iterable[bytes], tasks: TaskStore, task_id: str, attempt: int, max_bytes: int
    ) -> None:
        super().__init__(name=f"logs-{task_id}", daemon=True)
        self._output, self._tasks = output, tasks
        self._task_id, self._attempt, self._max_bytes = task_id, attempt, max_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def run(self) -> None:
        for chunk in self._output:
            if not self._append(self._decoder.decode(chunk)):
                return
        self._append(self._decoder.decode(b"", final=True))

    def _append(self, text: str) -> bool:
        """Whether to go on reading."""
        if not text:
            return True
        try:
            result = self._tasks.append_log(self._task_id, self._attempt, text, self._max_bytes)
        except (redis.ConnectionError, redis.TimeoutError):
            log.warning(
                "task %s: Redis unavailable, %d log bytes dropped", self._task_id, len(text)
            )
            return True
        return result is LogAppend.OK
