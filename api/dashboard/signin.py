"""Signing in with a token, and out."""

from __future__ import annotations

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
    project_id = context.store().projects.id_for_token(auth.hash_token(token or "-"))
    if project_id:
        session.sign_in(project_id, admin=False)
        return redirect(_next_page())
    return render_template("dashboard/login.html", error="That token opens no project."), 401


@bp.post("/logout")
def logout():
    session.sign_out()
    return redirect(url_for("dashboard.login"))


def _next_page() -> str:
    """Only a path on this site: never an open redirect."""
    wanted = request.args.get("next", "")
    if wanted.startswith("/") and not wanted.startswith("//"):
        return wanted
    return url_for("dashboard.overview")
