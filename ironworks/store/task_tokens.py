"""A running task's credential for the API: made by its runner when the attempt starts, held
by the runner (which serves the task's API socket) and never given to the task, gone when the
attempt ends. The API takes it only while that attempt is the task's running one."""

from __future__ import annotations

import hashlib
import secrets

from redis import Redis

from ironworks.store.keys import Keys

PREFIX = "iwt_"


def is_task_token(token: str) -> bool:
    return token.startswith(PREFIX)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TaskTokenStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def issue(self, task_id: str, attempt: int, ttl_s: int) -> str:
        """A token for this attempt, kept at most `ttl_s` (its timeout and a margin)."""
        token = PREFIX + secrets.token_urlsafe(32)
        self._r.set(self._k.task_token(_hash(token)), f"{task_id}:{attempt}", ex=ttl_s)
        return token

    def holder(self, token: str) -> tuple[str, int] | None:
        """(task id, attempt) the token was issued for, while it is kept."""
        raw = self._r.get(self._k.task_token(_hash(token)))
        if not raw:
            return None
        task_id, _, attempt = raw.partition(":")
        return task_id, int(attempt)

    def revoke(self, token: str) -> None:
        self._r.delete(self._k.task_token(_hash(token)))
