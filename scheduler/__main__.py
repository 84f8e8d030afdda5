"""`python -m scheduler`: run the admission loop until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading

from ironworks.preflight import check_redis
from ironworks.settings import Settings
from ironworks.store import Store
from scheduler import loop
from scheduler.dispatch import Dispatcher


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s"
    )
    settings = Settings.from_env()
    store = Store.connect(settings)
    check_redis(store)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logging.getLogger(__name__).info("scheduler started")
    loop.run(store, Dispatcher(settings), settings.scheduler_idle_wait_s, stop)


if __name__ == "__main__":
    main()
