"""Admission rounds: promote due delayed tasks, admit per project, dispatch."""

from __future__ import annotations

import time

from ironworks.metrics import TASKS_ADMITTED
from ironworks.runner_beats import slots_by_cluster
from ironworks.store import Store
from scheduler.dispatch import Dispatcher

# Projects whose admission one step reads, decides and dispatches together (a few round trips
# for them all): many projects cost a round trip per step, not several per project.
PROJECTS_PER_STEP = 100


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
    for at in range(0, len(projects), PROJECTS_PER_STEP):
        step = store.admission.admit_many(projects[at : at + PROJECTS_PER_STEP],
                                          dispatch_lease_s, ahead)  # fmt: skip
        dispatcher.dispatch_many([a for admissions in step.values() for a in admissions])
        store.admission.served([p for p, admissions in step.items() if admissions], now)
        for project_id, admissions in step.items():
            TASKS_ADMITTED.labels(project_id).inc(len(admissions))
            admitted += len(admissions)
    return admitted
