"""A fixed number of RQ worker processes, each running one task at a time, kept alive.

RQ's own WorkerPool also starts RQ's job scheduler in every worker, which Ironworks does not
use (admission and delays are the scheduler's) and which kept workers from stopping on
SIGTERM; this is the part of it we need.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading

from redis import Redis
from rq import Queue, Worker

log = logging.getLogger(__name__)

RESPAWN_CHECK_S = 1.0
STOP_GRACE_S = 10.0


def _work(redis_url: str, queues: list[str]) -> None:
    connection = Redis.from_url(redis_url)
    worker = Worker([Queue(q, connection=connection) for q in queues], connection=connection)
    worker.work(with_scheduler=False, logging_level="WARNING")


def serve(redis_url: str, queues: list[str], slots: int) -> None:
    """Run `slots` workers until SIGTERM or SIGINT, replacing any that die."""
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
    # RQ workers stop after the task in hand on SIGTERM; tasks outlasting the grace period
    # are killed with their worker, and the reaper settles them once their lease runs out.
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(STOP_GRACE_S)
        if worker.is_alive():
            worker.kill()
