"""The writes that move a task: the runner's, each fenced by the attempt it was dispatched
with, and the reaper's and a user's (cancel), through the transition scripts."""

from __future__ import annotations

import json
import uuid
from enum import IntEnum

from ironworks.errors import Conflict, NotFound
from ironworks.model import Task, TaskStatus, admission_score
from ironworks.store.task_reads import TaskReads

RUNNER_LOST = "runner lost"
HANDED_BACK = "handed back by a stopping runner"
LOG_TRUNCATED_MARK = "\n[ironworks] log truncated: the task wrote more than its log cap\n"


class LogAppend(IntEnum):
    OK = 1
    FULL = 0  # the cap is reached: the log ends with the truncation mark
    REFUSED = -1  # the writer no longer owns the task


class TaskWrites(TaskReads):
    """Reads first: a cancel re-reads the task it moves."""

    _retention_s: int

    def take(self, task_id: str, attempt: int, runner: str, now: float, lease_s: float) -> bool:
        """A runner took the attempt's job: until it starts the task, the runner's lease (not
        the dispatch lease) covers it. False: the attempt is no longer one to start."""
        k = self._k
        taken = self._scripts.take(task=k.task(task_id), leases=k.leases(), task_id=task_id,
                                   attempt=attempt, runner=runner, until=now + lease_s)  # fmt: skip
        return taken == 1

    def start(
        self, task: Task, attempt: int, runner: str, now: float, lease_s: float,
        claim: str | None = None,
    ) -> bool:  # fmt: skip
        """True when the attempt is now running on `runner`. Sent again with the same `claim`
        (the reply was lost), it is True again; any other start of the attempt is refused."""
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
                claim=claim or uuid.uuid4().hex,
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

    def hand_back(self, task: Task, attempt: int, msg: str = HANDED_BACK) -> bool:
        """A runner returns a running task to admission, to run again (not counted as a
        retry): when it stops, or when Redis failed it before the task's container started.
        False if the attempt no longer owns the task."""
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
                msg=msg,
            )
            == 1
        )

    def step_aside(self, task: Task) -> bool:
        """While a running task waits for its children, it holds no slot (step_aside.lua)."""
        k = self._k
        return (
            self._scripts.step_aside(
                task=k.task(task.id),
                project_active=k.project_active(task.project_id),
                code_active=k.code_active(task.code_id),
                lane_active=k.lane_active(task.lane),
                wake=k.scheduler_wake(),
                task_id=task.id,
                attempt=task.attempt,
            )
            == 1
        )

    def step_back(self, task: Task) -> bool:
        k = self._k
        return (
            self._scripts.step_back(
                task=k.task(task.id),
                project_active=k.project_active(task.project_id),
                code_active=k.code_active(task.code_id),
                lane_active=k.lane_active(task.lane),
                task_id=task.id,
                attempt=task.attempt,
            )
            == 1
        )

    def cancel_tree(self, project_id: str, task_id: str, now: float) -> tuple[Task, int]:
        """Cancel a task and its unfinished descendants; the task and how many of them."""
        task = self.cancel(project_id, task_id, now)
        msg = f"Cancelled: its ancestor {task_id} was cancelled"
        return task, self.cancel_descendants(project_id, task_id, now, msg)

    def cancel_descendants(self, project_id: str, root_id: str, now: float, msg: str) -> int:
        """Cancel every unfinished task below `root_id` (children, theirs, ...); how many."""
        cancelled, below = 0, self.children_of(root_id)
        while below:
            task_id = below.pop()
            below += self.children_of(task_id)
            try:
                self.cancel(project_id, task_id, now, msg=msg)
                cancelled += 1
            except (Conflict, NotFound):
                pass  # it ended (or was deleted) meanwhile
        return cancelled

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
