"""Liveness, readiness and metrics: what load balancers, Kubernetes and Prometheus ask."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from api import auth, context
from ironworks import metrics
from ironworks.preflight import MEMORY_WARNING_SHARE, memory_use, redis_problem

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Alive: the process answers. Says nothing of Redis, so that an orchestrator does not
    restart every API process during a Redis outage (readiness takes them out of service)."""
    return jsonify(msg="ok")


@bp.get("/readyz")
def readyz():
    """Ready to serve: Redis reachable, set not to evict and not full; the body tells how
    close Redis is to its memory budget, so that the pressure shows before writes fail."""
    store = context.store()
    problem = redis_problem(store)
    if problem:
        return jsonify(msg=problem), 503
    memory = memory_use(store)
    msg = "ready"
    if memory.share >= MEMORY_WARNING_SHARE:
        msg = f"ready, but Redis uses {memory.share:.0%} of its maxmemory"
    return jsonify(msg=msg, redis_memory=memory.as_json())


@bp.get("/metrics")
def metrics_page():
    """Admin token required: the labels name every project and code (Prometheus sends it
    with `authorization: {type: Bearer, credentials: ...}`)."""
    auth.require_admin()
    registry = current_app.extensions["ironworks"].setdefault(
        "metrics", metrics.store_registry(context.store())
    )
    body, content_type = metrics.exposition(registry)
    return Response(body, content_type=content_type)
