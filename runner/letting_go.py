"""Letting go of what a finished task held, off the worker's path to its next task."""

from __future__ import annotations

import contextlib
import logging
import threading

log = logging.getLogger(__name__)


class LettingGo:
    """Lets go of what a task held (its container, its directory, its code) once its end is
    recorded, while the worker takes its next task: the engine's removal of a container is
    neither the user's wait nor the next task's. One task's worth at a time: a worker waits
    for the last removal before it hands over the next, so removals never pile up."""

    def __init__(self) -> None:
        self._last: threading.Thread | None = None

    def later(self, held: contextlib.ExitStack, task_id: str) -> None:
        self.settle()
        self._last = threading.Thread(
            target=self._let_go, args=(held, task_id), name=f"let-go-{task_id}", daemon=True
        )
        self._last.start()

    def settle(self) -> None:
        """Wait until the last task's things are let go of."""
        if self._last is not None:
            self._last.join()

    @staticmethod
    def _let_go(held: contextlib.ExitStack, task_id: str) -> None:
        try:
            held.close()
        except Exception:  # the janitor removes what is left behind
            log.exception("task %s: could not remove its container or directory", task_id)
