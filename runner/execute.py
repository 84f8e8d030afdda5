"""One task's life on a runner: start (fenced), run its container, supervise, record the end."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ironworks import secrets
from ironworks.logsetup import log_context
from ironworks.model import Code, Task, TaskStatus
from ironworks.settings import Settings
from ironworks.store import PASSING_ERRORS, Store
from ironworks.store.tasks import LogAppend
from runner import task_api, taskdir
from runner.cache import CodeCache
from runner.engine import Container, DriverError, Engine, Exit
from runner.lease import Lease
from runner.letting_go import LettingGo
from runner.logs import LogPump
from runner.outcome import Outcome, Unstarted, secrets_for
from runner.progress import ProgressRelay
from runner.spec import Limits, Placement, build_spec, can_warm, limits_for
from runner.usage import UsageSampler
from runner.warm import WarmStart

log = logging.getLogger(__name__)

# How often a running task's deadline, cancellation and lease are checked and its log and
# progress passed on. Every running task on the host ticks in the runner's one process: at 4
# ticks a second, 200 sleeping tasks kept it so busy that leases ran out.
POLL_S = 1.0
# Tests only (tests/harness.py): "hold-after-take", a runner that dies right after taking a
# job (slots.py); "slow-start", an engine that takes 3 s more to make a container.
FAILPOINT = os.environ.get("IWTEST_FAILPOINT", "")


@dataclass(frozen=True)
class RunnerContext:
    settings: Settings
    store: Store
    engine: Engine
    cache: CodeCache
    placement: Placement
    task_root: Path
    warm: WarmStart | None = None  # None: every task starts cold
    # Each slot has its own (see runner/slots.py): a slot waits only for its own last removal.
    letting_go: LettingGo = dataclasses.field(default_factory=LettingGo)


def execute(ctx: RunnerContext, task_id: str, attempt: int) -> None:
    task = ctx.store.tasks.get(task_id)
    with log_context(task_id=task.id, project_id=task.project_id):
        _execute(ctx, task, attempt)


def _execute(ctx: RunnerContext, task: Task, attempt: int) -> None:
    task_id, ttl_s = task.id, ctx.settings.lease_ttl_s
    # The lease the take gave this runner holds from now; a start whose reply a failing-over
    # Redis lost is sent again with its claim, and answered as the first was.
    lease, claim = Lease(ctx.store.tasks, task.id, attempt, ttl_s), uuid.uuid4().hex
    runner_id = ctx.placement.runner_id

    def start() -> bool:
        return ctx.store.tasks.start(task, attempt, runner_id, time.time(), ttl_s, claim)

    if not _while_lease_holds(lease, start):
        log.info("task %s attempt %d is no longer this runner's to start", task_id, attempt)
        return
    log.info("started attempt %d", attempt)
    task = dataclasses.replace(task, status=TaskStatus.RUNNING, attempt=attempt)
    with contextlib.ExitStack() as held:
        try:
            outcome = _run(ctx, task, lease, held)
        except Unstarted as e:
            # Not the task's failure, and nothing of it ran: it goes back to be run again
            # (not counted as a retry) once Redis answers.
            ctx.letting_go.later(held.pop_all(), task.id)
            why = f"handed back: Redis failed before it started ({e})"
            if _while_lease_holds(lease, lambda: ctx.store.tasks.hand_back(task, attempt, why)):
                log.warning(why)
            return
        except Exception as e:
            # The platform failed, not the task: say so on the task, then let RQ record it too.
            _record(ctx, task, lease, Outcome(TaskStatus.ERROR, msg=f"platform error: {e}"))
            raise
        if outcome is not None:
            _record(ctx, task, lease, outcome)
            log.info("ended %s (exit code %s)", outcome.status, outcome.exit_code)
        ctx.letting_go.later(held.pop_all(), task.id)


def _record(ctx: RunnerContext, task: Task, lease: Lease, outcome: Outcome) -> None:
    def write() -> bool:
        return ctx.store.tasks.finish(
            task,
            task.attempt,
            outcome.status,
            now=time.time(),
            exit_code=outcome.exit_code,
            msg=outcome.msg,
            result=outcome.result,
            usage=outcome.usage,
        )

    if not _while_lease_holds(lease, write):
        log.info(
            "task %s: ended elsewhere (cancelled or reaped) before attempt %d",
            task.id,
            task.attempt,
        )


def _while_lease_holds(lease: Lease, write: Callable[[], bool]) -> bool:
    """Retry a write through a Redis outage for as long as our lease could still be valid;
    after that the reaper has settled the task and the write would be refused anyway."""
    while True:
        try:
            return write()
        except PASSING_ERRORS:
            if lease.surely_expired():
                return False
            time.sleep(POLL_S)


def _run(
    ctx: RunnerContext, task: Task, lease: Lease, held: contextlib.ExitStack
) -> Outcome | None:
    try:
        code = ctx.store.codes.revision(task.code_id, task.code_rev)
        if code.image is not None and not ctx.settings.image_allowed(code.image):  # narrowed
            return Outcome(TaskStatus.ERROR, msg=f"image {code.image!r} is no longer allowed here")
        values = secrets_for(ctx.store, ctx.settings, task, code)
        if isinstance(values, Outcome):
            return values
        with lease.renewed_meanwhile(POLL_S):
            code_dir = held.enter_context(ctx.cache.use(code)) if code.has_archive else None
            asked = time.monotonic()
            network = _network_of(ctx, task, code)
            container, task_dir, start = _start(ctx, task, code, code_dir, held, values, network)
    except PASSING_ERRORS as e:
        raise Unstarted(e) from e
    start_seconds = time.monotonic() - asked
    limits = limits_for(code, ctx.settings)
    outcome = _supervise(ctx, task, lease, container, task_dir, limits, values.values())
    if outcome is None:
        return None
    # Kept with the resource use: the scheduler's metrics read them from the task record.
    usage = (outcome.usage or {}) | {"start_seconds": round(start_seconds, 4)}
    return dataclasses.replace(outcome, usage=usage | {k: float(v) for k, v in start.items()})


def _network_of(ctx: RunnerContext, task: Task, code: Code) -> str | None:
    """The project's own network when the code asks for one and the project has egress grants
    (read now: a change takes effect for the next task); None: the shared one, or none."""
    grants = ctx.store.projects.egress(task.project_id) if code.network else []
    if not grants:
        return None
    return ctx.engine.task_network_for(ctx.placement.instance_id, task.project_id, grants)


def _start(
    ctx: RunnerContext, task: Task, code: Code, code_dir: Path | None,
    held: contextlib.ExitStack, values: dict[str, str], network: str | None,
) -> tuple[Container, Path, dict[str, bool]]:  # fmt: skip
    """The task's container, running it: warm if it can be (waiting containers are on the
    shared network), else cold."""

    def before_start(task_dir: Path) -> None:
        held.enter_context(task_api.serving(ctx.store, ctx.settings, task, task_dir))

    if ctx.warm is not None and can_warm(code) and network is None:
        started = ctx.warm.container_for(task, code, code_dir, before_start)
        held.callback(ctx.warm.done, started)
        return started.container, started.task_dir, {"warm": started.hit}
    disk_mb = limits_for(code, ctx.settings).tmpfs_mb
    task_dir = taskdir.prepare(ctx.task_root, task, code.config, disk_mb)
    held.callback(taskdir.remove, task_dir)
    before_start(task_dir)
    spec = build_spec(task, code, code_dir, task_dir, ctx.placement, ctx.settings, values, network)
    if FAILPOINT == "slow-start":
        time.sleep(3)
    container = ctx.engine.start(spec)
    held.callback(container.remove)
    return container, task_dir, {}


def _gone_elsewhere(lease: Lease) -> None:
    """Called when the engine no longer has the task's container: a stopping runner removes
    those it handed back, so once the task is no longer ours there is nothing to do; while it
    is ours, the loss is the platform's fault and the error goes on (raised again)."""
    if lease.renew():
        raise


