"""Signing in with a token, and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for

from api import auth, context
from api.dashboard import session
from api.dashboard.blueprint import bp


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("dashboard/login.html", error=None)
    token = request.form.get("token", "").strip()
    if token and auth.is_admin(token):
        session.sign_in(None, admin=True)
        return redirect(_next_page())
    token_hash = auth.hash_token(token or "-")
    project_id = context.store().projects.id_for_token(token_hash)
    if project_id:
        session.sign_in(project_id, admin=False, token_hash=token_hash)
        return redirect(_next_page())
    return render_template("dashboard/login.html", error="That token opens no project."), 401


@bp.post("/logout")
def logout():
    session.sign_out()
    return redirect(url_for("dashboard.login"))


def _next_page() -> str:
    """Only a path on this site: never an open redirect. Browsers read a backslash as a
    slash and drop tabs and newlines, so `/` + backslash + `evil.com` would leave the site:
    accept only a plain absolute path of printable characters without a backslash."""
    wanted = request.args.get("next", "")
    parts = urlsplit(wanted)
    is_local_path = (
        wanted.startswith("/")
        and not wanted.startswith("//")
        and "\\" not in wanted
        and wanted.isprintable()
        and not parts.scheme
        and not parts.netloc
    )
    return wanted if is_local_path else url_for("dashboard.overview")
