"""`python -m scheduler`: admission, reaper and event consumers until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading

from prometheus_client import REGISTRY

from ironworks import logsetup, metrics
from ironworks.preflight import check_redis, redis_problem
from ironworks.settings import Settings
from ironworks.store import Store
from scheduler import service


def main() -> None:
    settings = Settings.from_env()
    logsetup.configure("scheduler", settings.log_format)
    store = Store.connect(settings)
    check_redis(store)
    if settings.scheduler_metrics_bind:
        metrics.serve(settings.scheduler_metrics_bind, lambda: redis_problem(store), REGISTRY)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    failed = service.Failed()
    workers = service.threads(settings, stop, failed)
    for worker in workers:
        worker.start()
    logging.getLogger(__name__).info("scheduler started: %s", ", ".join(w.name for w in workers))
    stop.wait()
    for worker in workers:
        worker.join(timeout=5)
    raise SystemExit(1 if failed.is_set() else 0)


if __name__ == "__main__":
    main()
