"""Who is looking: the project (and whether with the admin token) kept in Flask's signed,
HttpOnly, SameSite=Lax session cookie, and the CSRF token every form carries."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from flask import abort, session


@dataclass(frozen=True)
class Viewer:
    project_id: str | None  # None: an admin who has not picked a project yet
    admin: bool


def viewer() -> Viewer | None:
    if "admin" not in session:
        return None
    return Viewer(session.get("project_id"), bool(session["admin"]))


def sign_in(project_id: str | None, admin: bool, token_hash: str | None = None) -> None:
    """`token_hash`: the project token signed in with; the session lasts as long as it."""
    session.clear()  # a fresh session: nothing from before the sign-in carries over
    session.update(
        project_id=project_id, admin=admin, token_hash=token_hash, csrf=secrets.token_urlsafe(24)
    )


def token_hash() -> str | None:
    return session.get("token_hash")


def switch_project(project_id: str) -> None:
    session["project_id"] = project_id


def sign_out() -> None:
    session.clear()


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf(presented: str) -> None:
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        abort(400, "The form is out of date (CSRF check failed); reload the page and try again.")
