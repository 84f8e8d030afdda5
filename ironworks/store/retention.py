"""Retention: what has ended is deleted once its project's retention period is over, so that
Redis holds the recent past and what is still going on, not all of history.

Ended tasks and batches are put on `expiring` (scored by when they go) in the same step that
ends them (finish.lua, batch_settle.lua); `expire_due` deletes what is due with everything
that points at it. The events stream is trimmed to what every consumer group has read and
acknowledged. Both are idempotent: any number of schedulers may run them at once.
"""

from __future__ import annotations

from redis import Redis, ResponseError

from ironworks.store.constants import parse_expiring
from ironworks.store.keys import Keys


class RetentionStore:
    def __init__(self, redis: Redis, keys: Keys, default_s: int) -> None:
        self._r, self._k, self._default_s = redis, keys, default_s

    def retention_of(self, project_id: str) -> int:
        own = self._r.hget(self._k.project(project_id), "task_retention_s")
        return int(own) if own else self._default_s

    def expire_due(self, now: float, limit: int = 500) -> int:
        """Delete up to `limit` tasks and batches whose retention ended by `now`."""
        due = self._r.zrangebyscore(self._k.expiring(), "-inf", now, start=0, num=limit)
        if not due:
            return 0
        with self._r.pipeline(transaction=False) as pipe:
            for member in due:
                kind, object_id = parse_expiring(member)
                if kind == "task":
                    pipe.hmget(self._k.task(object_id), "project_id", "code_id", "status")
                else:
                    pipe.hmget(self._k.batch(object_id), "project_id")
            owners = pipe.execute()
        with self._r.pipeline(transaction=True) as pipe:
            for member, owner in zip(due, owners, strict=True):
                kind, object_id = parse_expiring(member)
                if kind == "task":
                    self._delete_task(pipe, object_id, *owner)
                else:
                    self._delete_batch(pipe, object_id, owner[0])
                pipe.zrem(self._k.expiring(), member)
            pipe.execute()
        return len(due)

    def _delete_task(self, pipe, task_id: str, project_id, code_id, status) -> None:
        k = self._k
        pipe.delete(
            k.task(task_id),
            k.task_log(task_id),
            k.waits_on(task_id),
            k.dependents(task_id),
            k.children(task_id),
        )
        if project_id is None:
            return  # deleted already (another scheduler got here first)
        pipe.zrem(k.project_tasks(project_id), task_id)
        pipe.zrem(k.project_status(project_id, status), task_id)
        pipe.zrem(k.code_tasks(code_id), task_id)
        pipe.hdel(k.code_stats_seen(code_id), task_id)

    def _delete_batch(self, pipe, batch_id: str, project_id) -> None:
        k = self._k
        pipe.delete(
            k.batch(batch_id), k.batch_items(batch_id), k.batch_counts(batch_id),
            k.batch_seen(batch_id), k.batch_held(batch_id),
        )  # fmt: skip
        if project_id is not None:
            pipe.zrem(self._k.project_batches(project_id), batch_id)

    def trim_events(self) -> int:
        """Drop the events every consumer group has read and acknowledged; returns how many.
        With no group yet (no scheduler ever ran) nothing is dropped but by MAXLEN."""
        stream = self._k.events()
        try:
            groups = self._r.xinfo_groups(stream)
        except ResponseError:  # no stream yet
            return 0
        if not groups:
            return 0
        keep_from = [self._first_needed(g) for g in groups]
        return self._r.xtrim(stream, minid=min(keep_from, key=_stream_id))

    def _first_needed(self, group: dict) -> str:
        """The oldest entry the group may still need: its oldest unacknowledged one, or the
        one after the last it was given."""
        pending = self._r.xpending(self._k.events(), group["name"])
        if pending["pending"]:
            return pending["min"]
        millis, seq = _stream_id(group["last-delivered-id"])
        return f"{millis}-{seq + 1}"


def _stream_id(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)
