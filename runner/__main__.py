"""`python -m runner [--concurrency N]`: a pool of RQ workers, each running one task at a time,
a janitor process that removes orphaned containers, and a monitor process (heartbeat, health
and metrics). SIGTERM drains: running tasks finish, or are handed back after a while."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import socket
import time

from ironworks import logsetup
from ironworks.errors import NotFound
from ironworks.preflight import check_redis
from ironworks.settings import Settings
from ironworks.store import Store
from runner import janitor, monitor, pool, taskdir, warm
from runner.docker_driver import DockerDriver

log = logging.getLogger("runner")


def main(argv: list[str] | None = None) -> None:
    settings = Settings.from_env()
    logsetup.configure("runner", settings.log_format)
    parser = argparse.ArgumentParser(prog="python -m runner")
    parser.add_argument("--concurrency", type=int, default=settings.runner_concurrency)
    args = parser.parse_args(argv)

    runner_id = settings.runner_id or socket.gethostname()
    # Jobs run in forked processes that rebuild their settings from the environment.
    os.environ["IRONWORKS_RUNNER_ID"] = runner_id
    store = Store.connect(settings)
    check_redis(store)
    driver = DockerDriver()
    driver.ping()
    driver.prepare_task_network()
    instance_id = store.instance_id()
    reclaim_leftovers(store, driver, instance_id, runner_id)
    task_root = settings.runner_dir / "tasks"
    taskdir.remove_all(task_root)  # their containers are gone: free the memory they held
    taskdir.remove(taskdir.make(task_root, "preflight", 1))  # can we give tasks their disk?
    # Spawned, not forked: they share no connections or threads with the worker pool.
    spawn = multiprocessing.get_context("spawn")
    draining = spawn.Event()
    helpers = {
        "janitor": (janitor.main, (instance_id,)),
        "monitor": (monitor.main, (instance_id, runner_id, args.concurrency, draining)),
    }
    if settings.warm_start:
        warm.Registry(settings.runner_dir / "warm").reset()
        helpers["warmer"] = (warm.main, (instance_id, runner_id))
    for name, (target, target_args) in helpers.items():
        spawn.Process(target=target, args=target_args, name=name, daemon=True).start()
    log.info("runner %s serving %s with %d slots", runner_id, settings.clusters, args.concurrency)
    pool.serve(
        settings.redis_url,
        settings.clusters,
        args.concurrency,
        settings.runner_drain_s,
        hand_back=lambda: hand_back_running(store, driver, instance_id, runner_id),
        on_drain=draining.set,
    )


def hand_back_running(store: Store, driver: DockerDriver, instance_id: str, runner_id: str) -> int:
    """Give this runner's running tasks back to admission, then remove their containers (a
    worker still watching one finds its task no longer its own and records nothing)."""
    handed = 0
    for container in driver.containers_of(instance_id, runner_id):
        owner = container.owner()  # None: a warm container that has no task yet
        try:
            if owner and store.tasks.hand_back(store.tasks.get(owner[0]), owner[1]):
                handed += 1
                log.info("handed back task %s", owner[0])
        except NotFound:
            pass  # the record is gone; the container goes all the same
        container.remove()
    return handed


def reclaim_leftovers(store: Store, driver: DockerDriver, instance_id: str, runner_id: str) -> None:
    """Remove containers a previous life of this runner left behind and end their tasks as
    `killed` ("runner lost"), without waiting for their leases to run out."""
    for container in driver.containers_of(instance_id, runner_id):
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
