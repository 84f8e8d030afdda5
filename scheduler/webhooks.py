"""Outbound webhooks: a delivery per (hook, state change), posted with a signature, retried
with backoff, every attempt kept for the API to show."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from ironworks import outbound
from ironworks.errors import NotFound
from ironworks.metrics import WEBHOOK_DELIVERIES
from ironworks.model import derived_id
from ironworks.store import Store
from ironworks.store.events import Event
from ironworks.views import task_json
from ironworks.webhooks import (
    MAX_ATTEMPTS,
    NOTIFIED,
    SIGNATURE_HEADER,
    Delivery,
    backoff_s,
    signature,
)

log = logging.getLogger(__name__)

# Connect, then each read: short, so that a receiver cannot hold a thread for long.
POST_TIMEOUT_S = (3.0, 5.0)
DELIVERY_THREADS = 8
PROJECT_IN_FLIGHT = 2
BUSY_RETRY_S = 1.0


def plan_deliveries(store: Store, event: Event) -> None:
    """Events consumer: one delivery per matching hook for each announced status change."""
    if event.status not in NOTIFIED:
        return
    try:
        task = store.tasks.get(event.task_id)
    except NotFound:
        return
    now = time.time()
    for hook in store.webhooks.of_project(event.project_id):
        if hook.wants(task.code_name):
            delivery = Delivery(
                id=derived_id("delivery", f"{hook.id}:{event.id}"),
                hook_id=hook.id,
                project_id=hook.project_id,
                task_id=task.id,
                status=event.status,
                created_at=now,
            )
            store.webhooks.add_delivery_once(delivery, due=now)


class Deliverer:
    """Posts due deliveries from a pool of threads, at most PROJECT_IN_FLIGHT at once per
    project: a receiver that answers slowly (or never) holds up its own project's deliveries,
    not everyone's. Every connection goes to a checked public address (ironworks.outbound)
    unless the operator allows private targets."""

    def __init__(self, store: Store, allow_private: bool, threads: int = DELIVERY_THREADS) -> None:
        self._store, self._allow_private, self._threads = store, allow_private, threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="webhook")
        self._sessions = threading.local()  # a requests.Session is not meant to be shared
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()  # project id → attempts being made

    def step(self, now: float) -> int:
        """Start attempts for what is due and has room; returns how many were started."""
        with self._lock:
            room = self._threads - self._in_flight.total()
        if room <= 0:
            return 0
        started = 0
        for delivery in self._store.webhooks.claim_due(now, limit=room):
            with self._lock:
                busy = self._in_flight[delivery.project_id] >= PROJECT_IN_FLIGHT
                if not busy:
                    self._in_flight[delivery.project_id] += 1
            if busy:  # its project's turn comes again once an attempt of it ends
                self._store.webhooks.postpone(delivery.id, now + BUSY_RETRY_S)
                continue
            self._pool.submit(self._attempt_and_release, delivery)
            started += 1
        return started

    def _attempt_and_release(self, delivery: Delivery) -> None:
        try:
            _attempt(self._store, delivery, self._session())
        except Exception:  # a thread of the pool has nobody to tell: log, and the claim expires
            log.exception("webhook delivery %s failed unexpectedly", delivery.id)
        finally:
            with self._lock:
                self._in_flight[delivery.project_id] -= 1

    def _session(self) -> requests.Session:
        if not hasattr(self._sessions, "http"):
            self._sessions.http = outbound.session(self._allow_private)
        return self._sessions.http


def _attempt(store: Store, delivery: Delivery, http: requests.Session) -> int:
    try:
        hook = store.webhooks.get(delivery.project_id, delivery.hook_id)
        task = store.tasks.get(delivery.task_id)
    except NotFound:
        store.webhooks.record_attempt(
            delivery, {"at": time.time(), "error": "hook or task gone"}, "failed", None
        )
        return 0
    body = json.dumps({"event": f"task.{delivery.status}", "task": task_json(task)}).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(hook.secret, body)}
    attempt: dict = {"at": time.time()}
    try:
        ok, attempt["status_code"] = _post(http, hook.url, body, headers)
        if not ok:
            attempt["error"] = _refusal(attempt["status_code"])
    except outbound.ForbiddenTarget as e:
        ok, attempt["error"] = False, str(e)
    except requests.RequestException as e:
        ok, attempt["error"] = False, _plain(e)
    tries = delivery.attempts + 1
    WEBHOOK_DELIVERIES.labels("delivered" if ok else "failed").inc()
    if ok:
        store.webhooks.record_attempt(delivery, attempt, "delivered", None)
        return 1
    if tries >= MAX_ATTEMPTS:
        store.webhooks.record_attempt(delivery, attempt, "failed", None)
        log.warning("webhook %s: gave up on task %s after %d tries", hook.id, task.id, tries)
        return 0
    store.webhooks.record_attempt(delivery, attempt, "pending", time.time() + backoff_s(tries))
    return 0


def _post(http: requests.Session, url: str, body: bytes, headers: dict) -> tuple[bool, int]:
    """POST without following redirects and without reading the receiver's body."""
    with http.post(
        url, data=body, headers=headers, timeout=POST_TIMEOUT_S, allow_redirects=False,
        stream=True,
    ) as response:  # fmt: skip
        return 200 <= response.status_code < 300, response.status_code


def _refusal(status_code: int) -> str:
    if 300 <= status_code < 400:
        return f"HTTP {status_code}: redirects are not followed"
    return f"HTTP {status_code}"


def _plain(error: requests.RequestException) -> str:
    """Connection failures as a short reason, without urllib3's pool and retry wrapping."""
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "could not connect"
    return type(error).__name__
