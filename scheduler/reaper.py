"""Settles tasks whose lease ran out: their runner is gone, or their dispatch was lost."""

from __future__ import annotations

import logging

from ironworks.errors import NotFound
from ironworks.model import TaskStatus
from ironworks.runner_beats import run_queue
from ironworks.store import Store
from scheduler.dispatch import Dispatcher

log = logging.getLogger(__name__)

MAX_DISPATCHES = 5


def reap(store: Store, dispatcher: Dispatcher, now: float, dispatch_lease_s: float) -> int:
    """Settle every expired lease; returns how many tasks were killed or requeued.

    A running task whose runner stopped renewing ends `killed` ("runner lost"); the retries
    consumer then queues it again if its code allows. An admitted task that no runner started
    is requeued, unless its job is still waiting in RQ for a free runner slot; one that a runner
    took but did not start within that runner's lease is requeued without asking RQ (the runner
    is gone, and RQ may say its job started a moment ago).
    """
    settled = 0
    for task_id in store.admission.expired_leases(now):
        try:
            task = store.tasks.get(task_id)
        except NotFound:
            store.admission.forget_lease(task_id)
            continue
        if task.status is TaskStatus.RUNNING and store.tasks.reap(task, now):
            log.warning("task %s: lease expired, runner lost", task_id)
            settled += 1
        elif task.status is TaskStatus.QUEUED:
            queue = run_queue(task.cluster, task.priority)
            if not task.taken_by and dispatcher.is_waiting(task.id, task.attempt, queue):
                store.admission.extend_lease(task.id, now + dispatch_lease_s)
            elif task.attempt >= MAX_DISPATCHES:
                # Runners keep failing before they start it (e.g. a broken runner install):
                # say so on the task instead of trying forever.
                store.tasks.give_up(task, now, f"no runner could start it in {task.attempt} tries")
                log.error("task %s: gave up after %d lost dispatches", task_id, task.attempt)
                settled += 1
            elif store.admission.requeue(task, now):
                lost = f"runner {task.taken_by} took" if task.taken_by else "dispatch of"
                log.warning("task %s: %s attempt %d, lost; requeued", task_id, lost, task.attempt)
                settled += 1
    return settled
