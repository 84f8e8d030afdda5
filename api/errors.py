"""One place that turns errors into JSON `{"msg": ...}` responses."""

from __future__ import annotations

import logging

import redis
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ironworks import errors

log = logging.getLogger(__name__)

STATUS = {
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.TooMany: 429,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooLarge: 413,
    errors.Unavailable: 503,
}


def status_of(e: errors.IronworksError) -> int:
    """The HTTP status of a platform error; 500 (logged) for one that is not the caller's."""
    status = next((code for cls, code in STATUS.items() if isinstance(e, cls)), None)
    if status is None:
        log.exception("unexpected platform error")
        return 500
    return status


def register(app: Flask) -> None:
    @app.errorhandler(errors.IronworksError)
    def platform_error(e: errors.IronworksError):
        status = status_of(e)
        shown = status < 500 or status == 503  # 503s say what is missing; 500s are ours
        return jsonify(msg=str(e) if shown else "Internal error"), status

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def store_unavailable(e: redis.RedisError):
        # Passing, as a rule (a restart, a failover): nothing was half-done, the caller retries.
        log.warning("Redis unavailable: %s", e)
        return jsonify(msg="Ironworks cannot reach its Redis just now; try again shortly"), 503

    @app.errorhandler(redis.OutOfMemoryError)
    def store_full(e: redis.RedisError):
        # Redis reached its maxmemory and, set not to evict, refuses writes: the request
        # stored nothing (a refused script or MULTI writes nothing), what was stored is kept.
        log.error("Redis is full (maxmemory reached): %s", e)
        msg = "Ironworks is out of storage space just now; nothing was stored, try again later"
        return jsonify(msg=msg), 503

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        msg = "Request too large" if e.code == 413 else e.description
        response = jsonify(msg=msg)
        response.status_code = e.code or 500
        # What the exception says a client needs besides the body: a 405's Allow, above all.
        for name, value in e.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception("unhandled error")
        return jsonify(msg="Internal error"), 500
