"""Consumers of the events stream: each a consumer group that can stop and resume anywhere."""

from __future__ import annotations

import time
from collections.abc import Callable

from ironworks.errors import Conflict, NotFound
from ironworks.metrics import CONTAINER_START, TASK_RUN, TASK_WAIT, WARM_STARTS
from ironworks.model import RETRIED_STATUSES, Task, TaskStatus, derived_id, retry_of
from ironworks.store import Store
from ironworks.store.activity import End
from ironworks.store.events import Event
from scheduler.batches import track_batches
from scheduler.webhooks import plan_deliveries

# A handler takes a read's events together; each step is replay-safe (an event handled
# twice changes nothing twice), so a read whose handling fails is handled again whole.
Handler = Callable[[Store, list[Event]], None]


def each(handle: Callable[[Store, Event], None]) -> Handler:
    """A handler that takes events one at a time."""

    def handle_each(store: Store, events: list[Event]) -> None:
        for event in events:
            handle(store, event)

    handle_each.__name__ = handle.__name__
    return handle_each


def count_status(store: Store, events: list[Event]) -> None:
    """Per-code counts of tasks by status (`GET codes/{id}/stats`), the timing histograms of
    /metrics and the dashboard's recent activity; replay-safe: an event counted once is
    observed once, and an end is recorded for the dashboard in the same step as its count.
    The tasks take one round trip, the counts another. A new task is counted queued as it is
    stored (add_tasks.lua), and a queued event never counts after that (a hand-back's:
    statuses only move up in rank), so queued events are passed over but for those written
    before events said their batch (and tasks were so counted). The tasks are read before
    the counts are written, and nothing follows the counts but the observations: a handling
    that failed after counting would leave what it counted unobserved when handled again."""
    events = [e for e in events if e.status is not TaskStatus.QUEUED or e.batch_id is None]
    timed = [e.task_id for e in events if e.status is not TaskStatus.QUEUED]
    tasks = {t.id: t for t in store.tasks.get_many(timed)}  # else deleted since
    now = time.time()
    ends = {e.task_id: End.of(tasks[e.task_id], now) for e in events
            if e.status.is_terminal and e.task_id in tasks}  # fmt: skip
    counted = store.events.count_statuses(events, ends)
    for event, new in zip(events, counted, strict=True):
        if new and event.status is not TaskStatus.QUEUED and event.task_id in tasks:
            observe_timings(tasks[event.task_id], event.status)


def observe_timings(task: Task, status: TaskStatus) -> None:
    if status is TaskStatus.RUNNING and task.start_time is not None:
        TASK_WAIT.observe(max(task.start_time - task.created_at - task.delay, 0))
    elif task.start_time is not None and task.end_time is not None:
        TASK_RUN.labels(status).observe(task.end_time - task.start_time)
        if task.usage and "start_seconds" in task.usage:
            _observe_start(task, task.usage)


def _observe_start(task: Task, usage: dict[str, float]) -> None:
    warm = usage.get("warm")  # absent: a cold start
    start = "cold" if warm is None else "warm_hit" if warm else "warm_miss"
    CONTAINER_START.labels(start).observe(usage["start_seconds"])
    if warm is not None:
        WARM_STARTS.labels(task.project_id, task.code_name, "hit" if warm else "miss").inc()


def retry_failed(store: Store, event: Event) -> None:
    """Queue a task that ended in error, timeout or killed again while its retries last."""
    if event.status not in RETRIED_STATUSES:
        return
    try:
        task = store.tasks.get(event.task_id)
    except NotFound:
        return  # nothing left to retry
    if task.should_retry:
        now = time.time()
        store.tasks.enqueue_once(retry_of(task, derived_id("retry", task.id), now), now)


def follow_dependencies(store: Store, event: Event) -> None:
    """Admit, re-point or cancel the tasks that wait for the one that ended."""
    if event.status.is_terminal:
        store.dependencies.follow(event.task_id)


def cascade_to_children(store: Store, event: Event) -> None:
    """A task that ends cancels the children it queued with `cascade` that are unfinished;
    others it leaves running (docs/worker-contract.md)."""
    if not event.status.is_terminal:
        return
    for child_id in store.tasks.children_of(event.task_id):
        try:
            child = store.tasks.get(child_id)
            if child.cascade and not child.status.is_terminal:
                msg = f"Cancelled: its parent {event.task_id} ended {event.status}"
                store.tasks.cancel(child.project_id, child_id, time.time(), msg=msg)
        except (NotFound, Conflict):
            pass  # deleted by retention, or it ended meanwhile


CONSUMERS: dict[str, Handler] = {
    "stats": count_status,
    "retries": each(retry_failed),
    "webhooks": each(plan_deliveries),
    "batches": track_batches,
    "dependencies": each(follow_dependencies),
    "children": each(cascade_to_children),
}


def consume_once(
    store: Store, group: str, consumer: str, handle: Handler, block_ms: int | None = 1000
) -> int:
    """Handle one read's worth of events, the backlog first (see handle_all)."""
    return handle_all(store, group, store.events.read(group, consumer, block_ms=block_ms), handle)


def handle_all(store: Store, group: str, events: list[Event], handle: Handler) -> int:
    """The events are acknowledged (in one call) only once their handler has succeeded."""
    if events:
        handle(store, events)
        store.events.ack(group, events)
    return len(events)


class Consumer:
    """A consumer group's reader in the scheduler. It looks for a backlog (entries its own
    failed handler left, or a dead consumer's) when it starts, after a failure and every
    SWEEP_S; other reads take new entries only. What it handled is acknowledged with its next
    read, in the same round trip (`flush` at the end): one round trip a read, not three.

    Under a stream of events it reads at most every LINGER_S: the first event after a quiet
    spell is handled at once, the ones behind it together (one read and one acknowledgement
    for many, rather than for each: six groups read every event)."""

    SWEEP_S = 5.0
    LINGER_S = 0.05
    COUNT = 100

    def __init__(self, store: Store, group: str, name: str, handle: Handler) -> None:
        self._store, self._group, self._name, self._handle = store, group, name, handle
        self._sweep_at = 0.0
        self._busy = False  # the last read found events, but fewer than COUNT
        self._handled: list[Event] = []  # not yet acknowledged

    def step(self, block_ms: int | None = 1000) -> int:
        events, reads = [], self._store.events
        if time.monotonic() >= self._sweep_at:
            events = reads.read_backlog(self._group, self._name, self.COUNT, ack=self._handled)
            self._handled = []
            if not events:  # nothing left behind: look again in SWEEP_S
                self._sweep_at = time.monotonic() + self.SWEEP_S
        if not events:
            if self._busy:
                time.sleep(self.LINGER_S)
            events = reads.read_new(self._group, self._name, self.COUNT, block_ms,
                                    ack=self._handled)  # fmt: skip
            self._handled = []
        self._busy = 0 < len(events) < self.COUNT
        try:
            if events:
                self._handle(self._store, events)
        except BaseException:
            self._sweep_at = 0.0  # what failed is the next step's to read again
            raise
        self._handled = events
        return len(events)

    def flush(self) -> None:
        """Acknowledge what was handled since the last read (when the scheduler stops)."""
        self._store.events.ack(self._group, self._handled)
        self._handled = []
