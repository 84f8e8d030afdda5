"""Task records: queueing, the runner's fenced writes, cancellation, listing and logs."""

from __future__ import annotations

import codecs
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from redis import Redis, WatchError

from ironworks.codec import from_hash, to_hash
from ironworks.errors import Conflict, NotFound
from ironworks.model import Task, TaskStatus, admission_score
from ironworks.store import dependencies
from ironworks.store.constants import EVENTS_MAXLEN, wake_scheduler
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts

# Listing with a filter no index answers checks this many records per round trip.
SCAN_BATCH = 1000

RUNNER_LOST = "runner lost"
HANDED_BACK = "handed back by a stopping runner"
LOG_TRUNCATED_MARK = "\n[ironworks] log truncated: the task wrote more than its log cap\n"


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


class LogAppend(IntEnum):
    OK = 1
    FULL = 0  # the cap is reached: the log ends with the truncation mark
    REFUSED = -1  # the writer no longer owns the task


class TaskStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts, retention_s: int) -> None:
        self._r, self._k, self._scripts = redis, keys, scripts
        self._retention_s = retention_s

    # -- queueing -----------------------------------------------------------------------
    def enqueue(self, tasks: Sequence[Task], now: float) -> list[Task]:
        """Store tasks and put them up for admission, all or none (one MULTI).

        A task whose idempotency key is still held by an earlier task of its project (from an
        earlier request, or earlier in this one) is not stored: the earlier task takes its
        place in what is returned, so a caller sees a repeat by its id.
        """
        try:
            return self._enqueue(tasks, now)
        except WatchError:  # a concurrent request claimed one of the keys: now it is seen
            return self._enqueue(tasks, now)

    def _enqueue(self, tasks: Sequence[Task], now: float) -> list[Task]:
        k = self._k
        key_of = {t.id: k.idempotency(t.project_id, t.idempotency_key) for t in tasks
                  if t.idempotency_key}  # fmt: skip
        with self._r.pipeline(transaction=True) as pipe:
            if key_of:
                pipe.watch(*key_of.values())
            holder = self._holders(pipe, set(key_of.values()))
            fresh: list[Task] = []
            for task in tasks:
                key = key_of.get(task.id)
                if key is None or key not in holder:
                    fresh.append(task)
                if key is not None:
                    holder.setdefault(key, task)  # later tasks with its key repeat it
            stored = {t.id: t for t in numbered(self._r, k, fresh)}
            pipe.multi()
            for task in stored.values():
                write_new(pipe, k, task, now, admissible=not task.depends_on)
                if task.depends_on:
                    dependencies.wait_on(pipe, k, self._scripts, task)
                if task.id in key_of:
                    holder[key_of[task.id]] = task
                    pipe.set(key_of[task.id], task.id, ex=task.idempotency_ttl_s)
            wake_scheduler(pipe, k.scheduler_wake())
            pipe.execute()
        return [stored.get(t.id) or holder[key_of[t.id]] for t in tasks]

    def _holders(self, pipe, keys: set[str]) -> dict[str, Task]:
        """The tasks that hold these idempotency keys (read under WATCH). A key whose task
        retention has deleted holds nothing."""
        held = {key: task_id for key in keys if (task_id := pipe.get(key))}
        tasks = {t.id: t for t in self.get_many(list(held.values()))}
        return {key: tasks[task_id] for key, task_id in held.items() if task_id in tasks}

    def enqueue_once(self, task: Task, now: float) -> bool:
        """Enqueue a task whose id is derived from its cause, unless it already exists.

        For consumers that may see an event twice: the second call finds the task and does
        nothing. One WATCHed transaction, no retry loop: if it aborts, the other one won.
        """
        with self._r.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(self._k.task(task.id))
                if pipe.exists(self._k.task(task.id)):
                    return False
                seq = int(pipe.incr(self._k.task_seq()))
                pipe.multi()
                write_new(pipe, self._k, dataclasses.replace(task, seq=seq), now)
                wake_scheduler(pipe, self._k.scheduler_wake())
                pipe.execute()
                return True
            except WatchError:
                return False

    # -- reading --------------------------------------------------------------------------
    def get(self, task_id: str) -> Task:
        raw = self._r.hgetall(self._k.task(task_id))
        if not raw:
            raise NotFound("Task not found")
        return from_hash(Task, raw)

    def get_in_project(self, project_id: str, task_id: str) -> Task:
        task = self.get(task_id)
        if task.project_id != project_id:
            raise NotFound("Task not found")
        return task

    def list(
        self, project_id: str, where: TaskFilter | None = None, offset: int = 0, limit: int = 30
    ) -> list[Task]:
        """Newest first. Reads the narrowest index: when it alone answers the filter, only
        the page of it; otherwise Redis checks the rest of the filter on the records, a slice
        of the index at a time, and only the page's records are read whole."""
        where = where or TaskFilter()
        index, exact = self._index_for(project_id, where)
        if exact:
            return self.get_many(self._r.zrevrange(index, offset, offset + limit - 1))
        matched: list[str] = []
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

    def get_many(self, ids: list[str]) -> list[Task]:
        with self._r.pipeline(transaction=False) as pipe:
            for task_id in ids:
                pipe.hgetall(self._k.task(task_id))
            return [from_hash(Task, raw) for raw in pipe.execute() if raw]

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

    # -- the runner's writes, each fenced by the attempt it was dispatched with --------------
    def take(self, task_id: str, attempt: int, runner: str, now: float, lease_s: float) -> bool:
        """A runner took the attempt's job: until it starts the task, the runner's lease (not
        the dispatch lease) covers it. False: the attempt is no longer one to start."""
        k = self._k
        taken = self._scripts.take(task=k.task(task_id), leases=k.leases(), task_id=task_id,
                                   attempt=attempt, runner=runner, until=now + lease_s)  # fmt: skip
        return taken == 1

    def start(self, task: Task, attempt: int, runner: str, now: float, lease_s: float) -> bool:
        k = self._k
        return (
            self._scripts.start(
                task=k.task(task.id),
                queued_index=k.project_status(task.project_id, TaskStatus.QUEUED),
                running_index=k.project_status(task.project_id, TaskStatus.RUNNING),
                events=k.events(),
                leases=k.leases(),
                dispatched=k.dispatched(task.cluster),
                wake=k.scheduler_wake(),
                task_id=task.id,
                attempt=attempt,
                now=now,
                runner=runner,
                until=now + lease_s,
            )
            == 1
        )

    def set_progress(self, task_id: str, attempt: int | None, percent: int, msg: str) -> bool:
        """False when the task is not running (under that attempt, if one is given)."""
        task = self._k.task(task_id)
        return self._scripts.progress(task=task, attempt=attempt, percent=percent, msg=msg) == 1

    def renew(self, task_id: str, attempt: int, now: float, lease_s: float) -> bool:
        """Extend the lease; False means this runner no longer owns the task."""
        k = self._k
        return self._scripts.renew(task=k.task(task_id), leases=k.leases(), task_id=task_id,
                                   attempt=attempt, until=now + lease_s) == 1  # fmt: skip

    def append_log(self, task_id: str, attempt: int, chunk: str, max_bytes: int) -> LogAppend:
        k = self._k
        return LogAppend(self._scripts.append_log(
            task=k.task(task_id), log=k.task_log(task_id), attempt=attempt, chunk=chunk,
            max_bytes=max_bytes, mark=LOG_TRUNCATED_MARK,
        ))  # fmt: skip

    def finish(
        self,
        task: Task,
        attempt: int,
        status: TaskStatus,
        *,
        now: float,
        exit_code: int | None = None,
        msg: str = "",
        result: str | None = None,
        usage: dict[str, float] | None = None,
    ) -> bool:
        """Record the end of a running task. False if this attempt no longer owns it."""
        return self._transition(
            task, TaskStatus.RUNNING, attempt, status, now, exit_code, msg, result, usage=usage
        )

    def reap(self, task: Task, now: float, *, lease_expired: bool = True) -> bool:
        """End a running task whose runner is gone: `killed`, slot freed.

        The reaper passes lease_expired=True, so a lease renewed at the last moment wins; a
        runner reclaiming its own leftovers after a restart knows their owner is dead.
        """
        return self._transition(
            task, TaskStatus.RUNNING, task.attempt, TaskStatus.KILLED, now, None, RUNNER_LOST,
            None, lease_expired=lease_expired,
        )  # fmt: skip

    def hand_back(self, task: Task, attempt: int) -> bool:
        """A stopping runner returns a running task to admission, to run again elsewhere
        (not counted as a retry). False if the attempt no longer owns the task."""
        k = self._k
        return (
            self._scripts.hand_back(
                task=k.task(task.id),
                running_index=k.project_status(task.project_id, TaskStatus.RUNNING),
                queued_index=k.project_status(task.project_id, TaskStatus.QUEUED),
                project_active=k.project_active(task.project_id),
                code_active=k.code_active(task.code_id),
                leases=k.leases(),
                waiting=k.waiting(task.lane),
                waiting_lanes=k.project_waiting_codes(task.project_id),
                ready_projects=k.ready_projects(),
                events=k.events(),
                wake=k.scheduler_wake(),
                lane_active=k.lane_active(task.lane),
                task_id=task.id,
                attempt=attempt,
                score=admission_score(task.priority, task.seq),
                lane=task.lane,
                project_id=task.project_id,
                msg=HANDED_BACK,
                code_id=task.code_id,
            )
            == 1
        )

    def give_up(self, task: Task, now: float, msg: str) -> bool:
        """End an admitted task no runner managed to start: `killed`, slot freed."""
        return self._transition(
            task, TaskStatus.QUEUED, task.attempt, TaskStatus.KILLED, now, None, msg, None
        )

    def cancel(
        self, project_id: str, task_id: str, now: float, msg: str = "Cancelled by user"
    ) -> Task:
        """Cancel a queued or running task; a runner running it sees the status and stops."""
        for _ in range(5):  # retried only if the task moved between our read and the script
            task = self.get_in_project(project_id, task_id)
            if task.status.is_terminal:
                raise Conflict(f"Task is already {task.status}")
            done = self._transition(
                task, task.status, None, TaskStatus.CANCELLED, now, None, msg, None
            )
            if done:
                return self.get(task_id)
        raise Conflict("Task is changing state; try again")

    def _transition(
        self,
        task: Task,
        expected: TaskStatus,
        attempt: int | None,
        new: TaskStatus,
        now: float,
        exit_code: int | None,
        msg: str,
        result: str | None,
        lease_expired: bool = False,
        usage: dict[str, float] | None = None,
    ) -> bool:
        k = self._k
        return (
            self._scripts.finish(
                task=k.task(task.id),
                from_index=k.project_status(task.project_id, expected),
                to_index=k.project_status(task.project_id, new),
                project_active=k.project_active(task.project_id),
                code_active=k.code_active(task.code_id),
                waiting=k.waiting(task.lane),
                delayed=k.delayed(),
                events=k.events(),
                wake=k.scheduler_wake(),
                leases=k.leases(),
                ended=k.task_ended(task.id),
                project=k.project(task.project_id),
                expiring=k.expiring(),
                lane_active=k.lane_active(task.lane),
                dispatched=k.dispatched(task.cluster),
                task_id=task.id,
                expected=expected,
                attempt=attempt,
                status=new,
                exit_code=exit_code,
                msg=msg,
                now=now,
                result=result or "",
                reaped=lease_expired,
                usage=json.dumps(usage) if usage else "",
                retention_s=self._retention_s,
            )
            == 1
        )


