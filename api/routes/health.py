from __future__ import annotations

import redis
from flask import Blueprint, jsonify

from api import context

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        context.store().ping()
    except redis.RedisError:
        return jsonify(msg="Redis is not reachable"), 503
    return jsonify(msg="ok")
