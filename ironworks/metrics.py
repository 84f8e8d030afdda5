"""Prometheus metrics: what each process observes, what the store knows, and the small HTTP
server the scheduler and the runner answer /metrics, /healthz and /readyz on.

Task counts and gauges (queued, running, finished by status) are read from Redis at scrape
time by StoreCollector, so they are exact and the same from every API worker, whatever
gunicorn's process model. Histograms and counters are per process (one scheduler, one runner
monitor): Prometheus sums them across instances.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ironworks.model import TaskStatus
from ironworks.store import Store

log = logging.getLogger(__name__)

SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

TASKS_ADMITTED = Counter(
    "ironworks_tasks_admitted_total", "Tasks given a slot and handed to runners", ["project"]
)
TASK_WAIT = Histogram(
    "ironworks_task_wait_seconds", "From queued (or due, when delayed) to started", buckets=SECONDS
)
TASK_RUN = Histogram(
    "ironworks_task_run_seconds", "From started to ended, by end status", ["status"],
    buckets=SECONDS,
)  # fmt: skip
CONTAINER_START = Histogram(
    "ironworks_container_start_seconds",
    "From asking for a task's container to its task starting: cold, or warm (hit or miss)",
    ["start"], buckets=SECONDS,
)  # fmt: skip
WARM_STARTS = Counter(
    "ironworks_warm_starts_total", "Tasks of warm-able codes by pool hit or miss",
    ["project", "code", "result"],
)  # fmt: skip
WEBHOOK_DELIVERIES = Counter(
    "ironworks_webhook_deliveries_total", "Outbound webhook attempts by outcome", ["outcome"]
)


class StoreCollector:
    """Task counts per project and code, and runner slots, straight from Redis."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def describe(self) -> list[Metric]:
        return []  # not known before a scrape; keeps registration from calling collect()

    def collect(self) -> Iterator[Metric]:
        queued = CounterMetricFamily(
            "ironworks_tasks_queued", "Tasks ever queued", labels=["project", "code"]
        )
        finished = CounterMetricFamily(
            "ironworks_tasks_finished",
            "Tasks ended, by status",
            labels=["project", "code", "status"],
        )
        depth = GaugeMetricFamily("ironworks_queue_depth", "Tasks queued now", labels=["project"])
        running = GaugeMetricFamily(
            "ironworks_tasks_running", "Tasks running now", labels=["project"]
        )
        for project in self._store.counts.projects():
            depth.add_metric([project.project_id], project.queued)
            running.add_metric([project.project_id], project.running)
            for code in project.codes:
                queued.add_metric(
                    [project.project_id, code.code_name], sum(code.by_status.values())
                )
                for status in TaskStatus:
                    if status.is_terminal:
                        count = code.by_status.get(status, 0)
                        finished.add_metric([project.project_id, code.code_name, status], count)
        slots = GaugeMetricFamily(
            "ironworks_runner_slots", "Runner slots", labels=["runner", "state"]
        )
        for beat in self._store.runners.list():
            slots.add_metric([beat.id, "busy"], beat.busy)
            slots.add_metric([beat.id, "free"], max(beat.slots - beat.busy, 0))
        yield from (queued, finished, depth, running, slots)


def store_registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # scrapes every few seconds would drown the process's own log


def serve(bind: str, ready: Callable[[], str | None], registry: CollectorRegistry) -> None:
    """Answer /healthz (alive), /readyz (`ready()` returns None, or why not) and /metrics on
    `bind` (host:port) from a daemon thread."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body, content_type = exposition(registry)
            status = "200 OK"
        elif path == "/healthz":
            body, content_type, status = b"ok\n", "text/plain", "200 OK"
        elif path == "/readyz":
            problem = ready()
            body = f"{problem or 'ready'}\n".encode()
            content_type = "text/plain"
            status = "503 Service Unavailable" if problem else "200 OK"
        else:
            body, content_type, status = b"not found\n", "text/plain", "404 Not Found"
        start_response(status, [("Content-Type", content_type)])
        return [body]

    host, _, port = bind.rpartition(":")
    server = make_server(host, int(port), app, _ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("health and metrics on http://%s:%d", host, server.server_port)
