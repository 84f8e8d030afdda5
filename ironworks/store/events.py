"""The events stream (the outbox): every status change, appended in the same step as the change.

Consumers read it through Redis consumer groups: at-least-once, restartable, and a consumer
that dies leaves its unacknowledged entries to be claimed by another.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis, ResponseError

from ironworks.model import TaskStatus
from ironworks.store.activity import KEEP_DURATIONS, KEEP_MINUTES_S, End
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts

# Entries a dead consumer held longer than this are claimed by a live one.
CLAIM_IDLE_MS = 30_000


@dataclass(frozen=True)
class Event:
    id: str
    task_id: str
    project_id: str
    code_id: str
    status: TaskStatus
    attempt: int
    # The task's batch ("" for none); None for an event written before events said it.
    batch_id: str | None = None


class EventStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts) -> None:
        self._r, self._k, self._scripts = redis, keys, scripts

    def ensure_group(self, group: str) -> None:
        """Create the group at the start of the stream: a new consumer sees all history."""
        try:
            self._r.xgroup_create(self._k.events(), group, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def read(
        self, group: str, consumer: str, count: int = 100, block_ms: int | None = 1000
    ) -> list[Event]:
        """This consumer's own unacknowledged entries first, then stale ones of dead consumers,
        then new ones."""
        return self.read_backlog(group, consumer, count) or self.read_new(
            group, consumer, count, block_ms
        )

    def read_backlog(
        self, group: str, consumer: str, count: int = 100, ack: Sequence[Event] = ()
    ) -> list[Event]:
        """Entries read but not acknowledged: this consumer's own (its handler failed), else
        those of consumers idle longer than CLAIM_IDLE_MS (dead ones), claimed for it. `ack`:
        events handled since the last read, acknowledged first in the same round trip."""
        entries = self._read(group, consumer, "0", count, None, ack)
        if not entries:
            _, entries, _ = self._r.xautoclaim(
                self._k.events(), group, consumer, CLAIM_IDLE_MS, count=count
            )
        return [_decode(entry_id, fields) for entry_id, fields in entries if fields]

    def read_new(
        self, group: str, consumer: str, count: int = 100, block_ms: int | None = 1000,
        ack: Sequence[Event] = (),
    ) -> list[Event]:  # fmt: skip
        """Entries no consumer of the group has read yet (waiting up to `block_ms`). `ack` as
        for read_backlog: under a stream of events, one round trip a read, not two."""
        entries = self._read(group, consumer, ">", count, block_ms, ack)
        return [_decode(entry_id, fields) for entry_id, fields in entries if fields]

    def _read(
        self, group: str, consumer: str, start: str, count: int, block_ms: int | None,
        ack: Sequence[Event],
    ) -> list:  # fmt: skip
        """XREADGROUP's entries from `start` ('0': the consumer's own unacknowledged, '>':
        new ones), with `ack` acknowledged first in the same round trip."""
        with self._r.pipeline(transaction=False) as pipe:
            self.ack(group, ack, client=pipe)
            pipe.xreadgroup(group, consumer, {self._k.events(): start}, count=count, block=block_ms)
            read = pipe.execute()[-1]
        return read[0][1] if read else []

    def ack(self, group: str, events: Sequence[Event], client: Any = None) -> None:
        """Acknowledge handled events, now or on `client` (a pipeline)."""
        if events:
            (client or self._r).xack(self._k.events(), group, *(e.id for e in events))

    def count_statuses(self, events: Sequence[Event], ends: Mapping[str, End]) -> list[bool]:
        """Count each event's status for its code (one pipeline): whether it was new. An end
        in `ends` (by task id) is recorded for the dashboard with its count."""
        now = time.time()
        with self._r.pipeline(transaction=False) as pipe:
            for event in events:
                end = ends.get(event.task_id) if event.status.is_terminal else None
                minute = int((now if end is None else end.ended_at) // 60)
                self._scripts.count_status(
                    stats=self._k.code_stats(event.code_id),
                    seen=self._k.code_stats_seen(event.code_id),
                    minute=self._k.project_minute(event.project_id, minute),
                    durations=self._k.code_durations(event.code_id),
                    task_id=event.task_id,
                    status=event.status,
                    rank=event.status.rank,
                    ended=end is not None,
                    run_s=None if end is None else end.run_s,
                    keep_minute_s=KEEP_MINUTES_S,
                    keep_runs=KEEP_DURATIONS,
                    client=pipe,
                )
            return [counted == 1 for counted in pipe.execute()]


def _decode(entry_id: str, fields: dict[str, str]) -> Event:
    return Event(
        id=entry_id,
        task_id=fields["task_id"],
        project_id=fields["project_id"],
        code_id=fields["code_id"],
        status=TaskStatus(fields["status"]),
        attempt=int(fields.get("attempt") or 0),
        batch_id=fields.get("batch_id"),
    )
