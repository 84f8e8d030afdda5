"""A fixed number of RQ worker processes, each running one task at a time, kept alive, and
drained on SIGTERM.

The workers run their tasks in-process (RQ's SimpleWorker), not in a work horse forked per
job: a fork, and the Redis and Docker clients each horse had to build anew, cost more than a
warm start's whole hand-off. A worker builds its clients on its first task and keeps them.

RQ's own WorkerPool also starts RQ's job scheduler in every worker, which Ironworks does not
use (admission and delays are the scheduler's) and which kept workers from stopping on
SIGTERM; this is the part of it we need.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable

from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

from runner import job

log = logging.getLogger(__name__)

RESPAWN_CHECK_S = 1.0
STOP_GRACE_S = 10.0
# The one function a job may name (the scheduler refers to it by this name).
RUN_TASK = f"{job.run_task.__module__}.{job.run_task.__name__}"


class TaskJob(Job):
    """An RQ job that can only run Ironworks' task function. Jobs are JSON (RQ's default,
    pickle, would run code as it loads), and a job naming any other function fails before
    that function is imported: whoever can write to Redis can at worst queue a task."""

    @property
    def func(self):
        if self.func_name != RUN_TASK:
            raise PermissionError(f"refused job {self.id}: it names {self.func_name!r}")
        return super().func

    # Callbacks are functions named in the job too; Ironworks sets none, so none is run.
    success_callback = failure_callback = stopped_callback = property(lambda self: None)


def _work(redis_url: str, queues: list[str]) -> None:
    connection = Redis.from_url(redis_url)
    options = {"connection": connection, "serializer": JSONSerializer, "job_class": TaskJob}
    watched = [Queue(q, **options) for q in queues]
    worker = SimpleWorker(watched, **options)
    worker.work(with_scheduler=False, logging_level="WARNING")


def serve(
    redis_url: str,
    queues: list[str],
    slots: int,
    drain_s: float,
    hand_back: Callable[[], int],
    on_drain: Callable[[], None] = lambda: None,
) -> None:
    """Run `slots` workers until SIGTERM or SIGINT, replacing any that die; then drain."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    context = multiprocessing.get_context("fork")
    workers: list[multiprocessing.process.BaseProcess] = []
    while not stop.is_set():
        alive = [w for w in workers if w.is_alive()]
        if len(alive) < len(workers):
            log.warning("%d worker(s) died; starting new ones", len(workers) - len(alive))
        for _ in range(slots - len(alive)):
            worker = context.Process(target=_work, args=(redis_url, queues), daemon=True)
            worker.start()
            alive.append(worker)
        workers = alive
        stop.wait(RESPAWN_CHECK_S)
    on_drain()
    _drain(workers, drain_s, hand_back)


def _drain(
    workers: list[multiprocessing.process.BaseProcess], drain_s: float, hand_back: Callable[[], int]
) -> None:
    """A first SIGTERM makes an RQ worker take no new job and finish the one in hand. What is
    still running after `drain_s` is handed back to admission to run elsewhere; a second
    SIGTERM then makes each worker leave its task and exit (removing its container on the way)."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    deadline = time.monotonic() + drain_s
    log.info("draining: letting running tasks finish for up to %.0f s", drain_s)
    for worker in workers:
        worker.join(max(deadline - time.monotonic(), 0))
    if any(worker.is_alive() for worker in workers):
        log.warning("drain time is up: handed back %d running task(s)", hand_back())
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(STOP_GRACE_S)
        if worker.is_alive():
            worker.kill()
