"""Checks every process makes before it starts serving."""

from __future__ import annotations

import logging

import redis

from ironworks.errors import ConfigError
from ironworks.store import Store

log = logging.getLogger(__name__)


def check_redis(store: Store) -> None:
    """Refuse to run on a Redis that is unreachable or may evict our keys."""
    try:
        store.ping()
        policy = store.redis.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ConnectionError as e:
        raise ConfigError(f"cannot reach Redis: {e}") from e
    except redis.ResponseError:
        log.warning("CONFIG GET is not allowed here; cannot verify maxmemory-policy")
        return
    if policy != "noeviction":
        raise ConfigError(
            f"Redis maxmemory-policy is {policy!r}; Ironworks needs 'noeviction' "
            "so that no task record is ever dropped (CONFIG SET maxmemory-policy noeviction)"
        )
