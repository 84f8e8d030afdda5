"""The one kind of RQ job a runner runs: a task attempt, named by the scheduler as RUN_TASK."""

from __future__ import annotations

import functools

from rq.job import Job

from runner.execute import RunnerContext, execute

# How the scheduler names the function; jobs are JSON, so this is only ever a name.
RUN_TASK = "runner.job.run_task"


def run_task(ctx: RunnerContext, task_id: str, attempt: int) -> None:
    execute(ctx, task_id, int(attempt))


class TaskJob(Job):
    """An RQ job that can only run Ironworks' task function. Jobs are JSON (RQ's default,
    pickle, would run code as it loads), and a job naming any other function fails before
    anything is imported: whoever can write to Redis can at worst queue a task.

    The slot that took the job sets `runner` (what the task runs with) before RQ performs it.
    """

    runner: RunnerContext

    @property
    def func(self):
        if self.func_name != RUN_TASK:
            raise PermissionError(f"refused job {self.id}: it names {self.func_name!r}")
        return functools.partial(run_task, self.runner)

    # Callbacks are functions named in the job too; Ironworks sets none, so none is run.
    success_callback = failure_callback = stopped_callback = property(lambda self: None)
