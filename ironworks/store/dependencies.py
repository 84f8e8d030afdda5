"""Dependencies: a task with `depends_on` is admitted once every task it names is complete,
and ends `cancelled` when one of them ends otherwise (after its retries).

A dependent stays off its wait queue until then: `wait_on.lua` registers it in the MULTI
that stores it (queueing.wait_on), and each end of a dependency moves it on (`settle`),
from the scheduler's events consumer and once more right after queueing (a dependency may
have ended in between).
Every step is idempotent, so a replayed event or a second scheduler changes nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from redis import Redis

from ironworks.errors import Conflict, NotFound
from ironworks.model import Task, TaskStatus, admission_score, derived_id
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts

if TYPE_CHECKING:
    from ironworks.store.tasks import TaskStore


class DependencyStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts, tasks: TaskStore) -> None:
        self._r, self._k, self._scripts, self._tasks = redis, keys, scripts, tasks

    def dependents(self, task_id: str) -> list[str]:
        """The tasks that depend on this one, whatever became of them."""
        return sorted(self._r.smembers(self._k.dependents(task_id)))

    def pending(self, task_id: str) -> list[str]:
        """The dependencies this task still waits for."""
        return sorted(self._r.smembers(self._k.waits_on(task_id)))

    def catch_up(self, task: Task) -> None:
        """For a task just queued: a dependency that ended before the task was registered
        had no dependent to move on then."""
        for dep_id in self.pending(task.id):
            self.settle(task.id, dep_id)

    def follow(self, task_id: str) -> None:
        """Move on every task that depends on `task_id` (which has just ended)."""
        for dependent_id in self.dependents(task_id):
            self.settle(dependent_id, task_id)

    def settle(self, dependent_id: str, dep_id: str) -> None:
        """Move a waiting task on as far as the end of one dependency allows."""
        try:
            dependent, dep = self._tasks.get(dependent_id), self._tasks.get(dep_id)
        except NotFound:
            return  # the retry is not queued yet (its own end comes later), or retention ran
        if dependent.status is not TaskStatus.QUEUED or not dep.status.is_terminal:
            return
        if dep.status is TaskStatus.COMPLETE:
            self._ended(dependent, dep_id, retry_id="")
        elif not dep.is_final_as(dep.status):  # a retry follows: wait for it instead
            retry_id = derived_id("retry", dep_id)
            self._ended(dependent, dep_id, retry_id)
            self.settle(dependent_id, retry_id)  # it may have ended already
        else:
            self._cancel(dependent, f"dependency {dep_id} ended {dep.status}")

    def _ended(self, task: Task, dep_id: str, retry_id: str) -> None:
        k = self._k
        self._scripts.dependency_ended(
            task=k.task(task.id),
            waits_on=k.waits_on(task.id),
            waiting=k.waiting(task.lane),
            waiting_lanes=k.project_waiting_codes(task.project_id),
            ready_projects=k.ready_projects(),
            wake=k.scheduler_wake(),
            retry_dependents=k.dependents(retry_id or dep_id),
            task_id=task.id,
            dependency_id=dep_id,
            score=admission_score(task.priority, task.seq),
            lane=task.lane,
            project_id=task.project_id,
            retry_id=retry_id,
        )

    def _cancel(self, task: Task, msg: str) -> None:
        try:
            self._tasks.cancel(task.project_id, task.id, time.time(), msg=msg)
        except Conflict:
            pass  # it ended meanwhile (a user's cancel, or another scheduler's)
