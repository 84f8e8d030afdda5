"""Schedules and the index of when each is due."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from redis import Redis

from ironworks.codec import from_hash, to_hash
from ironworks.errors import Conflict, NotFound
from ironworks.schedules import Schedule
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts


class ScheduleStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts) -> None:
        self._r, self._k, self._scripts = redis, keys, scripts

    def create(self, schedules: Sequence[Schedule]) -> None:
        """All or none."""
        with self._r.pipeline(transaction=True) as pipe:
            for schedule in schedules:
                pipe.hset(self._k.schedule(schedule.id), mapping=to_hash(schedule))
                pipe.zadd(
                    self._k.project_schedules(schedule.project_id),
                    {schedule.id: schedule.created_at},
                )
                pipe.zadd(self._k.due_schedules(), {schedule.id: schedule.next_start})
            pipe.execute()

    def get(self, project_id: str, schedule_id: str) -> Schedule:
        raw = self._r.hgetall(self._k.schedule(schedule_id))
        if not raw or raw.get("project_id") != project_id:
            raise NotFound("Schedule not found")
        return from_hash(Schedule, raw)

    def list(self, project_id: str, offset: int, limit: int) -> builtins.list[Schedule]:
        ids = self._r.zrevrange(self._k.project_schedules(project_id), offset, offset + limit - 1)
        with self._r.pipeline(transaction=False) as pipe:
            for schedule_id in ids:
                pipe.hgetall(self._k.schedule(schedule_id))
            return [from_hash(Schedule, raw) for raw in pipe.execute() if raw]

    def cancel(self, schedule: Schedule) -> None:
        if schedule.status != "scheduled":
            raise Conflict(f"Schedule is already {schedule.status}")
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._k.schedule(schedule.id), mapping={"status": "cancelled", "msg": "Cancelled"}
            )
            pipe.zrem(self._k.due_schedules(), schedule.id)
            pipe.execute()

    def due(self, now: float, limit: int = 500) -> builtins.list[tuple[Schedule, str]]:
        """Due schedules with the raw next_start each was read with (the claim's fence)."""
        ids = self._r.zrangebyscore(self._k.due_schedules(), "-inf", now, start=0, num=limit)
        found = []
        for schedule_id in ids:
            raw = self._r.hgetall(self._k.schedule(schedule_id))
            if raw.get("status") != "scheduled" or not raw.get("next_start"):
                self._r.zrem(self._k.due_schedules(), schedule_id)
            elif float(raw["next_start"]) <= now:
                found.append((from_hash(Schedule, raw), raw["next_start"]))
            # else another scheduler fired it between the two reads: the next one is not due
        return found

    def record_fire(
        self, schedule: Schedule, read_as: str, now: float, following: float | None, why: str | None
    ) -> bool:
        return (
            self._scripts.fire(
                schedule=self._k.schedule(schedule.id),
                due=self._k.due_schedules(),
                schedule_id=schedule.id,
                seen_next=read_as,
                now=now,
                next_due="" if following is None else repr(following),
                why=why or "",
            )
            == 1
        )
