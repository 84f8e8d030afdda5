"""A project's secrets, sealed (ironworks/secrets.py): Redis never holds a value in plain text."""

from __future__ import annotations

from collections.abc import Iterator

from redis import Redis

from ironworks.store.keys import Keys


class SecretStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def put(self, project_id: str, name: str, sealed: str, now: float) -> bool:
        """Store a sealed value; True if the name is new."""
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self._k.project_secrets(project_id), name, sealed)
            pipe.hset(self._k.project_secrets_updated(project_id), name, now)
            created, _ = pipe.execute()
        return bool(created)

    def names(self, project_id: str) -> dict[str, float]:
        """Name -> when it was last set."""
        raw = self._r.hgetall(self._k.project_secrets_updated(project_id))
        return {name: float(at) for name, at in sorted(raw.items())}

    def missing(self, project_id: str, names: list[str]) -> list[str]:
        """Of `names`, those the project has no secret for."""
        return [name for name, value in self.sealed(project_id, names).items() if value is None]

    def sealed(self, project_id: str, names: list[str]) -> dict[str, str | None]:
        """Name -> sealed value (None: no such secret)."""
        if not names:
            return {}
        found = self._r.hmget(self._k.project_secrets(project_id), names)
        return dict(zip(names, found, strict=True))

    def delete(self, project_id: str, name: str) -> bool:
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hdel(self._k.project_secrets(project_id), name)
            pipe.hdel(self._k.project_secrets_updated(project_id), name)
            removed, _ = pipe.execute()
        return bool(removed)

    def every_sealed(self, project_ids: list[str]) -> Iterator[tuple[str, str, str]]:
        """(project id, name, sealed value) of every secret of these projects."""
        for project_id in project_ids:
            for name, sealed in self._r.hgetall(self._k.project_secrets(project_id)).items():
                yield project_id, name, sealed

    def reseal(self, project_id: str, name: str, old: str, new: str) -> bool:
        """Replace a sealed value if it is still `old` (a secret set meanwhile stays)."""
        key = self._k.project_secrets(project_id)
        with self._r.pipeline(transaction=True) as pipe:
            pipe.watch(key)
            if pipe.hget(key, name) != old:
                return False
            pipe.multi()
            pipe.hset(key, name, new)
            pipe.execute()
        return True
