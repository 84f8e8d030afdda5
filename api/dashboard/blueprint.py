"""The dashboard's blueprint, and the checks every request to it passes: signed in (except the
sign-in page and static files) and, for any POST, the session's CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, redirect, request, url_for

from api import context
from api.dashboard import session

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

OPEN_ENDPOINTS = {"dashboard.login", "dashboard.static"}


@bp.before_request
def guard():
    if request.method == "POST":
        session.check_csrf(request.form.get("csrf", ""))
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    viewer = session.viewer()
    if viewer is not None and not viewer.admin and not _token_still_valid(viewer):
        session.sign_out()  # the token it was opened with was rotated away
        viewer = None
    if viewer is None:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    return None


def _token_still_valid(viewer: session.Viewer) -> bool:
    token_hash = session.token_hash()
    if not token_hash:
        return False
    return context.store().projects.id_for_token(token_hash) == (viewer.project_id)


@bp.app_context_processor
def page_globals() -> dict:
    return {"viewer": session.viewer(), "csrf_token": session.csrf_token}


@bp.app_template_filter("when")
def when(ts: float | None) -> str:
    """A time as people read it, in UTC (what the filters take too)."""
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.app_template_filter("combine_page")
def combine_page(args: dict[str, str], page: int) -> dict[str, object]:
    return {**args, "page": page}
