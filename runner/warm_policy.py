"""How large each warm pool should be: the decisions the warmer acts on, as pure functions of
demand (tasks started per code revision in the last few seconds), what is pooled and the
memory budget."""

from __future__ import annotations

import collections
from collections.abc import Callable


def shortfall(
    demand: dict[str, int],
    pooled: collections.Counter[str],
    memory_mb: Callable[[str], int | None],
    budget_mb: int,
    max_per_code: int,
) -> tuple[list[str], str | None]:
    """The containers to prestart now, as one key per container: busiest codes first, each
    pool (waiting and being made) up to its recent demand and at most max_per_code, all within
    `budget_mb`; and the busiest key left short by the budget, if any.

    memory_mb(key) is the key's memory limit, or None when it is not to be warmed (no longer
    the current revision, or larger than the whole budget); it is asked only about pools
    that are short.
    """
    wanted: list[str] = []
    for key, recent in sorted(demand.items(), key=lambda kv: -kv[1]):
        missing = min(max(recent, 1), max_per_code) - pooled[key]
        if missing <= 0:
            continue
        memory = memory_mb(key)
        if memory is None:
            continue
        for _ in range(missing):
            if memory > budget_mb:
                return wanted, key
            wanted.append(key)
            budget_mb -= memory
    return wanted, None


def make_room_from(starved: str, demand: dict[str, int], waiting: dict[str, int]) -> str | None:
    """The budget is spent and `starved`'s pool is short: the pool to retire one waiting
    container from (its memory goes to `starved` at a later tick), the quietest that is
    quieter and at most half as busy; None if there is none. At most half, so that two codes
    about as busy do not take the budget from each other in turn."""
    busy = demand[starved]
    quieter = [
        (recent, key)
        for key, count in waiting.items()
        if count and (recent := demand.get(key, 0)) < busy and 2 * recent <= busy
    ]
    return min(quieter)[1] if quieter else None
