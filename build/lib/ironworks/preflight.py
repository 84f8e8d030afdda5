"""Checks every process makes before it starts serving, and again when asked if it is ready."""

from __future__ import annotations

import logging

import redis

from ironworks.errors import ConfigError
from ironworks.store import Store

log = logging.getLogger(__name__)


def redis_problem(store: Store) -> str | None:
    """Why this Redis is unfit to serve (unreachable, or it may evict our keys), or None."""
    try:
        store.ping()
        policy = store.redis.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:
        log.warning("CONFIG GET is not allowed here; cannot verify maxmemory-policy")
        return None
    except redis.RedisError as e:
        return f"cannot reach Redis: {e}"
    if policy != "noeviction":
        return (
            f"Redis maxmemory-policy is {policy!r}; Ironworks needs 'noeviction' "
            "so that no task record is ever dropped (CONFIG SET maxmemory-policy noeviction)"
        )
    return None


def check_redis(store: Store) -> None:
    """Refuse to start on an unfit Redis."""
    problem = redis_problem(store)
    if problem:
        raise ConfigError(problem)
