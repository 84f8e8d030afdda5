"""What the dashboard's buttons do: each a POST carrying the session's CSRF token, answered
with a redirect back to the page (post/redirect/get) and a one-line message."""

from __future__ import annotations

import time

from flask import abort, flash, redirect, render_template, request, url_for

from api import auth, context
from api.dashboard import session
from api.dashboard.blueprint import bp
from api.dashboard.pages import project_id, task_filter
from ironworks import replays
from ironworks.errors import BadRequest
from ironworks.model import new_id, run_again


@bp.post("/tasks/<task_id>/cancel")
def cancel_task(task_id: str):
    context.store().tasks.cancel(project_id(), task_id, time.time())
    flash("Task cancelled.")
    return redirect(url_for("dashboard.task", task_id=task_id))


@bp.post("/tasks/<task_id>/retry")
def retry_task(task_id: str):
    store, now = context.store(), time.time()
    original = store.tasks.get_in_project(project_id(), task_id)
    if not original.status.is_terminal:
        raise BadRequest(f"Task is still {original.status}; only a finished task can be retried")
    (again,) = store.tasks.enqueue([run_again(original, new_id(), now)], now)
    flash(f"Queued again as {again.id}.")
    return redirect(url_for("dashboard.task", task_id=again.id))


@bp.post("/tasks/<task_id>/replay")
def replay_task(task_id: str):
    store = context.store()
    copy = replays.replay_task(
        store, store.tasks.get_in_project(project_id(), task_id), time.time()
    )
    flash(f"Replayed as {copy.id} on revision {copy.code_rev}.")
    return redirect(url_for("dashboard.task", task_id=copy.id))


@bp.post("/tasks/replay")
def replay_tasks():
    """Replay what the task list's filter (in the query) shows, as the API's bulk replay."""
    store, pid = context.store(), project_id()
    where, chosen = task_filter(store.codes.list(pid))
    if not (chosen["code"] or chosen["status"]):
        raise BadRequest("choose a code or a status to replay")
    copies = replays.replay_matching(store, pid, where, replays.MAX_REPLAYS, time.time())
    flash(f"Replayed {len(copies)} task(s) on their code's current revision.")
    return redirect(url_for("dashboard.tasks", **request.args.to_dict()))


@bp.post("/codes/<code_id>/rollback")
def rollback_code(code_id: str):
    store = context.store()
    code = store.codes.get(project_id(), code_id)
    revision = request.form.get("revision", type=int)
    if revision is None:
        raise BadRequest("which revision?")
    store.codes.rollback(code, revision)
    flash(f"{code.name}: new tasks now run revision {revision}.")
    return redirect(url_for("dashboard.code", code_id=code_id))


@bp.post("/codes/<code_id>/<action>")
def pause_or_resume_code(code_id: str, action: str):
    if action not in ("pause", "resume"):
        abort(404)
    store = context.store()
    code = store.codes.get(project_id(), code_id)
    store.codes.set_paused(code.id, action == "pause")
    flash(f"{code.name}: {'paused' if action == 'pause' else 'resumed'}.")
    return redirect(url_for("dashboard.code", code_id=code_id))


@bp.post("/schedules/<schedule_id>/cancel")
def cancel_schedule(schedule_id: str):
    store = context.store()
    store.schedules.cancel(store.schedules.get(project_id(), schedule_id))
    flash("Schedule cancelled.")
    return redirect(url_for("dashboard.schedules"))


@bp.post("/token")
def rotate_token():
    """Shown on the page itself, not flashed: a flash would keep it in the cookie."""
    pid = project_id()
    token, token_hash = auth.new_token()
    context.store().projects.rotate_token(pid, token_hash, session.token_hash())
    if not session.viewer().admin:
        session.sign_in(pid, admin=False, token_hash=token_hash)
    return render_template("dashboard/token.html", token=token)


@bp.post("/project")
def switch_project():
    """The admin picks which project the pages show."""
    viewer = session.viewer()
    if not viewer.admin:
        abort(403)
    chosen = request.form.get("project_id", "")
    context.store().projects.get(chosen)  # 404 for an unknown project
    session.switch_project(chosen)
    return redirect(url_for("dashboard.overview"))
