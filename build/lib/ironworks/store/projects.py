"""Projects and the hashed tokens that authenticate them."""

from __future__ import annotations

from redis import Redis

from ironworks.codec import from_hash, to_hash
from ironworks.errors import NotFound
from ironworks.model import Project
from ironworks.store.keys import Keys


class ProjectStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def create(self, project: Project, token_hash: str) -> None:
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self._k.project(project.id), mapping=to_hash(project))
            pipe.sadd(self._k.projects(), project.id)
            pipe.set(self._k.token(token_hash), project.id)
            pipe.execute()

    def get(self, project_id: str) -> Project:
        raw = self._r.hgetall(self._k.project(project_id))
        if not raw:
            raise NotFound("Project not found")
        return from_hash(Project, raw)

    def id_for_token(self, token_hash: str) -> str | None:
        return self._r.get(self._k.token(token_hash))
