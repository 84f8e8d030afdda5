"""Everything under /2/projects/{project_id}/: one place that checks the project's token."""

from __future__ import annotations

from flask import Blueprint, request

from api import auth
from api.routes import batches, codes, schedules, secrets, tasks, webhooks

bp = Blueprint("project", __name__, url_prefix="/2/projects/<project_id>")


INBOUND_WEBHOOK = "project.tasks.inbound_webhook"
# What a running task may do over its API socket (runner/task_api.py): queue tasks and
# batches, read what it queued, report its own progress. Every route checks whose it reads.
FROM_A_TASK = {
    "project.tasks.queue_tasks",
    "project.tasks.get_task",
    "project.tasks.get_log",
    "project.tasks.get_result",
    "project.tasks.report_progress",
    "project.batches.create_batch",
    "project.batches.get_batch",
    "project.batches.get_results",
}


# The routes whose first read (auth.first_read) looks the project token up too: a round trip
# fewer for what is called most. Each writes nothing before that read.
LOOKED_UP_BY_THE_ROUTE = {
    INBOUND_WEBHOOK,
    "project.tasks.queue_tasks",
    "project.batches.create_batch",
    "project.tasks.get_task",
}


@bp.before_request
def authenticate() -> None:
    project_id = (request.view_args or {})["project_id"]
    later = request.endpoint in LOOKED_UP_BY_THE_ROUTE
    if request.endpoint == INBOUND_WEBHOOK:
        auth.require_inbound(project_id, request.args.get("code_name") or "", look_up_later=later)
    else:
        auth.require_project(project_id, request.endpoint in FROM_A_TASK, look_up_later=later)


bp.after_request(auth.unsettled)


for child in (codes.bp, tasks.bp, batches.bp, schedules.bp, webhooks.bp, secrets.bp):
    bp.register_blueprint(child)
