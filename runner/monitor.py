"""The runner's monitor, a process of its own beside the workers: a heartbeat in Redis (what
`GET /2/runners` and the runner-slot metrics show) and /healthz, /readyz, /metrics for the
orchestrator and Prometheus."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Event

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from ironworks import logsetup, metrics
from ironworks.model import RunnerBeat
from ironworks.preflight import redis_problem
from ironworks.settings import Settings
from ironworks.store import Store
from runner.docker_driver import DockerDriver, DriverError

log = logging.getLogger(__name__)


class SlotsCollector:
    """Busy slots = this runner's task containers on the engine, counted at scrape time."""

    def __init__(self, driver: DockerDriver, instance_id: str, runner_id: str, slots: int):
        self._driver, self._instance_id, self._runner_id = driver, instance_id, runner_id
        self._slots = slots

    def busy(self) -> int:
        """Containers running a task (a prestarted one waiting for its task holds no slot)."""
        found = self._driver.containers_of(self._instance_id, self._runner_id)
        return sum(c.owner() is not None for c in found)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        busy = self.busy()
        family = GaugeMetricFamily(
            "ironworks_runner_slots", "This runner's slots", labels=["state"]
        )
        family.add_metric(["busy"], busy)
        family.add_metric(["free"], max(self._slots - busy, 0))
        yield family


def main(instance_id: str, runner_id: str, slots: int, draining: Event) -> None:
    settings = Settings.from_env()
    logsetup.configure("runner-monitor", settings.log_format)
    store, driver = Store.connect(settings), DockerDriver()
    counter = SlotsCollector(driver, instance_id, runner_id, slots)

    def not_ready() -> str | None:
        if draining.is_set():
            return "draining: taking no new tasks"
        try:
            driver.ping()
        except DriverError as e:
            return str(e)
        return redis_problem(store)

    if settings.runner_metrics_bind:
        registry = CollectorRegistry()
        registry.register(counter)
        metrics.serve(settings.runner_metrics_bind, not_ready, registry)
    started = time.time()
    while True:
        try:
            beat = RunnerBeat(
                id=runner_id,
                host=socket.gethostname(),
                slots=slots,
                busy=counter.busy(),
                clusters=",".join(settings.clusters),
                started_at=started,
                last_seen=time.time(),
                draining=draining.is_set(),
            )
            store.runners.beat(beat)
        except (redis.RedisError, DriverError, OSError) as e:  # Docker's requests errors too
            log.warning("heartbeat skipped: %s", e)
        time.sleep(settings.runner_heartbeat_s)
