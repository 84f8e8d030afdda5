"""The domain model: projects, code revisions, tasks and the task status machine (batches
are in batch.py, runners' heartbeats in runner_beats.py).

Pure: no Redis, Docker or Flask here, so the rules are unit-tested on their own.

Over 300 lines: the Task record and the functions that make one (new_task, retry_of,
replay, run_again) change together.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from ironworks.lanes import BAND, key_for, lane_of


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELLED = "cancelled"
    KILLED = "killed"
    TIMEOUT = "timeout"

    @property
    def is_terminal(self) -> bool:
        return self not in (TaskStatus.QUEUED, TaskStatus.RUNNING)

    @property
    def rank(self) -> int:
        """How far along its life a task in this status is; statuses only move up in rank."""
        return 0 if self is TaskStatus.QUEUED else 1 if self is TaskStatus.RUNNING else 2


# The longest a reader may ask to be held until a task ends (`GET …/tasks/{id}?wait=S`).
LONGEST_WAIT_S = 10.0

# Every status change a task may make. The store's scripts get this table in their prelude
# and refuse any other change before writing (store/scripts.py), so it cannot go stale.
# queued -> killed: an admitted task no runner could start (give_up); running -> queued: a
# stopping runner hands its task back (hand_back), not a retry.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.KILLED}),
    TaskStatus.RUNNING: frozenset(
        {
            TaskStatus.QUEUED,
            TaskStatus.COMPLETE,
            TaskStatus.ERROR,
            TaskStatus.TIMEOUT,
            TaskStatus.KILLED,
            TaskStatus.CANCELLED,
        }
    ),
}


def can_transition(current: TaskStatus, new: TaskStatus) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


# A task ending in one of these is queued again while its code's `retries` allow.
RETRIED_STATUSES = frozenset({TaskStatus.ERROR, TaskStatus.TIMEOUT, TaskStatus.KILLED})
MAX_RETRIES = 10

PRIORITIES = (0, 1, 2)

# How long an idempotency key holds the task it named (POST tasks' idempotency_ttl_s).
DEFAULT_IDEMPOTENCY_TTL_S = 24 * 3600
MAX_IDEMPOTENCY_TTL_S = 30 * 24 * 3600


def new_id() -> str:
    """24 hex characters, the shape of IronWorker's ids."""
    return secrets.token_hex(12)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    max_concurrency: int | None  # None = unlimited
    created_at: float
    task_retention_s: int | None = None  # None: the installation's IRONWORKS_TASK_RETENTION_S
    # Fan-out limits (None: the installation's IRONWORKS_MAX_TASK_DEPTH / _CHILDREN).
    max_task_depth: int | None = None
    max_task_children: int | None = None


@dataclass(frozen=True)
class Code:
    """One revision of a code package; the code's current state is its latest revision."""

    id: str
    project_id: str
    name: str
    rev: int
    stack: str
    command: str
    archive_sha256: str
    archive_size: int
    created_at: float
    max_concurrency: int | None = None
    timeout: int | None = None
    env_vars: dict[str, str] = field(default_factory=dict)
    # Names of the project's secrets each task gets as environment variables.
    secrets: list[str] = field(default_factory=list)
    retries: int = 0
    retries_delay: int = 0
    # Sandbox: None means the platform default. `network` opts into a bridge network.
    memory_mb: int | None = None
    cpus: float | None = None
    disk_mb: int | None = None
    log_max_bytes: int | None = None
    network: bool = False
    # Whether runners may keep prestarted containers of this code (warm start).
    warm: bool = True
    # A registered image runs instead of a stack with an uploaded archive.
    image: str | None = None
    # Handed to every task as $CONFIG_FILE (IronWorker's code config).
    config: dict[str, object] = field(default_factory=dict)
    default_priority: int = 0
    # Flow control (docs/flow-control.md): a template over the payload naming each task's
    # concurrency key, at most this many running per key, and at most rate_limit_count
    # admissions per sliding rate_limit_period_s (per key when rate_limit_per_key).
    concurrency_key: str | None = None
    max_concurrency_per_key: int | None = None
    rate_limit_count: int | None = None
    rate_limit_period_s: int | None = None
    rate_limit_per_key: bool = False

    @property
    def has_archive(self) -> bool:
        return bool(self.archive_sha256)

    def timeout_for(self, asked: int | None, default_s: int) -> int:
        """A new task's timeout: its own, else the code's, else the installation's."""
        return asked or self.timeout or default_s

    def priority_for(self, asked: int | None) -> int:
        """A new task's priority: its own, else the code's default."""
        return self.default_priority if asked is None else asked


