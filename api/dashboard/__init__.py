"""The web dashboard: server-rendered pages under /, signed in with a project token (or the
admin token, which can switch projects); a small script keeps them live."""

from __future__ import annotations

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from api.dashboard import actions, pages, signin  # noqa: F401 - their routes join the blueprint
from api.dashboard.blueprint import bp
from ironworks.store import Store

API_PREFIX = "/2/"


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie, marked `Secure` whenever the request came over HTTPS (directly,
    or through a proxy gunicorn trusts to say so with X-Forwarded-Proto): one installation
    serves plain HTTP on a laptop and HTTPS behind an ingress without a setting."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """None (Flask's null session) for the REST API, which takes tokens, never cookies:
        a signed cookie's serializer costs every API request otherwise."""
        if request.path.startswith(API_PREFIX):
            return None
        return super().open_session(app, request)


def register(app: Flask, store: Store) -> None:
    app.secret_key = store.session_secret()
    app.session_interface = SessionCookies()
    app.config.update(
        SESSION_COOKIE_NAME="ironworks_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.register_blueprint(bp)
