"""The runners serving this installation, as their heartbeats describe them (admin only)."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify

from api import auth, context
from ironworks.model import RunnerBeat
from ironworks.views import iso

bp = Blueprint("runners", __name__)


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
