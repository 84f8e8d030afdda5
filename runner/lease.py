"""The runner's side of a task lease: renewed while the container runs, lost for good once
refused, and judged by the runner's own clock while Redis cannot be reached."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from ironworks.store import PASSING_ERRORS
from ironworks.store.tasks import TaskStore


class Lease:
    def __init__(self, tasks: TaskStore, task_id: str, attempt: int, ttl_s: float) -> None:
        self._tasks, self._task_id, self._attempt, self._ttl_s = tasks, task_id, attempt, ttl_s
        self._renewed_at = time.monotonic()

    def renew(self) -> bool:
        """True while the task is still ours. A refusal (cancelled, reaped) is final; an
        unreachable Redis is not, until the lease has surely run out."""
        try:
            owned = self._tasks.renew(self._task_id, self._attempt, time.time(), self._ttl_s)
        except PASSING_ERRORS:
            return not self.surely_expired()
        if owned:
            self._renewed_at = time.monotonic()
        return owned

    @contextlib.contextmanager
    def renewed_meanwhile(self, every_s: float) -> Iterator[None]:
        """Renewed from a thread of its own while the block runs: getting a task's code and
        container ready can outlast the lease when the engine is busy (200 tasks starting at
        once took longer than 15 s each). A refusal is seen by the next renew() after it."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(every_s) and self.renew():
                pass

        renewer = threading.Thread(target=renew, name=f"lease-{self._task_id}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()

    def surely_expired(self) -> bool:
        return time.monotonic() - self._renewed_at > self._ttl_s
