"""Batches follow their items through the events stream: counts, release of held items, and
once every item is final the reduce task or the batch's end. Replay-safe: each step is
idempotent, so a redelivered event (after a scheduler crash) changes nothing twice."""

from __future__ import annotations

import json
import time

from ironworks.batch import Batch, BatchStatus
from ironworks.errors import Conflict, NotFound
from ironworks.model import Task, TaskStatus, derived_id, new_task
from ironworks.store import Store
from ironworks.store.events import Event
from ironworks.views import result_value


def track_batches(store: Store, events: list[Event]) -> None:
    """The events of batch items move their batches on (an event says its task's batch; of
    one written before events said it, the task is asked), their records read in one round
    trip. Most tasks are in no batch: their events cost nothing here."""
    unsure = [e.task_id for e in events if e.batch_id is None]
    in_batches = store.tasks.in_batches(unsure) | {e.task_id for e in events if e.batch_id}
    tasks = {t.id: t for t in store.tasks.get_many(sorted(in_batches))}
    for event in events:
        task = tasks.get(event.task_id)
        if task is not None and task.batch_id is not None:
            _track(store, task, event)


def _track(store: Store, task: Task, event: Event) -> None:
    assert task.batch_id is not None
    if task.batch_index is None:
        _settle_reduce(store, task, event.status)
        return
    progress = store.batches.count(task, event.status)
    if progress.status is BatchStatus.CANCELLED and not event.status.is_terminal:
        _cancel_straggler(store, task)  # e.g. a retry queued just before the cancel
    elif progress.status is BatchStatus.RUNNING and progress.all_final:
        _advance(store, store.batches.get(task.batch_id))


def _advance(store: Store, batch: Batch) -> None:
    """Every item is final: queue the reduce, or end the batch."""
    now, running = time.time(), BatchStatus.RUNNING
    if batch.outcome is not BatchStatus.REDUCING:
        msg = f"{batch.failed} of {batch.size} items failed" if batch.failed else None
        store.batches.settle(batch.id, running, batch.outcome, finished_at=now, msg=msg)
        return
    try:
        reduce = _reduce_task(store, batch, now)
    except NotFound:
        msg = "the reduce code is gone"
        store.batches.settle(batch.id, running, BatchStatus.FAILED, finished_at=now, msg=msg)
        return
    store.tasks.enqueue_once(reduce, now)  # a replay finds it and queues nothing
    store.batches.settle(batch.id, running, BatchStatus.REDUCING, reduce_task_id=reduce.id)


def _reduce_task(store: Store, batch: Batch, now: float) -> Task:
    """Its payload: the items' results in payload order, null for an item that failed."""
    assert batch.reduce_code_id is not None and batch.reduce_timeout is not None
    code = store.codes.get(batch.project_id, batch.reduce_code_id)
    results = [
        result_value(t.result) if t.status is TaskStatus.COMPLETE else None
        for t in store.batches.items(batch)
    ]
    return new_task(
        code,
        derived_id("reduce", batch.id),
        json.dumps(results),
        now,
        timeout=batch.reduce_timeout,
        priority=batch.priority,
        batch_id=batch.id,
    )


def _settle_reduce(store: Store, task: Task, status: TaskStatus) -> None:
    assert task.batch_id is not None
    if not task.is_final_as(status):
        return
    if status is TaskStatus.COMPLETE:
        outcome, msg = BatchStatus.COMPLETE, None
    else:
        outcome, msg = BatchStatus.FAILED, f"the reduce task ended {status}"
    store.batches.settle(
        task.batch_id, BatchStatus.REDUCING, outcome, finished_at=time.time(), msg=msg,
        result=task.result if outcome is BatchStatus.COMPLETE else None,
    )  # fmt: skip


def _cancel_straggler(store: Store, task: Task) -> None:
    try:
        store.tasks.cancel(task.project_id, task.id, time.time())
    except Conflict:
        pass  # it ended meanwhile
