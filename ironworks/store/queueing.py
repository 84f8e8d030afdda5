"""Queueing tasks: storing new ones with their indexes, all or none, and idempotency keys."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from redis import Redis, WatchError

from ironworks.codec import to_hash
from ironworks.errors import NotFound
from ironworks.model import Code, Task, TaskStatus, admission_score
from ironworks.store.codes import code_of_project
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts
from ironworks.store.task_reads import TaskReads


class Queueing(TaskReads):
    """Reads first: a repeated idempotency key is answered with the task that holds it."""

    def intake(self, project_id: str, names: Sequence[str], seqs: int) -> Intake:
        """The codes of these names (a 404 for the first unknown one) and `seqs` seqs reserved
        for the tasks about to be queued (`enqueue(..., numbered=True)`): one round trip."""
        unique = list(dict.fromkeys(names))
        first, *hashes = self._scripts.intake(
            code_names=self._k.code_names(project_id), task_seq=self._k.task_seq(),
            seqs=seqs, names=unique,
        )  # fmt: skip
        codes = {}
        for name, flat in zip(unique, hashes, strict=True):
            if not flat:
                raise NotFound(f"Code {name!r} not found")
            codes[name] = _code_read(tuple(flat), project_id)
        return Intake(codes, int(first))

    def enqueue(self, tasks: Sequence[Task], now: float, *, numbered: bool = False) -> list[Task]:
        """Store tasks and put them up for admission, all or none (one MULTI).

        A task whose idempotency key is still held by an earlier task of its project (from an
        earlier request, or earlier in this one) is not stored: the earlier task takes its
        place in what is returned, so a caller sees a repeat by its id. `numbered`: the
        tasks carry seqs reserved for them (`intake`); else they are numbered here.
        """
        try:
            return self._enqueue(tasks, now, numbered)
        except WatchError:  # a concurrent request claimed one of the keys: now it is seen
            return self._enqueue(tasks, now, numbered)

    def _enqueue(self, tasks: Sequence[Task], now: float, numbered: bool) -> list[Task]:
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
            stored = {t.id: t for t in (fresh if numbered else with_seqs(self._r, k, fresh))}
            pipe.multi()
            write_new_many(pipe, k, self._scripts, [(t, not t.depends_on) for t in stored.values()],
                           now)  # fmt: skip
            for task in stored.values():
                if task.depends_on:
                    wait_on(pipe, k, self._scripts, task)
                if task.id in key_of:
                    holder[key_of[task.id]] = task
                    pipe.set(key_of[task.id], task.id, ex=task.idempotency_ttl_s)
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
                write_new(pipe, self._k, self._scripts, dataclasses.replace(task, seq=seq), now)
                pipe.execute()
                return True
            except WatchError:
                return False


@functools.lru_cache(maxsize=256)
def _code_read(flat: tuple[str, ...], project_id: str) -> Code:
    """A code as intake read it (its hash, flat), decoded once for as long as it is unchanged:
    every request that queues a code's tasks reads the same hash, and decoding it cost
    about 4% of a one-task request's CPU. The key is the whole hash: any change is a miss."""
    return code_of_project(dict(zip(flat[::2], flat[1::2], strict=True)), project_id)


@dataclass(frozen=True)
class Intake:
    codes: dict[str, Code]  # by name
    first_seq: int  # the first of the seqs reserved


def with_seqs(redis: Redis, keys: Keys, tasks: Sequence[Task]) -> list[Task]:
    """The tasks with consecutive seqs: unique, and in arrival order even within a request."""
    first = int(redis.incrby(keys.task_seq(), len(tasks))) - len(tasks) + 1
    return [dataclasses.replace(t, seq=first + i) for i, t in enumerate(tasks)]


def write_new(
    pipe, k: Keys, scripts: Scripts, task: Task, now: float, *, admissible: bool = True
) -> None:
    """Store a new task and its indexes on a transaction pipeline (write_new_many's one)."""
    write_new_many(pipe, k, scripts, [(task, admissible)], now)


def write_new_many(
    pipe, k: Keys, scripts: Scripts, tasks: Sequence[tuple[Task, bool]], now: float
) -> None:
    """Store new tasks and their indexes (ordered by seq) on a transaction pipeline, and
    wake the scheduler: one script (add_tasks.lua) with one argument for it all, each index
    written by one command for all the tasks (a request's tasks share their project's and
    code's indexes).

    An admissible task goes to its wait queue (or the delayed set); one that is not (a batch
    item held back by the batch's max_concurrency, a task waiting on dependencies) is put
    somewhere by the caller.
    """
    scored: dict[str, dict[str, float]] = defaultdict(dict)
    members: dict[str, set[str]] = defaultdict(set)
    children: Counter[str] = Counter()
    records: list[tuple[str, dict[str, str], str, str]] = []
    shared: dict[str, str] | None = None  # the fields every record has alike: sent once
    for task, admissible in tasks:
        record = to_hash(task, omit_none=True)
        if shared is None:
            shared = record
        elif shared:
            shared = {f: v for f, v in shared.items() if record.get(f) == v}
        records.append((task.id, record, k.code_stats(task.code_id),
                        k.code_stats_seen(task.code_id)))  # fmt: skip
        scored[k.project_tasks(task.project_id)][task.id] = task.seq
        scored[k.project_status(task.project_id, task.status)][task.id] = task.seq
        scored[k.code_tasks(task.code_id)][task.id] = task.seq
        if task.parent_id:  # queued from inside a task: the links both ways
            members[k.children(task.parent_id)].add(task.id)
            children[task.parent_id] += 1
        if admissible and task.delay > 0:
            scored[k.delayed()][task.id] = now + task.delay
        elif admissible:
            scored[k.waiting(task.lane)][task.id] = admission_score(task.priority, task.seq)
            members[k.project_waiting_codes(task.project_id)].add(task.lane)
            members[k.ready_projects()].add(task.project_id)
    if not records:
        return
    common = shared or {}
    argument = {
        "shared": [v for pair in common.items() for v in pair],
        "tasks": [[task_id, [v for f, v in record.items() if f not in common for v in (f, v)],
                   stats, seen] for task_id, record, stats, seen in records],
        # Scores as redis-py would send them (repr), so that Lua never rounds one.
        "zadd": [[key, *(v for member, score in scores.items() for v in (repr(score), member))]
                 for key, scores in scored.items()],
        "sadd": [[key, *values] for key, values in members.items()],
    }  # fmt: skip
    queued = TaskStatus.QUEUED
    scripts.add_tasks(events=k.events(), wake=k.scheduler_wake(),
                      tasks=json.dumps(argument, ensure_ascii=False), status=queued,
                      rank=queued.rank, client=pipe)  # fmt: skip
    for parent_id, count in children.items():
        pipe.hincrby(k.task(parent_id), "children", count)


def wait_on(pipe, keys: Keys, scripts: Scripts, task: Task) -> None:
    """Register a new task's dependencies on the MULTI `pipe` that stores it."""
    scripts.wait_on(
        waits_on=keys.waits_on(task.id),
        waiting=keys.waiting(task.lane),
        waiting_lanes=keys.project_waiting_codes(task.project_id),
        ready_projects=keys.ready_projects(),
        dependencies=[key for dep in task.depends_on
                      for key in (keys.task(dep), keys.dependents(dep))],
        task_id=task.id,
        score=admission_score(task.priority, task.seq),
        lane=task.lane,
        project_id=task.project_id,
        dependency_ids=task.depends_on,
        client=pipe,
    )  # fmt: skip
