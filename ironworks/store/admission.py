"""The scheduler's view of the store: what waits, and the atomic admission step."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from ironworks.model import admission_score
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

    def admit(self, project_id: str, per_code: int = 16) -> list[Admission]:
        """Admit what the project's limits allow, looking at most `per_code` deep per code."""
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
        ]
        args: list[object] = [project_id, len(code_ids)]
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

    def wait_for_work(self, timeout_s: float) -> None:
        """Block until something may be admissible (a task queued or a slot freed) or timeout."""
        self._r.blpop([self._k.scheduler_wake()], timeout=timeout_s)
