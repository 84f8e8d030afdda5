"""The scheduler's view of the store: what waits, and the atomic admission step."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis

from ironworks.model import Task, admission_score
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts


@dataclass(frozen=True)
class Admission:
    task_id: str
    attempt: int
    cluster: str


class AdmissionStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts) -> None:
        self._r, self._k, self._scripts = redis, keys, scripts

    def ready_projects(self) -> list[str]:
        return sorted(self._r.smembers(self._k.ready_projects()))

    def admit(
        self, project_id: str, dispatch_lease_s: float = 60, per_code: int = 16
    ) -> list[Admission]:
        """Admit what the project's limits allow, looking at most `per_code` deep per code.

        Each admitted task must be started by a runner within `dispatch_lease_s` or the
        reaper looks at it again.
        """
        k = self._k
        code_ids = sorted(self._r.smembers(k.project_waiting_codes(project_id)))
        with self._r.pipeline(transaction=False) as pipe:
            for code_id in code_ids:
                pipe.zrange(k.waiting(code_id), 0, per_code - 1)
            heads: list[list[str]] = pipe.execute()
        keys = [
            k.project(project_id),
            k.project_active(project_id),
            k.project_waiting_codes(project_id),
            k.ready_projects(),
            k.leases(),
        ]
        args: list[object] = [project_id, time.time() + dispatch_lease_s, len(code_ids)]
        for code_id, candidates in zip(code_ids, heads, strict=True):
            keys += [k.code(code_id), k.waiting(code_id), k.code_active(code_id)]
            args += [code_id, len(candidates), *candidates]
        keys += [k.task(task_id) for candidates in heads for task_id in candidates]
        flat = self._scripts.run("admit", keys, args)
        assert isinstance(flat, list)
        return [Admission(flat[i], int(flat[i + 1]), flat[i + 2]) for i in range(0, len(flat), 3)]

    def promote_due(self, now: float, limit: int = 500) -> int:
        """Move delayed tasks whose time has come onto their wait queues."""
        k = self._k
        due = self._r.zrangebyscore(k.delayed(), "-inf", now, start=0, num=limit)
        moved = 0
        for task_id in due:
            fields = self._r.hmget(k.task(task_id), "code_id", "project_id", "priority", "seq")
            code_id, project_id, priority, seq = fields
            if code_id is None:  # the record is gone; drop the dangling entry
                self._r.zrem(k.delayed(), task_id)
                continue
            keys = [
                k.delayed(),
                k.waiting(code_id),
                k.project_waiting_codes(project_id),
                k.ready_projects(),
            ]
            score = admission_score(int(priority), int(seq))
            moved += int(self._scripts.run("promote", keys, [task_id, score, code_id, project_id]))
        return moved

    def expired_leases(self, now: float, limit: int = 500) -> list[str]:
        return self._r.zrangebyscore(self._k.leases(), "-inf", now, start=0, num=limit)

    def extend_lease(self, task_id: str, until: float) -> None:
        """Only for a lease that exists: never resurrect one a finish has removed."""
        self._r.zadd(self._k.leases(), {task_id: until}, xx=True)

    def requeue(self, task: Task, now: float) -> bool:
        """Give an admitted task that no runner started back to admission, freeing its slot."""
        k = self._k
        keys = [
            k.task(task.id),
            k.leases(),
            k.project_active(task.project_id),
            k.code_active(task.code_id),
            k.waiting(task.code_id),
            k.project_waiting_codes(task.project_id),
            k.ready_projects(),
            k.scheduler_wake(),
        ]
        score = admission_score(task.priority, task.seq)
        args = [task.id, task.attempt, now, score, task.code_id, task.project_id]
        return self._scripts.run("requeue", keys, args) == 1

    def forget_lease(self, task_id: str) -> None:
        """Drop a lease entry whose task record is gone."""
        self._r.zrem(self._k.leases(), task_id)

    def wait_for_work(self, timeout_s: float) -> None:
        """Block until something may be admissible (a task queued or a slot freed) or timeout."""
        self._r.blpop([self._k.scheduler_wake()], timeout=timeout_s)
