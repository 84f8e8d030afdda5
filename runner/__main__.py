"""`python -m runner [--concurrency N]`: one process per host serving N slots (threads), with
a janitor that removes orphaned containers, a monitor (heartbeat, health and metrics) and, with
warm start on, a warmer, each a thread of it. SIGTERM drains: running tasks finish, or are
handed back after a while (at once on a second SIGTERM); then every container the runner
started is removed. Nothing of it outlives the process."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ironworks import logsetup
from ironworks.errors import NotFound
from ironworks.preflight import check_redis
from ironworks.settings import Settings
from ironworks.store import Store
from runner import janitor, monitor, taskdir
from runner.cache import CodeCache
from runner.docker_driver import DockerDriver
from runner.engine import Engine
from runner.execute import RunnerContext
from runner.slots import Slots
from runner.spec import Placement
from runner.warm import Warmer, WarmStart
from runner.warm_pool import WarmPool

log = logging.getLogger("runner")


def main(argv: list[str] | None = None) -> None:
    settings = Settings.from_env()
    logsetup.configure("runner", settings.log_format)
    parser = argparse.ArgumentParser(prog="python -m runner")
    parser.add_argument("--concurrency", type=int, default=settings.runner_concurrency)
    args = parser.parse_args(argv)

    stop, hurry = threading.Event(), threading.Event()

    def on_signal(*_: object) -> None:
        (hurry if stop.is_set() else stop).set()  # the second one: hand back now

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    runner_id = settings.runner_id or socket.gethostname()
    store = Store.connect(settings)
    check_redis(store)
    engine = DockerDriver(connections=4 * args.concurrency + 8)
    engine.ping()
    engine.prepare_task_network()
    placement = Placement(store.instance_id(), runner_id)
    reclaim_leftovers(store, engine, placement)
    task_root = taskdir.root_for(settings.runner_dir, runner_id)
    taskdir.remove_all(task_root)  # their containers are gone: free the memory they held
    taskdir.remove(taskdir.make(task_root, "preflight", 1))  # can we give tasks their disk?

    cache = CodeCache.from_settings(settings)
    background = [
        threading.Thread(
            target=janitor.run, args=(store, engine, placement.instance_id, stop), name="janitor"
        )
    ]
    pool = WarmPool() if settings.warm_start else None
    warm = WarmStart(pool, engine, placement, settings, task_root) if pool else None
    ctx = RunnerContext(settings, store, engine, cache, placement, task_root, warm)
    slots = Slots(settings.redis_url, settings.clusters, args.concurrency, ctx)
    if pool is not None:
        warmer = Warmer(store, engine, cache, settings, placement, pool, slots.backlogged)
        background.append(threading.Thread(target=warmer.run, args=(stop,), name="warmer"))
    draining = threading.Event()
    beats = (settings, store, engine, runner_id, args.concurrency, lambda: slots.busy, draining)
    background.append(threading.Thread(target=monitor.run, args=beats, name="monitor", daemon=True))
    for thread in background:
        thread.start()

    log.info("runner %s serving %s with %d slots", runner_id, settings.clusters, args.concurrency)
    slots.serve(stop)
    draining.set()

    def hand_back() -> int:
        return hand_back_running(store, engine, placement, slots.performing())

    slots.drain(settings.runner_drain_s, hand_back, hurry)
    for thread in background:
        if not thread.daemon:
            thread.join()
    remove_own_containers(engine, placement)  # the warmer has stopped making them
    engine.remove_unused_networks(placement.instance_id)
    taskdir.remove_all(task_root)  # and the memory their directories held


def hand_back_running(
    store: Store, engine: Engine, placement: Placement, performing: list[tuple[str, int]]
) -> int:
    """Give the tasks this runner's slots still perform back to admission, then remove this
    runner's containers (a slot still watching one finds its task no longer its own and
    records nothing). By the slots' tasks, not by the containers: a task whose container the
    engine is still making (seconds, on a loaded host) has none yet, and would otherwise
    stay `running` until its lease ran out."""
    handed = 0
    for task_id, attempt in performing:
        try:
            if store.tasks.hand_back(store.tasks.get(task_id), attempt):
                handed += 1
                log.info("handed back task %s", task_id)
        except NotFound:
            pass  # the record is gone
    for container in engine.containers_of(placement.instance_id, placement.runner_id):
        container.remove()
    return handed


def remove_own_containers(engine: Engine, placement: Placement) -> None:
    """On the way out, every container this runner started goes, whatever state it is in: ended
    tasks' whose removal had not finished, warm ones still waiting. Another runner's janitor
    cannot be counted on (there may be none on this host), nor this runner's next life (a new
    installation has another instance id)."""
    left = engine.containers_of(placement.instance_id, placement.runner_id)
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="remove") as pool:
        for _ in pool.map(lambda c: c.remove(), left):
            pass
    if left:
        log.info("removed the %d container(s) this runner still had", len(left))


def reclaim_leftovers(store: Store, engine: Engine, placement: Placement) -> None:
    """Remove containers a previous life of this runner left behind and end their tasks as
    `killed` ("runner lost"), without waiting for their leases to run out."""
    for container in engine.containers_of(placement.instance_id, placement.runner_id):
        owner = container.owner()
        container.remove()
        if owner is None:
            continue  # a warm container that never got a task
        task = store.tasks.get(owner[0])
        ended = task.attempt == owner[1] and store.tasks.reap(
            task, time.time(), lease_expired=False
        )
        log.warning("removed leftover container of task %s (ended now: %s)", task.id, ended)


if __name__ == "__main__":
    main()
