"""Removes task containers that no live runner owns any more, on this Docker host.

A container belongs to a task attempt (its labels). Once that attempt no longer owns the task —
the task ended, was cancelled, or was reaped and retried after its runner died — the container
is an orphan: it is killed and removed, whichever runner on this host started it.
"""

from __future__ import annotations

import logging
import threading
import time

from ironworks.errors import NotFound
from ironworks.model import TaskStatus
from ironworks.store import PASSING_ERRORS, Store
from runner.engine import Container, DriverError, Engine
from runner.spec import LABEL_FRESH_UNTIL

log = logging.getLogger(__name__)

INTERVAL_S = 2.0
# A waiting warm container past its freshness this long has lost its warmer (runner gone).
WARM_GRACE_S = 60.0


def is_orphan(store: Store, container: Container, now: float) -> bool:
    owner = container.owner()
    if owner is None:  # a warm container still waiting: its warmer retires it in time
        return float(container.labels.get(LABEL_FRESH_UNTIL, 0)) + WARM_GRACE_S < now
    task_id, attempt = owner
    try:
        task = store.tasks.get(task_id)
    except NotFound:
        return True
    return not (task.status is TaskStatus.RUNNING and task.attempt == attempt)


class Janitor:
    """Removes a container only when it was an orphan at two sweeps in a row: a live owner
    cleans up its own cancelled or finished task's container well within one interval."""

    def __init__(self, store: Store, engine: Engine, instance_id: str) -> None:
        self._store, self._engine, self._instance_id = store, engine, instance_id
        self._suspects: set[str] = set()

    def sweep(self) -> int:
        orphans = {
            c.id: c
            for c in self._engine.containers_of(self._instance_id)
            if is_orphan(self._store, c, time.time())
        }
        removed = 0
        for container_id in orphans.keys() & self._suspects:
            container = orphans[container_id]
            container.remove()
            log.warning("removed orphaned container %s (%s)", container.id[:12], container.owner())
            removed += 1
        self._suspects = orphans.keys() - self._suspects
        return removed


def run(store: Store, engine: Engine, instance_id: str, stop: threading.Event) -> None:
    """The janitor's thread in the runner: sweeps until `stop` is set."""
    janitor = Janitor(store, engine, instance_id)
    while not stop.wait(INTERVAL_S):
        try:
            janitor.sweep()
        except (*PASSING_ERRORS, DriverError) as e:
            log.warning("janitor: %s; retrying", e)
