"""Replays: tasks run again by hand on their code's current revision (docs/flow-control.md),
one at a time or every task a filter matches; for the API and the dashboard alike."""

from __future__ import annotations

from ironworks.model import Task, new_id, replay
from ironworks.store import Store
from ironworks.store.tasks import TaskFilter

MAX_REPLAYS = 10_000  # tasks one bulk replay queues at most
CHUNK = 1000  # stored all or none, a chunk at a time


def replay_task(store: Store, original: Task, now: float, payload: str | None = None) -> Task:
    """A copy of `original` queued on its code's current revision (with a new payload, if
    given)."""
    code = store.codes.get(original.project_id, original.code_id)
    (copy,) = store.tasks.enqueue([replay(original, code, new_id(), now, payload)], now)
    return copy


def replay_matching(
    store: Store, project_id: str, where: TaskFilter, limit: int, now: float
) -> list[Task]:
    """Copies of the tasks `where` matches, oldest first, `limit` at most."""
    originals = store.tasks.list(project_id, where, limit=limit)[::-1]
    current = {c: store.codes.get(project_id, c) for c in {t.code_id for t in originals}}
    copies = [replay(t, current[t.code_id], new_id(), now) for t in originals]
    for start in range(0, len(copies), CHUNK):
        store.tasks.enqueue(copies[start : start + CHUNK], now)
    return copies
