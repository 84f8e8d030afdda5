"""The scheduler process: admission, the reaper and the event consumers, each in a thread.

Every loop survives Redis going away: it logs, waits and carries on where it was, so a Redis
restart needs no scheduler restart.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from ironworks.settings import Settings
from ironworks.store import PASSING_ERRORS, Store
from scheduler import consumers
from scheduler.admission import run_round
from scheduler.dispatch import Dispatcher
from scheduler.reaper import reap
from scheduler.schedules import fire_due
from scheduler.webhooks import Deliverer

log = logging.getLogger(__name__)

REDIS_RETRY_S = 1.0
SCHEDULE_TICK_S = 1.0
WEBHOOK_TICK_S = 0.25
RETENTION_TICK_S = 1.0
# Under a stream of queued tasks that admits nothing (paused code, limits full), admission
# rounds are this far apart at least, and twice as far each round that admits nothing, up
# to MAX_ROUND_GAP_S; the first task after a quiet spell is admitted at once.
ROUND_GAP_S = 0.01
MAX_ROUND_GAP_S = 0.05


class Failed(threading.Event):
    """Set when a loop died of an unexpected error: the process must exit, not limp on."""


def _nothing() -> None:
    pass


def forever(
    name: str, step: Callable[[], object], stop: threading.Event, failed: Failed,
    done: Callable[[], object] = _nothing,
) -> None:  # fmt: skip
    while not stop.is_set():
        try:
            step()
        except PASSING_ERRORS as e:
            log.warning("%s: Redis unavailable (%s); retrying", name, e)
            stop.wait(REDIS_RETRY_S)
        except Exception:
            log.exception("%s: unexpected error; stopping the scheduler", name)
            failed.set()
            stop.set()
    try:
        done()
    except PASSING_ERRORS as e:  # left to be read again: handlers take an event twice
        log.warning("%s: Redis unavailable at the end (%s)", name, e)


def threads(settings: Settings, stop: threading.Event, failed: Failed) -> list[threading.Thread]:
    store = Store.connect(settings)
    dispatcher = Dispatcher(settings)
    consumer_name = f"{socket.gethostname()}-{os.getpid()}"

    gap = ROUND_GAP_S

    def admit() -> None:
        nonlocal gap
        admitted = run_round(
            store, dispatcher, settings.dispatch_lease_s, settings.runner_heartbeat_s
        )
        if admitted:
            gap = ROUND_GAP_S
            return
        waited = time.monotonic()
        store.admission.wait_for_work(settings.scheduler_idle_wait_s)
        if time.monotonic() - waited >= ROUND_GAP_S:  # a quiet spell: at once
            gap = ROUND_GAP_S
            return
        # Woken at once: a stream of tasks that gathers for one round, not a round each; the
        # longer the rounds admit nothing, the further apart (up to MAX_ROUND_GAP_S).
        stop.wait(gap)
        gap = min(gap * 2, MAX_ROUND_GAP_S)

    def reaper() -> None:
        reap(store, dispatcher, time.time(), settings.dispatch_lease_s)
        stop.wait(settings.reaper_interval_s)

    def retention() -> None:
        if store.retention.expire_due(time.time()) == 0:
            store.retention.trim_events()
            stop.wait(RETENTION_TICK_S)

    def schedules() -> None:
        fire_due(store, time.time(), settings.default_timeout_s)
        stop.wait(SCHEDULE_TICK_S)

    deliverer = Deliverer(store, settings.webhook_allow_private)

    def webhooks() -> None:
        if not deliverer.step(time.time()):
            stop.wait(WEBHOOK_TICK_S)

    loops: dict[str, Callable[[], object]] = {
        "admission": admit,
        "reaper": reaper,
        "schedules": schedules,
        "retention": retention,
        "webhooks": webhooks,
    }
    ends: dict[str, Callable[[], object]] = {}
    for group, handler in consumers.CONSUMERS.items():
        store.events.ensure_group(group)
        consumer = consumers.Consumer(store, group, consumer_name, handler)
        loops[f"consumer-{group}"], ends[f"consumer-{group}"] = consumer.step, consumer.flush
    return [
        threading.Thread(
            target=forever,
            args=(name, step, stop, failed, ends.get(name, _nothing)),
            name=name,
            daemon=True,
        )  # fmt: skip
        for name, step in loops.items()
    ]
