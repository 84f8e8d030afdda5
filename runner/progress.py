"""Passes a task's own progress reports ($PROGRESS_FILE) on to the store while it runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ironworks.model import Task
from ironworks.store import PASSING_ERRORS
from ironworks.store.tasks import TaskStore
from runner import taskdir

# Tasks may rewrite the file in a tight loop; the store hears of it at most this often.
RELAY_INTERVAL_S = 1.0


class ProgressRelay:
    def __init__(
        self, tasks: TaskStore, task: Task, task_dir: Path, mask: Callable[[str], str] = str
    ) -> None:
        self._tasks, self._task, self._task_dir, self._mask = tasks, task, task_dir, mask
        self._sent: taskdir.Progress | None = None
        self._checked_at = float("-inf")

    def relay(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._checked_at < RELAY_INTERVAL_S:
            return
        self._checked_at = now
        progress = taskdir.read_progress(self._task_dir)
        if progress is None or progress == self._sent:
            return
        try:
            self._tasks.set_progress(
                self._task.id,
                self._task.attempt,
                progress.percent,
                progress.msg and self._mask(progress.msg),
            )
        except PASSING_ERRORS:
            return  # told again on the next tick
        self._sent = progress
