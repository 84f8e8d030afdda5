"""Checks every process makes before it starts serving, and again when asked if it is ready."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from ironworks.errors import ConfigError
from ironworks.store import Store

log = logging.getLogger(__name__)


# Past this share of maxmemory, readiness reports the pressure before writes are refused.
MEMORY_WARNING_SHARE = 0.9


@dataclass(frozen=True)
class MemoryUse:
    used_bytes: int
    max_bytes: int  # 0: no budget set

    @property
    def share(self) -> float:
        return self.used_bytes / self.max_bytes if self.max_bytes else 0.0

    def as_json(self) -> dict[str, object]:
        return {"used_bytes": self.used_bytes, "max_bytes": self.max_bytes,
                "percent": round(100 * self.share, 1)}  # fmt: skip


def memory_use(store: Store) -> MemoryUse:
    info = store.redis.info("memory")
    return MemoryUse(int(info["used_memory"]), int(info.get("maxmemory", 0)))


def redis_problem(store: Store) -> str | None:
    """Why this Redis cannot serve now (unreachable, full, or it may evict our keys), or None."""
    problem = _unfit(store)
    if problem:
        return problem
    memory = memory_use(store)
    if memory.max_bytes and memory.used_bytes >= memory.max_bytes:
        return (
            f"Redis is full ({memory.used_bytes} of {memory.max_bytes} bytes of maxmemory): "
            "it refuses writes; free memory (retention, see docs/operations.md) or raise it"
        )
    return None


def _unfit(store: Store) -> str | None:
    """Why this Redis is no place for Ironworks at all (unreachable, or it may evict)."""
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
    """Refuse to start on an unfit Redis (a full one is not: starting may be what frees it)."""
    problem = _unfit(store)
    if problem:
        raise ConfigError(problem)
