"""Admission rounds: promote due delayed tasks, admit per project, dispatch."""

from __future__ import annotations

import time

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
        for admission in store.admission.admit(project_id, dispatch_lease_s):
            dispatcher.dispatch(admission)
            admitted += 1
    return admitted
