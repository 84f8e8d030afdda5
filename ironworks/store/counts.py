"""Counts of tasks by project, code and status, read in two round trips: what /metrics and
the dashboard's overview show. Exact, since they come from the store's own indexes and the
per-code counts the stats consumer keeps, not from any one process's memory."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from ironworks.model import TaskStatus
from ironworks.store.keys import Keys


@dataclass(frozen=True)
class CodeCounts:
    code_id: str
    code_name: str
    by_status: dict[str, int]  # every task of the code, counted in its latest status


@dataclass(frozen=True)
class ProjectCounts:
    project_id: str
    name: str
    queued: int
    running: int
    codes: list[CodeCounts]

    @property
    def ended(self) -> dict[str, int]:
        """Tasks that ended, per end status, over all the project's codes."""
        ended: dict[str, int] = {}
        for code in self.codes:
            for status, n in code.by_status.items():
                if TaskStatus(status).is_terminal:
                    ended[status] = ended.get(status, 0) + n
        return ended

    @property
    def finished(self) -> int:
        return sum(self.ended.values())


class CountStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def projects(self, project_ids: list[str] | None = None) -> list[ProjectCounts]:
        """The given projects (all when None), by name."""
        k = self._k
        ids = sorted(self._r.smembers(k.projects())) if project_ids is None else project_ids
        with self._r.pipeline(transaction=False) as pipe:
            for project_id in ids:
                pipe.hget(k.project(project_id), "name")
                pipe.zcard(k.project_status(project_id, TaskStatus.QUEUED))
                pipe.zcard(k.project_status(project_id, TaskStatus.RUNNING))
                pipe.hgetall(k.code_names(project_id))
            heads = pipe.execute()
        per_project = [heads[i : i + 4] for i in range(0, len(heads), 4)]
        with self._r.pipeline(transaction=False) as pipe:
            for *_, names in per_project:
                for code_id in names.values():
                    pipe.hgetall(k.code_stats(code_id))
            stats = iter(pipe.execute())
        found = []
        for project_id, (name, queued, running, names) in zip(ids, per_project, strict=True):
            codes = [
                CodeCounts(code_id, code_name, {s: int(n) for s, n in next(stats).items()})
                for code_name, code_id in names.items()
            ]
            if name is not None:
                found.append(ProjectCounts(project_id, name, queued, running, codes))
        return sorted(found, key=lambda p: p.name)
