"""A runner's slots: threads of its one process, each running one task at a time, fed with
RQ jobs by one dequeuer, and drained on stop.

RQ's workers run one job per process (and install signal handlers and alarm-based job
timeouts, which only a process's main thread may), so N slots used to cost N processes. A
task is I/O-bound waiting on Docker, so here the runner's main thread takes jobs with RQ's
own Queue API, only while a slot is free, and each slot's RQ worker object performs its job
in the slot's thread: RQ still keeps the job's status, its registries and failures.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable

from rq import Queue, SimpleWorker
from rq.exceptions import DequeueTimeout, DeserializationError
from rq.serializers import JSONSerializer
from rq.timeouts import BaseDeathPenalty

from ironworks import redisconn
from ironworks.runner_beats import run_queues
from ironworks.store import PASSING_ERRORS
from runner.execute import FAILPOINT, RunnerContext
from runner.job import RUN_TASK, TaskJob
from runner.letting_go import LettingGo

log = logging.getLogger(__name__)

# How long one wait for a job blocks: also how soon a stop is noticed while all is quiet.
DEQUEUE_WAIT_S = 1
# After the drain, how long tasks handed back have to notice and return.
STOP_GRACE_S = 10.0


class NoDeathPenalty(BaseDeathPenalty):
    """RQ's job timeout works by SIGALRM, which a slot thread cannot receive; the runner kills
    a task's container at its own timeout, so RQ's is not needed."""

    def setup_death_penalty(self) -> None:
        pass

    def cancel_death_penalty(self) -> None:
        pass


class SlotWorker(SimpleWorker):
    death_penalty_class = NoDeathPenalty


@dataclasses.dataclass
class Slot:
    """One slot: its RQ worker and what its tasks run with (its own LettingGo, so a slot waits
    only for its own last task's removal)."""

    worker: SlotWorker
    runner: RunnerContext


class Slots:
    def __init__(self, redis_url: str, clusters: list[str], count: int, ctx: RunnerContext):
        self._redis = redisconn.connect(redis_url)  # RQ keeps bytes: a connection of its own
        options = {"connection": self._redis, "serializer": JSONSerializer, "job_class": TaskJob}
        self._queues = [Queue(name, **options) for name in run_queues(clusters)]
        self._free: queue.SimpleQueue[Slot] = queue.SimpleQueue()
        for n in range(count):
            worker = SlotWorker(
                self._queues, name=f"{ctx.placement.runner_id}.{n}.{time.time_ns()}", **options
            )
            self._free.put(Slot(worker, dataclasses.replace(ctx, letting_go=LettingGo())))
        # RQ's own upkeep of the queues' registries (jobs a dead runner left started, its
        # intermediate queue), which a worker's loop would run every 10 minutes.
        self._upkeep = SlotWorker(
            self._queues, name=f"{ctx.placement.runner_id}.upkeep.{time.time_ns()}", **options
        )
        self._ctx = ctx
        self._busy = 0
        # The tasks (id, attempt) of the jobs being performed, counted: a duplicated job of one
        # attempt may be taken twice (its start is refused), and one's end must not hide the other.
        self._performing: collections.Counter[tuple[str, int]] = collections.Counter()
        self._changed = threading.Condition()

    @property
    def busy(self) -> int:
        return self._busy

    def performing(self) -> list[tuple[str, int]]:
        """The tasks (id, attempt) this runner's slots have taken and not yet let go of, their
        containers made or not: what a stopping runner hands back."""
        with self._changed:
            return list(self._performing)

    def backlogged(self) -> bool:
        """Jobs wait in our queues: every slot serving them, here and elsewhere, is busy."""
        return any(q.count for q in self._queues)

    def serve(self, stop: threading.Event) -> None:
        """Take jobs while a slot is free, until `stop` is set."""
        while not stop.is_set():
            try:
                slot = self._free.get(timeout=DEQUEUE_WAIT_S)
            except queue.Empty:
                continue  # every slot busy
            try:
                taken = self._take_job()
            except PASSING_ERRORS as e:
                log.warning("Redis unavailable (%s); retrying", e)
                taken = None
                stop.wait(DEQUEUE_WAIT_S)
            if taken is None:
                self._free.put(slot)
                continue
            task = self._cover(taken[0])
            with self._changed:
                self._busy += 1
                if task is not None:
                    self._performing[task] += 1
            # A daemon thread per task: one stuck in an engine call cannot keep the process
            # from exiting once the drain is over.
            threading.Thread(target=self._perform, args=(slot, *taken, task), daemon=True).start()

    def _cover(self, job: TaskJob) -> tuple[str, int] | None:
        """Put the task under this runner's lease the moment its job is ours, so that if this
        process dies before starting it, it is handed back within a lease, not a dispatch
        lease. A refusal or an unreachable Redis changes nothing: the fenced start decides.
        Returns the task's (id, attempt); None for a job that is no task's."""
        try:
            task_id, attempt = job.args if job.func_name == RUN_TASK else (None, None)
            task = None if task_id is None or attempt is None else (str(task_id), int(attempt))
        except (ValueError, TypeError, DeserializationError):
            task = None  # JSON only, never code: RQ fails a job that is no task's (TaskJob)
        if task is not None:
            ctx = self._ctx
            try:
                ctx.store.tasks.take(task[0], task[1], ctx.placement.runner_id, time.time(),
                                     ctx.settings.lease_ttl_s)  # fmt: skip
            except PASSING_ERRORS as e:
                log.warning("task %s: could not record its take (%s)", task[0], e)
        if FAILPOINT == "hold-after-take":  # tests: a runner that dies right here
            threading.Event().wait()
        return task

    def _take_job(self) -> tuple[TaskJob, Queue] | None:
        if self._upkeep.should_run_maintenance_tasks:
            self._upkeep.clean_registries()
        try:
            return Queue.dequeue_any(
                self._queues,
                DEQUEUE_WAIT_S,
                connection=self._redis,
                job_class=TaskJob,
                serializer=JSONSerializer,
                death_penalty_class=NoDeathPenalty,
            )
        except DequeueTimeout:
            return None

    def _perform(
        self, slot: Slot, job: TaskJob, job_queue: Queue, task: tuple[str, int] | None
    ) -> None:
        try:
            job.runner = slot.runner
            slot.worker.execute_job(job, job_queue)  # the task's end, then the job's in RQ
        except PASSING_ERRORS as e:  # RQ's bookkeeping: the task itself has ended
            log.warning("job %s: Redis unavailable to RQ (%s)", job.id, e)
        finally:
            self._free.put(slot)
            with self._changed:
                self._busy -= 1
                if task is not None:
                    self._performing[task] -= 1
                    if not self._performing[task]:
                        del self._performing[task]
                self._changed.notify_all()

    def drain(self, drain_s: float, hand_back: Callable[[], int], hurry: threading.Event) -> None:
        """Let running tasks finish for up to `drain_s` (or until `hurry` is set); hand back
        what still runs (its containers are removed, so its slot returns soon after), then wait
        for the slots."""
        log.info("draining: letting %d running task(s) finish for up to %.0f s", self.busy, drain_s)
        if not self._all_free(drain_s, hurry):
            log.warning("drain time is up: handed back %d running task(s)", hand_back())
            self._all_free(STOP_GRACE_S)
        while not self._free.empty():
            self._free.get().runner.letting_go.settle()  # the last containers' removals

    def _all_free(self, timeout_s: float, hurry: threading.Event | None = None) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._busy and not (hurry and hurry.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(min(left, 0.5))  # a signal's hurry is seen within 0.5 s
            return self._busy == 0
