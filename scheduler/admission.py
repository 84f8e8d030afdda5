"""Admission rounds: promote due delayed tasks, admit per project, dispatch."""

from __future__ import annotations

import time

from ironworks.metrics import TASKS_ADMITTED
from ironworks.runner_beats import slots_by_cluster
from ironworks.store import Store
from scheduler.dispatch import Dispatcher


def run_round(
    store: Store, dispatcher: Dispatcher, dispatch_lease_s: float, heartbeat_s: float | None = None
) -> int:
    """One pass over every project with waiting work, the least recently served first (so
    a project's backlog delays another by one turn); returns how many tasks were admitted.

    With `heartbeat_s` (the runners' heartbeat interval) a cluster with live runners gets at
    most as many tasks admitted and not started as its runners have slots: the rest wait
    here, where projects and keys take turns, not in the runners' first-come queues.
    """
    now = time.time()
    store.admission.promote_due(now)
    projects = store.admission.ready_projects()
    if not projects:
        return 0
    ahead = None
    if heartbeat_s is not None:
        ahead = slots_by_cluster(store.runners.list(), now, heartbeat_s)
    admitted = 0
    for project_id in projects:
        admissions = store.admission.admit(project_id, dispatch_lease_s, ahead)
        for admission in admissions:
            dispatcher.dispatch(admission)
        if admissions:
            store.admission.served(project_id, now)
        TASKS_ADMITTED.labels(project_id).inc(len(admissions))
        admitted += len(admissions)
    return admitted
