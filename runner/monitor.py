"""The runner's monitor thread: a heartbeat in Redis (what `GET /2/runners` and the runner-slot
metrics show) and /healthz, /readyz, /metrics for the orchestrator and Prometheus."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from ironworks import metrics
from ironworks.preflight import redis_problem
from ironworks.runner_beats import RunnerBeat
from ironworks.settings import Settings
from ironworks.store import Store
from runner.engine import DriverError, Engine

log = logging.getLogger(__name__)


class SlotsCollector:
    """This runner's slots, busy and free, at scrape time."""

    def __init__(self, slots: int, busy: Callable[[], int]):
        self._slots, self._busy = slots, busy

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        busy = self._busy()
        family = GaugeMetricFamily(
            "ironworks_runner_slots", "This runner's slots", labels=["state"]
        )
        family.add_metric(["busy"], busy)
        family.add_metric(["free"], max(self._slots - busy, 0))
        yield family


def run(
    settings: Settings,
    store: Store,
    engine: Engine,
    runner_id: str,
    slots: int,
    busy: Callable[[], int],
    draining: threading.Event,
) -> None:
    """Serves the health and metrics endpoints (if bound) and beats until the process ends."""

    def not_ready() -> str | None:
        if draining.is_set():
            return "draining: taking no new tasks"
        try:
            engine.ping()
        except DriverError as e:
            return str(e)
        return redis_problem(store)

    if settings.runner_metrics_bind:
        registry = CollectorRegistry()
        registry.register(SlotsCollector(slots, busy))
        metrics.serve(settings.runner_metrics_bind, not_ready, registry)
    started = time.time()
    while True:
        try:
            beat = RunnerBeat(
                id=runner_id,
                host=socket.gethostname(),
                slots=slots,
                busy=busy(),
                clusters=",".join(settings.clusters),
                started_at=started,
                last_seen=time.time(),
                draining=draining.is_set(),
            )
            store.runners.beat(beat)
        except redis.RedisError as e:
            log.warning("heartbeat skipped: %s", e)
        time.sleep(settings.runner_heartbeat_s)
