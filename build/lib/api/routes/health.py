"""Liveness, readiness and metrics: what load balancers, Kubernetes and Prometheus ask."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from api import auth, context
from ironworks import metrics
from ironworks.preflight import redis_problem

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Alive: the process answers. Says nothing of Redis, so that an orchestrator does not
    restart every API process during a Redis outage (readiness takes them out of service)."""
    return jsonify(msg="ok")


@bp.get("/readyz")
def readyz():
    """Ready to serve: Redis reachable and set not to evict."""
    problem = redis_problem(context.store())
    if problem:
        return jsonify(msg=problem), 503
    return jsonify(msg="ready")


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
