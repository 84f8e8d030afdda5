"""With `IRONWORKS_REDIS_MIN_REPLICAS` set, a write is acknowledged only once replicas have it:
a Sentinel failover then promotes a replica that holds everything the API said yes to."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request

from ironworks.settings import Settings
from ironworks.store import PASSING_ERRORS, Store

log = logging.getLogger(__name__)

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_REPLICATED = (
    "stored, but not yet confirmed by {n} Redis replica(s), so a failover could lose it; "
    "retry (with the same idempotency_key, for tasks) or check before queueing again"
)


def register(app: Flask, store: Store, settings: Settings) -> None:
    replicas, wait_ms = settings.redis_min_replicas, settings.redis_replica_wait_ms
    if replicas <= 0:
        return

    @app.after_request
    def confirm_replicated(response: Response) -> Response:
        if request.method not in WRITES or response.status_code >= 400:
            return response
        try:
            if store.replicated(replicas, wait_ms):
                return response
        except PASSING_ERRORS as e:  # the master went away after the write
            log.warning("cannot confirm replication: %s", e)
        log.warning("%s %s: not confirmed by %d replica(s)", request.method, request.path, replicas)
        refused = jsonify(msg=NOT_REPLICATED.format(n=replicas))
        refused.status_code = 503
        return refused