@dataclass(frozen=True)
class Task:
    id: str
    project_id: str
    code_id: str
    code_name: str
    code_rev: int
    status: TaskStatus
    payload: str
    priority: int
    timeout: int
    created_at: float
    cluster: str = "default"
    delay: int = 0
    label: str | None = None
    attempt: int = 0
    seq: int = 0
    msg: str | None = None
    exit_code: int | None = None
    # When admission last let this attempt go to the runners (Redis's clock).
    admitted_at: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    result: str | None = None
    runner: str | None = None
    # The runner that took the current attempt's job and has yet to start it (take.lua).
    taken_by: str | None = None
    percent: int | None = None
    usage: dict[str, float] | None = None  # peak_memory_bytes, cpu_seconds
    # Retry policy copied from the code when queued, so later uploads do not change it.
    max_retries: int = 0
    retries_delay: int = 0
    retry_count: int = 0
    retry_of: str | None = None
    # A batch item knows its place in the batch; the batch's reduce task has no index.
    batch_id: str | None = None
    batch_index: int | None = None
    # Queueing with the same key again within idempotency_ttl_s returns this task instead.
    idempotency_key: str | None = None
    idempotency_ttl_s: int = 0
    # The finished task this one runs again by hand, with its payload or a new one.
    replay_of: str | None = None
    # Tasks of the same project that must be complete before this one is admitted.
    depends_on: list[str] = field(default_factory=list)
    # Tasks with one key share its limit and its turns at admission (ironworks/lanes.py).
    concurrency_key: str | None = None
    # Fan-out (docs/worker-contract.md): the task that queued this one from inside its
    # container, how deep in such a tree it is (0: queued from outside), how many tasks it has
    # queued itself, and whether it is cancelled when its parent ends.
    parent_id: str | None = None
    depth: int = 0
    children: int = 0
    cascade: bool = False
    # While it waits for its children it holds no slot (step_aside.lua): docs/flow-control.md.
    aside: bool = False

    @property
    def lane(self) -> str:
        return lane_of(self.code_id, self.concurrency_key)

    @property
    def should_retry(self) -> bool:
        return self.status in RETRIED_STATUSES and self.retry_count < self.max_retries

    def is_final_as(self, status: TaskStatus) -> bool:
        """Whether this task ending in `status` ends its work: terminal, and no automatic
        retry follows."""
        return status.is_terminal and not (
            status in RETRIED_STATUSES and self.retry_count < self.max_retries
        )

    @property
    def duration_ms(self) -> int | None:
        if self.start_time is None or self.end_time is None:
            return None
        return int((self.end_time - self.start_time) * 1000)


def derived_id(cause: str, of: str) -> str:
    """A stable id for the one object `cause` makes of `of` (e.g. the automatic retry of a
    task), so that doing it twice after a redelivered event finds the first and stops."""
    return hashlib.sha256(f"{cause}:{of}".encode()).hexdigest()[:24]


def retry_of(task: Task, task_id: str, now: float, delay: int | None = None) -> Task:
    """The task that runs `task` again: same code revision and payload, linked by retry_of."""
    return Task(
        id=task_id,
        project_id=task.project_id,
        code_id=task.code_id,
        code_name=task.code_name,
        code_rev=task.code_rev,
        status=TaskStatus.QUEUED,
        payload=task.payload,
        priority=task.priority,
        timeout=task.timeout,
        created_at=now,
        cluster=task.cluster,
        delay=task.retries_delay if delay is None else delay,
        label=task.label,
        concurrency_key=task.concurrency_key,
        max_retries=task.max_retries,
        retries_delay=task.retries_delay,
        retry_count=task.retry_count + 1,
        retry_of=task.id,
        batch_id=task.batch_id,
        batch_index=task.batch_index,
    )


def run_again(task: Task, task_id: str, now: float, delay: int = 0) -> Task:
    """A finished task run again by hand: like an automatic retry, but it stands on its own
    (it is no longer part of a batch)."""
    return dataclasses.replace(retry_of(task, task_id, now, delay), batch_id=None, batch_index=None)


def replay(task: Task, code: Code, task_id: str, now: float, payload: str | None = None) -> Task:
    """`task` run again by hand on its code's current revision (the fix a replay is usually
    for), with its own payload and key, or a new payload and the key the code gives it,
    linked by replay_of."""
    if payload is None:
        payload, key = task.payload, task.concurrency_key
    else:
        key = key_for(code.concurrency_key, None, payload)
    return dataclasses.replace(
        new_task(code, task_id, payload, now, timeout=task.timeout, priority=task.priority,
                 cluster=task.cluster, label=task.label, concurrency_key=key),
        replay_of=task.id,
    )  # fmt: skip


def new_task(
    code: Code,
    task_id: str,
    payload: str,
    now: float,
    *,
    timeout: int,
    priority: int | None = None,
    cluster: str = "default",
    delay: int = 0,
    label: str | None = None,
    batch_id: str | None = None,
    batch_index: int | None = None,
    depends_on: list[str] | None = None,
    concurrency_key: str | None = None,
    idempotency_key: str | None = None,
    idempotency_ttl_s: int = DEFAULT_IDEMPOTENCY_TTL_S,
    seq: int = 0,
) -> Task:
    """A queued task of the code's current revision, with the code's retry policy (and its
    seq, when one was reserved for it)."""
    return Task(
        id=task_id,
        project_id=code.project_id,
        code_id=code.id,
        code_name=code.name,
        code_rev=code.rev,
        status=TaskStatus.QUEUED,
        payload=payload,
        priority=code.priority_for(priority),
        timeout=timeout,
        created_at=now,
        cluster=cluster,
        delay=delay,
        label=label,
        max_retries=code.retries,
        retries_delay=code.retries_delay,
        batch_id=batch_id,
        batch_index=batch_index,
        depends_on=depends_on or [],
        concurrency_key=concurrency_key,
        idempotency_key=idempotency_key,
        idempotency_ttl_s=idempotency_ttl_s if idempotency_key else 0,
        seq=seq,
    )


def admission_score(priority: int, seq: int) -> int:
    """Order within a code's wait queue: higher priority first, then first come first served.

    Fits a double exactly while seq < 1e15, i.e. for any realistic number of tasks.
    """
    return (max(PRIORITIES) - priority) * BAND + seq