def numbered(redis: Redis, keys: Keys, tasks: Sequence[Task]) -> list[Task]:
    """The tasks with consecutive seqs: unique, and in arrival order even within a request."""
    first = int(redis.incrby(keys.task_seq(), len(tasks))) - len(tasks) + 1
    return [dataclasses.replace(t, seq=first + i) for i, t in enumerate(tasks)]


def write_new(pipe, k: Keys, task: Task, now: float, *, admissible: bool = True) -> None:
    """Store a new task and its indexes (ordered by seq) on a transaction pipeline.

    An admissible task goes to its wait queue (or the delayed set); one that is not (a batch
    item held back by the batch's max_concurrency) is put somewhere by the caller.
    """
    pipe.hset(k.task(task.id), mapping=to_hash(task))
    pipe.zadd(k.project_tasks(task.project_id), {task.id: task.seq})
    pipe.zadd(k.project_status(task.project_id, task.status), {task.id: task.seq})
    pipe.zadd(k.code_tasks(task.code_id), {task.id: task.seq})
    if admissible and task.delay > 0:
        pipe.zadd(k.delayed(), {task.id: now + task.delay})
    elif admissible:
        pipe.zadd(k.waiting(task.lane), {task.id: admission_score(task.priority, task.seq)})
        pipe.sadd(k.project_waiting_codes(task.project_id), task.lane)
        pipe.sadd(k.ready_projects(), task.project_id)
    pipe.xadd(k.events(), _event(task, TaskStatus.QUEUED), maxlen=EVENTS_MAXLEN)


def _event(task: Task, status: TaskStatus) -> dict[str, str | int]:
    return {
        "task_id": task.id,
        "project_id": task.project_id,
        "code_id": task.code_id,
        "status": str(status),
        "attempt": task.attempt,
    }
