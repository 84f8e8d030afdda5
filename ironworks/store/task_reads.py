"""Reading tasks: one, many, a filtered page, waiting for an end, and their logs."""

from __future__ import annotations

import builtins
import codecs
import time
from dataclasses import dataclass

from redis import Redis

from ironworks.codec import from_hash
from ironworks.errors import NotFound
from ironworks.model import Task, TaskStatus
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts

# Listing with a filter no index answers checks this many records per round trip.
SCAN_BATCH = 1000


@dataclass(frozen=True)
class TaskFilter:
    """What GET tasks may ask for; empty fields match everything."""

    statuses: frozenset[TaskStatus] = frozenset()
    code_id: str | None = None
    label: str | None = None
    from_time: float | None = None
    to_time: float | None = None

    @property
    def conditions(self) -> int:
        """How many of the fields are set."""
        fields = (self.code_id, self.label, self.from_time, self.to_time)
        return bool(self.statuses) + sum(f is not None for f in fields)


class TaskReads:
    _r: Redis
    _k: Keys
    _scripts: Scripts

    def get(self, task_id: str) -> Task:
        raw = self._r.hgetall(self._k.task(task_id))
        if not raw:
            raise NotFound("Task not found")
        return from_hash(Task, raw)

    def get_in_project(self, project_id: str, task_id: str) -> Task:
        return _in_project(self._r.hgetall(self._k.task(task_id)), project_id)

    def get_linked(self, project_id: str, task_id: str, token_hash: str | None = None) -> Linked:
        """A task of the project and the tasks that depend on it, and the project of
        `token_hash` if given (the API's token lookup, made in the same read): one round
        trip."""
        with self._r.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._k.task(task_id))
            pipe.smembers(self._k.dependents(task_id))
            if token_hash:
                pipe.get(self._k.token(token_hash))
            raw, dependents, *owner = pipe.execute()
        return Linked(raw, project_id, sorted(dependents), owner[0] if owner else None)

    def list(
        self, project_id: str, where: TaskFilter | None = None, offset: int = 0, limit: int = 30
    ) -> builtins.list[Task]:
        """Newest first. Reads the narrowest index: when it alone answers the filter, only
        the page of it; otherwise Redis checks the rest of the filter on the records, a slice
        of the index at a time, and only the page's records are read whole."""
        where = where or TaskFilter()
        index, exact = self._index_for(project_id, where)
        if exact:
            return self.get_many(self._r.zrevrange(index, offset, offset + limit - 1))
        matched: builtins.list[str] = []
        cursor = 0
        while len(matched) < offset + limit:
            read, *found = self._scripts.scan_tasks(
                index=index,
                first=cursor,
                last=cursor + SCAN_BATCH - 1,
                statuses=",".join(sorted(where.statuses)),
                code_id=where.code_id,
                label=where.label,
                from_time=where.from_time,
                to_time=where.to_time,
            )
            matched += found
            cursor += read
            if read < SCAN_BATCH:
                break
        return self.get_many(matched[offset : offset + limit])

    def _index_for(self, project_id: str, where: TaskFilter) -> tuple[str, bool]:
        """The index to walk, and whether it answers the whole filter by itself."""
        k = self._k
        if len(where.statuses) == 1:
            index, covered = k.project_status(project_id, next(iter(where.statuses))), 1
        elif where.code_id:
            index, covered = k.code_tasks(where.code_id), 1
        else:
            index, covered = k.project_tasks(project_id), 0
        return index, where.conditions == covered

    def children_of(self, task_id: str) -> builtins.list[str]:
        """The tasks this one queued from inside its container."""
        return sorted(self._r.smembers(self._k.children(task_id)))

    def tree_counts(self, task_id: str, most: int = 10_000) -> tuple[dict[str, int], bool]:
        """How many tasks below this one are in each status (children, theirs, ...), read
        for `most` tasks at most; and whether that was all of them."""
        counts: dict[str, int] = {}
        below, seen = self.children_of(task_id), 0
        while below and seen < most:
            batch, below = below[: most - seen], below[most - seen :]
            for task in self.get_many(batch):
                counts[task.status] = counts.get(task.status, 0) + 1
                below += self.children_of(task.id) if task.children else []
            seen += len(batch)
        return counts, not below

    def get_many(self, ids: builtins.list[str]) -> builtins.list[Task]:
        with self._r.pipeline(transaction=False) as pipe:
            for task_id in ids:
                pipe.hgetall(self._k.task(task_id))
            return [from_hash(Task, raw) for raw in pipe.execute() if raw]

    def in_batches(self, ids: builtins.list[str]) -> set[str]:
        """Which of these tasks are a batch's (an item or its reduce)."""
        with self._r.pipeline(transaction=False) as pipe:
            for task_id in ids:
                pipe.hget(self._k.task(task_id), "batch_id")
            return {task_id for task_id, batch in zip(ids, pipe.execute(), strict=True) if batch}

    def wait_for_end(self, project_id: str, task_id: str, timeout_s: float) -> Task:
        """The task as soon as it has ended, or as it is after timeout_s. Listens before it
        reads, so an end between the read and the wait is not missed."""
        with self._r.pubsub(ignore_subscribe_messages=True) as ended:
            ended.subscribe(self._k.task_ended(task_id))
            deadline = time.monotonic() + timeout_s
            task = self.get_in_project(project_id, task_id)
            while not task.status.is_terminal and (left := deadline - time.monotonic()) > 0:
                if ended.get_message(timeout=left) is not None:
                    task = self.get(task_id)
            return task

    def status(self, task_id: str) -> TaskStatus | None:
        raw = self._r.hget(self._k.task(task_id), "status")
        return None if raw is None else TaskStatus(raw)

    def log(self, task_id: str) -> str:
        return self._r.get(self._k.task_log(task_id)) or ""

    def log_tail(self, task_id: str, max_bytes: int) -> str:
        """The log's last `max_bytes` at most (a character cut in two at the start is
        replaced), read without loading the rest: a failed item's log may be megabytes."""
        raw = self._r.execute_command(
            "GETRANGE", self._k.task_log(task_id), -max_bytes, -1, NEVER_DECODE=True
        )
        return (raw or b"").decode(errors="replace")

    def log_since(self, task_id: str, offset: int) -> tuple[str, int]:
        """The log's text from byte `offset` on, and the offset to ask from next time (a
        character cut in two by the end is left for then)."""
        raw = self._r.execute_command(
            "GETRANGE", self._k.task_log(task_id), offset, -1, NEVER_DECODE=True
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = decoder.decode(raw or b"", final=False)
        pending = len(decoder.getstate()[0])
        return text, offset + len(raw or b"") - pending


@dataclass(frozen=True)
class Linked:
    raw: dict[str, str]  # the task's hash, as read
    project_id: str
    dependents: list[str]  # the ids of the tasks that depend on it
    token_owner: str | None = None  # the project of the token looked up, if one was

    def task(self) -> Task:
        """The task, or a 404 if the project has none of that id."""
        return _in_project(self.raw, self.project_id)


def _in_project(raw: dict[str, str], project_id: str) -> Task:
    if not raw or raw.get("project_id") != project_id:
        raise NotFound("Task not found")
    return from_hash(Task, raw)
