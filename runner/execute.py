"""One task's life on a runner: start (fenced), run its container, supervise, record the end."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from ironworks.model import Task, TaskStatus
from ironworks.settings import Settings
from ironworks.store import Store
from runner import taskdir
from runner.cache import CodeCache
from runner.docker_driver import DockerDriver, TaskContainer
from runner.logs import LogPump
from runner.spec import build_spec

log = logging.getLogger(__name__)

# How often a running task's deadline and cancellation are checked.
POLL_S = 0.2
# How long to wait for the last log lines after the container has exited.
LOG_DRAIN_S = 5.0


@dataclass(frozen=True)
class RunnerContext:
    settings: Settings
    store: Store
    driver: DockerDriver
    cache: CodeCache
    runner_id: str

    @property
    def task_root(self) -> Path:
        return self.settings.runner_dir / "tasks"


@dataclass(frozen=True)
class Outcome:
    status: TaskStatus
    exit_code: int | None = None
    msg: str = ""
    result: str | None = None


def execute(ctx: RunnerContext, task_id: str, attempt: int) -> None:
    task = ctx.store.tasks.get(task_id)
    if not ctx.store.tasks.start(task, attempt, ctx.runner_id, time.time()):
        log.info("task %s attempt %d is no longer this runner's to start", task_id, attempt)
        return
    task = dataclasses.replace(task, status=TaskStatus.RUNNING, attempt=attempt)
    try:
        outcome = _run(ctx, task)
    except Exception as e:
        # The platform failed, not the task: say so on the task, then let RQ record it too.
        _record(ctx, task, Outcome(TaskStatus.ERROR, msg=f"platform error: {e}"))
        raise
    if outcome is not None:
        _record(ctx, task, outcome)


def _record(ctx: RunnerContext, task: Task, outcome: Outcome) -> None:
    written = ctx.store.tasks.finish(
        task,
        task.attempt,
        outcome.status,
        now=time.time(),
        exit_code=outcome.exit_code,
        msg=outcome.msg,
        result=outcome.result,
    )
    if not written:
        log.warning("task %s: end refused, attempt %d no longer owns it", task.id, task.attempt)


def _run(ctx: RunnerContext, task: Task) -> Outcome | None:
    code = ctx.store.codes.revision(task.code_id, task.code_rev)
    code_dir = ctx.cache.directory(code.archive_sha256)
    task_dir = taskdir.prepare(ctx.task_root, task, config={})
    try:
        spec = build_spec(task, code, code_dir, task_dir, ctx.runner_id, ctx.settings)
        container = ctx.driver.start(spec)
        try:
            return _supervise(ctx, task, container, task_dir)
        finally:
            container.remove()
    finally:
        taskdir.remove(task_dir)


def _supervise(
    ctx: RunnerContext, task: Task, container: TaskContainer, task_dir: Path
) -> Outcome | None:
    """Wait for the container to exit, killing it on timeout or when the task is cancelled.

    Returns None when the task ended elsewhere (cancelled): there is nothing left to record.
    """
    pump = LogPump(
        container.output(), ctx.store.tasks, task.id, task.attempt, ctx.settings.log_max_bytes
    )
    pump.start()
    deadline = time.monotonic() + task.timeout
    timed_out = cancelled = False
    while pump.is_alive():
        pump.join(POLL_S)
        if time.monotonic() >= deadline:
            timed_out = True
        elif ctx.store.tasks.status(task.id) is not TaskStatus.RUNNING:
            cancelled = True
        if timed_out or cancelled:
            container.kill()
            break
    exit_ = container.wait()
    pump.join(LOG_DRAIN_S)
    if cancelled:
        return None
    if timed_out:
        return Outcome(TaskStatus.TIMEOUT, msg=f"timed out after {task.timeout} s")
    result = taskdir.read_result(task_dir)
    if exit_.oom_killed:
        return Outcome(TaskStatus.KILLED, exit_.code, "killed: out of memory", result)
    if exit_.code == 0:
        return Outcome(TaskStatus.COMPLETE, 0, "", result)
    return Outcome(TaskStatus.ERROR, exit_.code, f"exit code {exit_.code}", result)
