"""Recent activity the dashboard charts: tasks ended per minute by status (per project) and
the run times of each code's latest tasks. Written once per ended task, by count_status.lua in
the same step as the end's count (the stats consumer, store/events.py); O(1) per task, and
reading an hour of it is one round trip."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from ironworks.model import Task
from ironworks.store.keys import Keys

KEEP_MINUTES_S = 2 * 3600
KEEP_DURATIONS = 500


@dataclass(frozen=True)
class End:
    """What the dashboard keeps of a task's end: when (its minute) and its run time."""

    ended_at: float
    run_s: float | None  # None: it never started

    @classmethod
    def of(cls, task: Task, now: float) -> End:
        ended_at = task.end_time or now
        run_s = None if task.start_time is None else round(ended_at - task.start_time, 3)
        return cls(ended_at, run_s)


class ActivityStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def ended_per_minute(self, project_id: str, now: float, minutes: int = 60) -> list[dict]:
        """Oldest first: for each of the last `minutes` minutes, status -> tasks ended."""
        last = int(now // 60)
        with self._r.pipeline(transaction=False) as pipe:
            for minute in range(last - minutes + 1, last + 1):
                pipe.hgetall(self._k.project_minute(project_id, minute))
            return [{s: int(n) for s, n in raw.items()} for raw in pipe.execute()]

    def run_times(self, code_ids: list[str]) -> dict[str, list[float]]:
        with self._r.pipeline(transaction=False) as pipe:
            for code_id in code_ids:
                pipe.lrange(self._k.code_durations(code_id), 0, -1)
            found = pipe.execute()
        return {
            code_id: [float(v) for v in values]
            for code_id, values in zip(code_ids, found, strict=True)
        }
