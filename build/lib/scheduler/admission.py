"""Admission rounds: promote due delayed tasks, admit per project, dispatch."""

from __future__ import annotations

import time

from ironworks.metrics import TASKS_ADMITTED
from ironworks.store import Store
from scheduler.dispatch import Dispatcher


def run_round(store: Store, dispatcher: Dispatcher, round_no: int, dispatch_lease_s: float) -> int:
    """One pass over every project with waiting work; returns how many tasks were admitted."""
    store.admission.promote_due(time.time())
    projects = store.admission.ready_projects()
    if not projects:
        return 0
    # Start each round at a different project so none is always served last.
    start = round_no % len(projects)
    admitted = 0
    for project_id in projects[start:] + projects[:start]:
        admissions = store.admission.admit(project_id, dispatch_lease_s)
        for admission in admissions:
            dispatcher.dispatch(admission)
        TASKS_ADMITTED.labels(project_id).inc(len(admissions))
        admitted += len(admissions)
    return admitted
