"""Recent activity the dashboard charts: tasks ended per minute by status (per project) and
the run times of each code's latest tasks. Written once per ended task by the stats
consumer; O(1) per task, and reading an hour of it is one round trip."""

from __future__ import annotations

from redis import Redis

from ironworks.store.keys import Keys

KEEP_MINUTES_S = 2 * 3600
KEEP_DURATIONS = 500


class ActivityStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def record_end(
        self, project_id: str, code_id: str, status: str, ended_at: float, run_s: float | None
    ) -> None:
        minute_key = self._k.project_minute(project_id, int(ended_at // 60))
        with self._r.pipeline(transaction=False) as pipe:
            pipe.hincrby(minute_key, status, 1)
            pipe.expire(minute_key, KEEP_MINUTES_S)
            if run_s is not None:
                pipe.lpush(self._k.code_durations(code_id), round(run_s, 3))
                pipe.ltrim(self._k.code_durations(code_id), 0, KEEP_DURATIONS - 1)
            pipe.execute()

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
