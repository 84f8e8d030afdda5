"""Batches: many tasks of one code queued as one, their progress counted from the events
stream (O(1) Redis work per item event, however large the batch)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from redis import Redis

from ironworks.batch import Batch, BatchStatus
from ironworks.codec import from_hash, to_hash
from ironworks.errors import Conflict, NotFound
from ironworks.model import Task, TaskStatus, admission_score
from ironworks.store.constants import expiring_member
from ironworks.store.keys import Keys
from ironworks.store.retention import RetentionStore
from ironworks.store.scripts import Scripts
from ironworks.store.tasks import TaskStore, write_new_many

READ_CHUNK = 500  # items read per round trip when walking a batch
CHUNK = 2000  # items encoded at a time when a batch is created
ENDED = (BatchStatus.COMPLETE, BatchStatus.FAILED, BatchStatus.CANCELLED)


@dataclass(frozen=True)
class BatchProgress:
    status: BatchStatus
    done: int
    size: int

    @property
    def all_final(self) -> bool:
        return self.done >= self.size


class BatchStore:
    def __init__(
        self, redis: Redis, keys: Keys, scripts: Scripts, tasks: TaskStore,
        retention: RetentionStore,
    ) -> None:  # fmt: skip
        self._retention = retention
        self._r, self._k, self._scripts, self._tasks = redis, keys, scripts, tasks

    def create(self, batch: Batch, items: Iterable[Task], now: float) -> list[str]:
        """Store the batch and all its items (batch.size of them, numbered: their seqs
        reserved), all or none (one MULTI); returns their ids. Items past the batch's
        max_concurrency are held back; each item that ends releases the next one.

        The items are taken CHUNK at a time, each chunk's records encoded and let go: what
        the API holds for a batch of 100,000 is their ids and encoded records, not 100,000
        task objects."""
        k = self._k
        admissible = batch.max_concurrency or batch.size
        ids: list[str] = []
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(k.batch(batch.id), mapping=to_hash(batch))
            pipe.zadd(k.project_batches(batch.project_id), {batch.id: now})
            pipe.hset(k.batch_counts(batch.id), str(TaskStatus.QUEUED), batch.size)
            it = iter(items)
            while chunk := list(itertools.islice(it, CHUNK)):
                first = len(ids)
                ids += [t.id for t in chunk]
                pipe.hset(k.batch_items(batch.id),
                          mapping={str(first + i): t.id for i, t in enumerate(chunk)})  # fmt: skip
                write_new_many(pipe, k, self._scripts,
                               [(t, first + i < admissible) for i, t in enumerate(chunk)],
                               now)  # fmt: skip
                held = {t.id: admission_score(t.priority, t.seq)
                        for i, t in enumerate(chunk) if first + i >= admissible}  # fmt: skip
                if held:
                    pipe.zadd(k.batch_held(batch.id), held)
            if len(ids) != batch.size:
                raise ValueError(f"a batch of {batch.size} was given {len(ids)} items")
            pipe.execute()
        return ids

    # -- reading --------------------------------------------------------------------------
    def get(self, batch_id: str) -> Batch:
        raw = self._r.hgetall(self._k.batch(batch_id))
        if not raw:
            raise NotFound("Batch not found")
        return from_hash(Batch, raw)

    def get_in_project(self, project_id: str, batch_id: str) -> Batch:
        batch = self.get(batch_id)
        if batch.project_id != project_id:
            raise NotFound("Batch not found")
        return batch

    def list(self, project_id: str, offset: int, limit: int) -> list[Batch]:
        """Newest first."""
        ids = self._r.zrevrange(self._k.project_batches(project_id), offset, offset + limit - 1)
        with self._r.pipeline(transaction=False) as pipe:
            for batch_id in ids:
                pipe.hgetall(self._k.batch(batch_id))
            return [from_hash(Batch, raw) for raw in pipe.execute() if raw]

    def counts(self, batch_id: str) -> dict[str, int]:
        """Items per status of their latest task (statuses no item is in are left out)."""
        raw = self._r.hgetall(self._k.batch_counts(batch_id))
        return {status: int(n) for status, n in raw.items() if int(n)}

    def items(self, batch: Batch) -> Iterator[Task]:
        """Each item's latest task, in the order of the batch's payloads."""
        for start in range(0, batch.size, READ_CHUNK):
            indexes = range(start, min(start + READ_CHUNK, batch.size))
            ids = self._r.hmget(self._k.batch_items(batch.id), [str(i) for i in indexes])
            yield from self._tasks.get_many(ids)

    # -- kept from the events stream -------------------------------------------------------
    def count(self, task: Task, status: TaskStatus) -> BatchProgress:
        """Count an item's task as being in `status` (an event; nothing changes if it is not
        newer than what was counted for the item) and tell where the batch stands."""
        assert task.batch_id is not None and task.batch_index is not None
        k, batch_id = self._k, task.batch_id
        final = task.is_final_as(status)
        status_, done, size = self._scripts.batch_count(
            batch=k.batch(batch_id),
            seen=k.batch_seen(batch_id),
            counts=k.batch_counts(batch_id),
            items=k.batch_items(batch_id),
            held=k.batch_held(batch_id),
            waiting=k.waiting(task.code_id),
            waiting_lanes=k.project_waiting_codes(task.project_id),
            ready_projects=k.ready_projects(),
            wake=k.scheduler_wake(),
            index=task.batch_index,
            task_id=task.id,
            status=status,
            order=task.retry_count * 10 + status.rank,
            final=final,
            failed=final and status is not TaskStatus.COMPLETE,
            code_id=task.code_id,
            project_id=task.project_id,
        )
        return BatchProgress(BatchStatus(status_), int(done), int(size))

    def settle(self, batch_id: str, expected: BatchStatus | None, new: BatchStatus, **fields):
        """Move the batch from `expected` (None: any unfinished status) to `new`, setting
        `fields` with it; False if it was not in `expected`."""
        expires_at: float | str = ""
        if new in ENDED:  # retention starts with the end
            project_id = self._r.hget(self._k.batch(batch_id), "project_id") or ""
            expires_at = time.time() + self._retention.retention_of(project_id)
        return self._scripts.batch_settle(
            batch=self._k.batch(batch_id),
            expiring=self._k.expiring(),
            expected="*" if expected is None else expected,
            status=new,
            expires_at=expires_at,
            member=expiring_member("batch", batch_id),
            fields=[v for name, value in fields.items()
                    for v in (name, "" if value is None else value)],
        ) == 1  # fmt: skip

    def cancel(self, batch: Batch, now: float) -> Batch:
        """Stop releasing held items, then cancel every item (and the reduce) not yet ended."""
        if not self.settle(batch.id, None, BatchStatus.CANCELLED, finished_at=now):
            raise Conflict(f"Batch is already {self.get(batch.id).status}")
        self._r.delete(self._k.batch_held(batch.id))
        unfinished = [t for t in self.items(batch) if not t.status.is_terminal]
        if batch.reduce_task_id:
            unfinished.append(self._tasks.get(batch.reduce_task_id))
        for task in unfinished:
            try:
                self._tasks.cancel(batch.project_id, task.id, now)
            except (Conflict, NotFound):
                pass  # it ended on its own meanwhile
        return self.get(batch.id)
