"""The installation seen by its operator (admin only): the runners serving it, as their
heartbeats describe them, and the audit trail of every project."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify

from api import auth, context, queries
from api.routes.secrets import AUDIT_LIMIT
from ironworks.runner_beats import RunnerBeat
from ironworks.views import audit_json, iso

bp = Blueprint("runners", __name__)

AUDIT_PROJECT = queries.text("project_id", "Only this project's entries", max_len=64)


@bp.get("/2/audit")
@queries.takes(AUDIT_PROJECT, AUDIT_LIMIT)
def audit():
    """Every project's secret and egress changes, or one project's (admin only)."""
    auth.require_admin()
    project_id = AUDIT_PROJECT.read()
    if project_id is not None:
        context.store().projects.get(project_id)  # 404 for an unknown project
    entries = context.store().audit.list(project_id, AUDIT_LIMIT.read())
    return jsonify(entries=[audit_json(e) for e in entries])


@bp.get("/2/runners")
def list_runners():
    auth.require_admin()
    settings, now = context.settings(), time.time()
    beats = context.store().runners.list()
    return jsonify(runners=[_view(b, now, settings.runner_heartbeat_s) for b in beats])


def _view(beat: RunnerBeat, now: float, heartbeat_s: float) -> dict:
    return {
        "id": beat.id,
        "host": beat.host,
        "clusters": beat.clusters.split(","),
        "slots": beat.slots,
        "busy": beat.busy,
        "load": round(beat.busy / beat.slots, 2) if beat.slots else None,
        "draining": beat.draining,
        "alive": beat.is_alive(now, heartbeat_s),
        "started_at": iso(beat.started_at),
        "last_seen": iso(beat.last_seen),
    }
