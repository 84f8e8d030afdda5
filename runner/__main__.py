"""`python -m runner [--concurrency N]`: a pool of RQ workers, each running one task at a time,
and a janitor process that removes orphaned containers."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import socket
import time

from ironworks.preflight import check_redis
from ironworks.settings import Settings
from ironworks.store import Store
from runner import janitor, pool
from runner.docker_driver import DockerDriver
from runner.spec import LABEL_ATTEMPT, LABEL_TASK

log = logging.getLogger("runner")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s runner %(levelname)s %(message)s")
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m runner")
    parser.add_argument("--concurrency", type=int, default=settings.runner_concurrency)
    args = parser.parse_args()

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
    # Spawned, not forked: it shares no connections or threads with the worker pool.
    sweeper = multiprocessing.get_context("spawn").Process(
        target=janitor.main, args=(instance_id,), name="janitor", daemon=True
    )
    sweeper.start()
    log.info("runner %s serving %s with %d slots", runner_id, settings.clusters, args.concurrency)
    pool.serve(settings.redis_url, settings.clusters, args.concurrency)


def reclaim_leftovers(store: Store, driver: DockerDriver, instance_id: str, runner_id: str) -> None:
    """Remove containers a previous life of this runner left behind and end their tasks as
    `killed` ("runner lost"), without waiting for their leases to run out."""
    for container in driver.containers_of(instance_id, runner_id):
        labels = container.labels
        container.remove()
        task = store.tasks.get(labels[LABEL_TASK])
        ended = task.attempt == int(labels[LABEL_ATTEMPT]) and store.tasks.reap(
            task, time.time(), lease_expired=False
        )
        log.warning("removed leftover container of task %s (ended now: %s)", task.id, ended)


if __name__ == "__main__":
    main()
