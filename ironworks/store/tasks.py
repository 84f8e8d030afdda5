"""Task records, one store in three concepts: queueing (store/queueing.py), reading and
logs (store/task_reads.py), and the writes that move a task (store/task_writes.py)."""

from __future__ import annotations

from redis import Redis

from ironworks.store.intake import KnownCodes
from ironworks.store.keys import Keys
from ironworks.store.queueing import Queueing, with_seqs, write_new, write_new_many
from ironworks.store.scripts import Scripts
from ironworks.store.task_reads import SCAN_BATCH, TaskFilter
from ironworks.store.task_writes import (
    HANDED_BACK,
    LOG_TRUNCATED_MARK,
    RUNNER_LOST,
    LogAppend,
    TaskWrites,
)

__all__ = [
    "HANDED_BACK", "LOG_TRUNCATED_MARK", "RUNNER_LOST", "SCAN_BATCH", "LogAppend", "TaskFilter",
    "TaskStore", "with_seqs", "write_new", "write_new_many",
]  # fmt: skip


class TaskStore(TaskWrites, Queueing):
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts, retention_s: int) -> None:
        self._r, self._k, self._scripts = redis, keys, scripts
        self._retention_s = retention_s
        self._known = KnownCodes()
