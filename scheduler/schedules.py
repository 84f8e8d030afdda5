"""Fires due schedules: one task per due time, however many schedulers run, across restarts.

The task for a due time has an id derived from (schedule, due time) and is created only if it
does not exist yet; the fire is then recorded with a claim fenced by the due time read. A
scheduler that dies between the two leaves a task the next attempt finds, so nothing fires
twice and nothing is lost.
"""

from __future__ import annotations

import logging

from ironworks.errors import NotFound
from ironworks.model import Task, derived_id, new_task
from ironworks.schedules import Schedule, after_firing
from ironworks.store import Store

log = logging.getLogger(__name__)


def fire_due(store: Store, now: float, default_timeout_s: int) -> int:
    fired = 0
    for schedule, read_as in store.schedules.due(now):
        due = schedule.next_start
        assert due is not None
        following, why = after_firing(schedule, due, now)
        try:
            task = _task_for(store, schedule, due, default_timeout_s)
        except NotFound:
            log.warning("schedule %s: code %r is gone; skipping", schedule.id, schedule.code_name)
        else:
            store.tasks.enqueue_once(task, now)
        if store.schedules.record_fire(schedule, read_as, now, following, why):
            fired += 1
    return fired


def _task_for(store: Store, schedule: Schedule, due: float, default_timeout_s: int) -> Task:
    code = store.codes.by_name(schedule.project_id, schedule.code_name)
    return new_task(
        code,
        derived_id("schedule", f"{schedule.id}:{due!r}"),
        schedule.payload,
        due,
        timeout=code.timeout_for(schedule.timeout, default_timeout_s),
        priority=schedule.priority,
        cluster=schedule.cluster,
        label=schedule.label,
    )
