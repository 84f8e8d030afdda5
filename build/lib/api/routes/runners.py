"""The runners serving this installation, as their heartbeats describe them (admin only)."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify

from api import auth, context
from ironworks.model import RunnerBeat
from ironworks.views import iso

bp = Blueprint("runners", __name__)

# A runner whose heartbeat is older than this many intervals is shown as not alive.
MISSED_BEATS = 3


@bp.get("/2/runners")
def list_runners():
    auth.require_admin()
    settings, now = context.settings(), time.time()
    alive_within = MISSED_BEATS * settings.runner_heartbeat_s
    return jsonify(runners=[_view(b, now, alive_within) for b in context.store().runners.list()])


def _view(beat: RunnerBeat, now: float, alive_within: float) -> dict:
    return {
        "id": beat.id,
        "host": beat.host,
        "clusters": beat.clusters.split(","),
        "slots": beat.slots,
        "busy": beat.busy,
        "load": round(beat.busy / beat.slots, 2) if beat.slots else None,
        "draining": beat.draining,
        "alive": now - beat.last_seen <= alive_within,
        "started_at": iso(beat.started_at),
        "last_seen": iso(beat.last_seen),
    }
