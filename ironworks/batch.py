"""A batch: many tasks of one code queued as one, and where it stands. Pure, like model.py."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BatchStatus(StrEnum):
    RUNNING = "running"  # items not all final yet
    REDUCING = "reducing"  # every item final; the reduce task runs
    COMPLETE = "complete"
    FAILED = "failed"  # some item (or the reduce) did not complete
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Batch:
    """Many tasks of one code queued as one; `done` and `failed` count final items and are
    kept by the store from the events stream."""

    id: str
    project_id: str
    code_id: str
    code_name: str
    size: int
    priority: int
    created_at: float
    status: BatchStatus = BatchStatus.RUNNING
    max_concurrency: int | None = None
    reduce_code_id: str | None = None
    reduce_code_name: str | None = None
    reduce_timeout: int | None = None
    reduce_on_failure: bool = False
    reduce_task_id: str | None = None
    done: int = 0
    failed: int = 0
    finished_at: float | None = None
    msg: str | None = None
    result: str | None = None
    # The task that made this batch from inside its container (fan-out), if one did.
    parent_id: str | None = None

    @property
    def percent(self) -> int:
        return self.done * 100 // self.size

    @property
    def outcome(self) -> BatchStatus:
        """Where the batch goes once every item is final."""
        if self.reduce_code_id and (self.failed == 0 or self.reduce_on_failure):
            return BatchStatus.REDUCING
        return BatchStatus.FAILED if self.failed else BatchStatus.COMPLETE
