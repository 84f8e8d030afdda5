"""The domain model: projects, code revisions, tasks and the task status machine.

Pure: no Redis, Docker or Flask here, so the rules are unit-tested on their own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum


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


# Legal transitions; the store's Lua scripts enforce the same table atomically.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED}),
    TaskStatus.RUNNING: frozenset(
        {
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


PRIORITIES = (0, 1, 2)


def new_id() -> str:
    """24 hex characters, the shape of IronWorker's ids."""
    return secrets.token_hex(12)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    max_concurrency: int | None  # None = unlimited
    created_at: float


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
    start_time: float | None = None
    end_time: float | None = None
    result: str | None = None
    runner: str | None = None

    @property
    def duration_ms(self) -> int | None:
        if self.start_time is None or self.end_time is None:
            return None
        return int((self.end_time - self.start_time) * 1000)


def admission_score(priority: int, seq: int) -> int:
    """Order within a code's wait queue: higher priority first, then first come first served.

    Fits a double exactly while seq < 1e15, i.e. for any realistic number of tasks.
    """
    return (max(PRIORITIES) - priority) * 10**15 + seq
