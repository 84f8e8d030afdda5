"""The admission loop: promote due delayed tasks, admit per project, dispatch, wait."""

from __future__ import annotations

import logging
import threading
import time

from ironworks.store import Store
from scheduler.dispatch import Dispatcher

log = logging.getLogger(__name__)


def run_round(store: Store, dispatcher: Dispatcher, round_no: int) -> int:
    """One pass over every project with waiting work; returns how many tasks were admitted."""
    store.admission.promote_due(time.time())
    projects = store.admission.ready_projects()
    if not projects:
        return 0
    # Start each round at a different project so none is always served last.
    start = round_no % len(projects)
    admitted = 0
    for project_id in projects[start:] + projects[:start]:
        for admission in store.admission.admit(project_id):
            dispatcher.dispatch(admission)
            admitted += 1
    return admitted


def run(store: Store, dispatcher: Dispatcher, idle_wait_s: float, stop: threading.Event) -> None:
    round_no = 0
    while not stop.is_set():
        admitted = run_round(store, dispatcher, round_no)
        round_no += 1
        if admitted:
            log.info("admitted %d task(s)", admitted)
        else:
            store.admission.wait_for_work(idle_wait_s)