def _add_missed_log(
    ctx: RunnerContext, task: Task, lease: Lease, pump: LogPump, max_bytes: int
) -> bool:
    """Add what the live stream missed to the log; False if the task is no longer ours."""
    try:
        text = pump.missed(keep_going=lease.renew)
    except DriverError:
        _gone_elsewhere(lease)
        return False
    if text is None:
        return False
    text = pump.masker.mask(text)

    def append() -> bool:
        result = ctx.store.tasks.append_log(task.id, task.attempt, text, max_bytes)
        return result is not LogAppend.REFUSED

    return not text or _while_lease_holds(lease, append)


def _supervise(
    ctx: RunnerContext,
    task: Task,
    lease: Lease,
    container: Container,
    task_dir: Path,
    limits: Limits,
    secret_values: Iterable[str] = (),
) -> Outcome | None:
    """Wait for the container to exit, killing it on timeout or when the task is no longer ours
    (cancelled, or reaped after our lease ran out); pass on its progress meanwhile.

    Returns None when the task ended elsewhere: there is nothing left to record.
    """
    secret_values = list(secret_values)
    pump = LogPump(container, ctx.store.tasks, task.id, task.attempt, limits.log_max_bytes,
                   secrets.masker_for(secret_values))  # fmt: skip
    pump.start()
    masked_json = secrets.masker_for(secret_values, json_text=True)
    progress = ProgressRelay(ctx.store.tasks, task, task_dir, masked_json.mask)
    usage = UsageSampler(container)
    usage.start()
    deadline = time.monotonic() + task.timeout
    timed_out = lost = False
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"wait-{task.id}") as waiter:
        exited = waiter.submit(container.wait)
        while not exited.done():
            if time.monotonic() >= deadline:
                timed_out = True
            elif not lease.renew():
                lost = True
            if timed_out or lost:
                container.kill()
                break
            progress.relay()
            pump.flush()
            wait([exited], timeout=POLL_S)
        try:
            exit_: Exit | None = exited.result()
        except DriverError:
            _gone_elsewhere(lease)
            exit_, lost = None, True  # removed, and the task is no longer ours
    used = usage.finish()
    pump.finish(keep_going=lease.renew)
    # A log that reached its cap holds all it may; any other was under the cap, so the engine
    # kept the rest of it.
    if not (lost or pump.full):
        lost = not _add_missed_log(ctx, task, lease, pump, limits.log_max_bytes)
    if lost or exit_ is None:
        return None
    progress.relay(final=True)
    if timed_out:
        return Outcome(TaskStatus.TIMEOUT, msg=f"timed out after {task.timeout} s", usage=used)
    result = taskdir.read_result(task_dir)
    result = None if result is None else masked_json.mask(result)
    if exit_.oom_killed:
        return Outcome(TaskStatus.KILLED, exit_.code, "killed: out of memory", result, used)
    if exit_.code == 0:
        return Outcome(TaskStatus.COMPLETE, 0, "", result, used)
    msg = f"exit code {exit_.code}"
    if taskdir.disk_full(task_dir):
        msg += f": the task's disk limit ({limits.tmpfs_mb} MB) was reached"
    return Outcome(TaskStatus.ERROR, exit_.code, msg, result, used)
