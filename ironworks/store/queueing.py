"""Queueing tasks: storing new ones with their indexes, all or none, and idempotency keys."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Sequence

from redis import Redis, WatchError

from ironworks.codec import to_hashes
from ironworks.model import Task, TaskStatus, admission_score
from ironworks.store.intake import Checked, Intake, KnownCodes, code_read
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts
from ironworks.store.task_reads import TaskReads


class Queueing(TaskReads):
    """Reads first: a repeated idempotency key is answered with the task that holds it."""

    _known: KnownCodes

    def intake(
        self, project_id: str, names: Sequence[str], seqs: int, token_hash: str | None = None
    ) -> Intake:
        """The codes of these names and `seqs` seqs reserved for the tasks about to be queued
        (`enqueue(..., numbered=True)`), and the project of `token_hash` if given (the API's
        token lookup, made in the same read): one round trip."""
        unique = list(dict.fromkeys(names))
        first, owner, *hashes = self._scripts.intake(
            code_names=self._k.code_names(project_id), task_seq=self._k.task_seq(),
            token=self._k.token(token_hash) if token_hash else "", seqs=seqs, names=unique,
        )  # fmt: skip
        read = {name: code_read(tuple(flat), project_id) if flat else None
                for name, flat in zip(unique, hashes, strict=True)}  # fmt: skip
        if token_hash is None or owner == project_id:  # not for a token turned away here
            self._known.keep(project_id, read)
        codes = {name: None if r is None else r[0] for name, r in read.items()}
        return Intake(codes, int(first), owner or None)

    def known_intake(self, project_id: str, names: Sequence[str]) -> Intake | None:
        """An intake of codes this process read lately (no round trip), its seqs 1..n for
        `enqueue_checked` to move; None unless every name's code is known."""
        return self._known.intake(project_id, names)

    def enqueue_checked(
        self, tasks: Sequence[Task], now: float, intake: Intake, token_hash: str | None = None
    ) -> Checked:
        """Store tasks of one project made from a known intake (`known_intake`), with no
        idempotency key or dependency, in one round trip: add_tasks.lua checks first that
        the project is `token_hash`'s (if given) and that the codes are still as read, and
        writes nothing if not. Their seqs are reserved there: each the seq it was made with
        (1..n) plus Checked.offset."""
        project_id = tasks[0].project_id
        outcome, value = self._scripts.add_tasks(
            events=self._k.events(), wake=self._k.scheduler_wake(), task_seq=self._k.task_seq(),
            token=self._k.token(token_hash) if token_hash else "",
            code_names=self._k.code_names(project_id),
            tasks=_argument(self._k, [(t, True) for t in tasks], now),
            status=TaskStatus.QUEUED, rank=TaskStatus.QUEUED.rank, project_id=project_id,
            codes=json.dumps(intake.checks),
        )  # fmt: skip
        if outcome == "token":
            return Checked(None, value or None)
        if outcome == "stale":
            self._known.keep(project_id, dict.fromkeys(intake.found))  # forgotten: read again
            return Checked(None, project_id)
        return Checked(int(value), project_id)

    def enqueue(self, tasks: Sequence[Task], now: float, *, numbered: bool = False) -> list[Task]:
        """Store tasks and put them up for admission, all or none (one script, in a MULTI if
        any task has an idempotency key or dependencies).

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
        if not key_of and not any(t.depends_on for t in tasks):
            # add_tasks.lua alone, atomic by itself: by its hash (EVALSHA), with no MULTI
            # around it, where a transaction would send the script's whole text.
            new = list(tasks) if numbered else with_seqs(self._r, k, tasks)
            write_new_many(None, k, self._scripts, [(t, True) for t in new], now)
            return new
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
    """Store new tasks and their indexes (ordered by seq), on a transaction pipeline or, with
    `pipe` None, at once; and wake the scheduler: one script (add_tasks.lua) with one argument
    for it all, each index written by one command for all the tasks (a request's tasks share
    their project's and code's indexes).

    An admissible task goes to its wait queue (or the delayed set); one that is not (a batch
    item held back by the batch's max_concurrency, a task waiting on dependencies) is put
    somewhere by the caller.
    """
    if not tasks:
        return
    queued = TaskStatus.QUEUED
    scripts.add_tasks(events=k.events(), wake=k.scheduler_wake(), task_seq="", token="",
                      code_names="", tasks=_argument(k, tasks, now), status=queued,
                      rank=queued.rank, project_id="", codes="[]", client=pipe)  # fmt: skip


def _argument(k: Keys, tasks: Sequence[tuple[Task, bool]], now: float) -> str:
    """add_tasks.lua's one argument for these tasks (see its header)."""
    by_seq: dict[str, dict[str, float]] = defaultdict(dict)  # scores made from the seq
    scored: dict[str, dict[str, float]] = defaultdict(dict)
    members: dict[str, set[str]] = defaultdict(set)
    children: Counter[str] = Counter()
    # The fields every task has alike are sent once; the seq on its own: the script may move it.
    shared, own = to_hashes([task for task, _ in tasks], omit_none=True, apart=("seq",))
    entries = []
    for (task, admissible), record in zip(tasks, own, strict=True):
        seq = record.pop("seq")
        fields = [v for pair in record.items() for v in pair]
        stats, seen = k.code_stats(task.code_id), k.code_stats_seen(task.code_id)
        entries.append([task.id, fields, stats, seen, seq, task.batch_id is not None])
        by_seq[k.project_tasks(task.project_id)][task.id] = task.seq
        by_seq[k.project_status(task.project_id, task.status)][task.id] = task.seq
        by_seq[k.code_tasks(task.code_id)][task.id] = task.seq
        if task.parent_id:  # queued from inside a task: the links both ways
            members[k.children(task.parent_id)].add(task.id)
            children[task.parent_id] += 1
        if admissible and task.delay > 0:
            scored[k.delayed()][task.id] = now + task.delay
        elif admissible:
            by_seq[k.waiting(task.lane)][task.id] = admission_score(task.priority, task.seq)
            members[k.project_waiting_codes(task.project_id)].add(task.lane)
            members[k.ready_projects()].add(task.project_id)
    argument = {
        "shared": [v for pair in shared.items() for v in pair],
        "tasks": entries,
        "zadd": _zadd(scored),
        "zadd_seq": _zadd(by_seq),
        "sadd": [[key, *values] for key, values in members.items()],
        "children": [[k.task(parent_id), count] for parent_id, count in children.items()],
    }  # fmt: skip
    return json.dumps(argument, ensure_ascii=False)


def _zadd(scored: dict[str, dict[str, float]]) -> list[list[str]]:
    """Per sorted set [key, score, member...], scores as redis-py would send them (repr), so
    that Lua never rounds one."""
    return [[key, *(v for member, score in scores.items() for v in (repr(score), member))]
            for key, scores in scored.items()]  # fmt: skip


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
