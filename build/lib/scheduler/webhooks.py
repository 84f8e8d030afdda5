"""Outbound webhooks: a delivery per (hook, state change), posted with a signature, retried
with backoff, every attempt kept for the API to show."""

from __future__ import annotations

import json
import logging
import time

import requests

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

POST_TIMEOUT_S = 10


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


def deliver_due(store: Store, now: float) -> int:
    delivered = 0
    for delivery in store.webhooks.claim_due(now):
        delivered += _attempt(store, delivery)
    return delivered


def _attempt(store: Store, delivery: Delivery) -> int:
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
        response = requests.post(hook.url, data=body, headers=headers, timeout=POST_TIMEOUT_S)
        attempt["status_code"] = response.status_code
        ok = 200 <= response.status_code < 300
        if not ok:
            attempt["error"] = f"HTTP {response.status_code}"
    except requests.RequestException as e:
        ok, attempt["error"] = False, str(e)
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
