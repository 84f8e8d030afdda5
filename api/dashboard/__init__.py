"""The web dashboard: server-rendered pages under /, signed in with a project token (or the
admin token, which can switch projects); a small script keeps them live."""

from __future__ import annotations

from flask import Flask

from api.dashboard import actions, pages, signin  # noqa: F401 - their routes join the blueprint
from api.dashboard.blueprint import bp
from ironworks.store import Store


def register(app: Flask, store: Store) -> None:
    app.secret_key = store.session_secret()
    app.config.update(
        SESSION_COOKIE_NAME="ironworks_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.register_blueprint(bp)
