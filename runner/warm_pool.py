"""The warm pools of one runner, in its memory: containers waiting for a task of their code
revision (by key, see spec.warm_key), those the warmer is making, and the demand that sizes
them. Slots take from it, the warmer fills it; one lock and one condition keep it whole."""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runner import taskdir
from runner.engine import Container

DEMAND_WINDOW_S = 10.0  # a pool is as large as the tasks its code started in this window
# A slot that finds no container waiting but one coming waits for it this long at most
# (a prestart takes 0.3-0.6 s here): it is ready sooner than one made now, which would slow
# both down (engine contention).
COMING_AT_MOST_S = 2.0


@dataclass(eq=False)
class Waiting:
    """A prestarted container and what is kept for it while it waits: its code in the cache
    (a shared lock, which keeps it from eviction) and its task directory."""

    container: Container
    task_dir: Path
    memory_mb: int
    code: contextlib.ExitStack

    @property
    def container_id(self) -> str:
        return self.container.id

    def hand_over(self) -> None:
        """A slot took the container: it holds the code itself, and removes the task
        directory with its task."""
        self.code.close()

    def release(self) -> None:
        self.code.close()
        taskdir.remove(self.task_dir)


@dataclass(eq=False)
class _Coming:
    at: float = field(default_factory=time.monotonic)
    awaited: bool = False


class WarmPool:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: dict[str, list[Waiting]] = collections.defaultdict(list)
        self._coming: dict[str, list[_Coming]] = collections.defaultdict(list)
        self._demand: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )

    def offer(self, key: str, waiting: Waiting) -> None:
        with self._changed:
            self._waiting[key].append(waiting)
            self._changed.notify_all()

    @contextlib.contextmanager
    def announce(self, key: str) -> Iterator[None]:
        """The warmer is making a container of `key` (and offers it before this ends)."""
        coming = _Coming()
        with self._changed:
            self._coming[key].append(coming)
        try:
            yield
        finally:
            with self._changed:
                self._coming[key].remove(coming)
                self._changed.notify_all()

    def take(self, key: str) -> Waiting | None:
        """A waiting container of `key`, oldest first, or one being made that no other slot
        waits for yet (waiting for it at most COMING_AT_MOST_S)."""
        with self._changed:
            if self._waiting[key]:
                return self._waiting[key].pop(0)
            now = time.monotonic()
            coming = next(
                (c for c in self._coming[key] if not c.awaited and now - c.at < COMING_AT_MOST_S),
                None,
            )
            if coming is None:
                return None
            coming.awaited = True  # a second slot makes its own at once
            self._changed.wait_for(
                lambda: self._waiting[key] or coming not in self._coming[key],
                COMING_AT_MOST_S - (now - coming.at),
            )
            return self._waiting[key].pop(0) if self._waiting[key] else None

    def withdraw(self, key: str, container_id: str) -> Waiting | None:
        """The warmer takes a waiting container back; None if a slot took it first."""
        with self._changed:
            for waiting in self._waiting[key]:
                if waiting.container_id == container_id:
                    self._waiting[key].remove(waiting)
                    return waiting
        return None

    def waiting(self) -> dict[str, list[str]]:
        with self._changed:
            return {k: [w.container_id for w in ws] for k, ws in self._waiting.items() if ws}

    def held_mb(self) -> int:
        """Memory limits of the containers waiting, summed."""
        with self._changed:
            return sum(w.memory_mb for ws in self._waiting.values() for w in ws)

    def note_demand(self, key: str) -> None:
        with self._changed:
            self._demand[key].append(time.monotonic())

    def recent_demand(self, idle_s: float) -> dict[str, int]:
        """Per key with a task started within idle_s: how many started within
        DEMAND_WINDOW_S."""
        now = time.monotonic()
        found = {}
        with self._changed:
            for key, times in list(self._demand.items()):
                while times and times[0] < now - idle_s:
                    times.popleft()
                if not times:
                    del self._demand[key]
                    continue
                found[key] = len(times) - _count_before(times, now - DEMAND_WINDOW_S)
        return found


def _count_before(times: collections.deque[float], since: float) -> int:
    return next((i for i, t in enumerate(times) if t >= since), len(times))
