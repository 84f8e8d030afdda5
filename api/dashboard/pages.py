"""The dashboard's pages. Each reads only what it shows, through the store's indexes and
counters, so none depends on how many tasks a project holds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Response, abort, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from api import context, parsing
from api.dashboard import charts, session
from api.dashboard.blueprint import bp
from api.errors import status_of
from ironworks.errors import BadRequest, IronworksError
from ironworks.masking import masked_payload
from ironworks.model import TaskStatus
from ironworks.store import Store
from ironworks.store.counts import ProjectCounts
from ironworks.store.tasks import TaskFilter
from ironworks.views import result_value

PER_PAGE = 30
STREAM_POLL_S = 0.5
# A log stream ends after this long; the browser's EventSource reconnects where it left off,
# so no server thread is held by one reader for long.
STREAM_MAX_S = 25


def project_id() -> str:
    viewer = session.viewer()
    if viewer is None or viewer.project_id is None:
        abort(redirect(url_for("dashboard.overview")))
    return viewer.project_id


def fragment(name: str) -> bool:
    """The live parts of a page are re-fetched alone (?fragment=...) and swapped in place."""
    return request.args.get("fragment") == name


@bp.errorhandler(IronworksError)
def platform_error(error: IronworksError):
    status = status_of(error)
    message = str(error) if status < 500 else "Something went wrong on our side."
    return render_template("dashboard/error.html", status=status, message=message), status


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    page = render_template("dashboard/error.html", status=error.code, message=error.description)
    return page, error.code


@bp.get("/")
def overview():
    viewer, store = session.viewer(), context.store()
    ids = None if viewer.admin else [viewer.project_id]
    projects = store.counts.projects(ids)
    current = next((p for p in projects if p.project_id == viewer.project_id), None)
    page = {"projects": projects, "current": current}
    if current is not None:
        page |= _charts(store, current)
    if viewer.admin:
        page["runners"] = store.runners.list()
    template = "dashboard/_overview.html" if fragment("overview") else "dashboard/overview.html"
    return render_template(template, **page, now=time.time())


def _charts(store: Store, project: ProjectCounts) -> dict:
    minutes = store.activity.ended_per_minute(project.project_id, time.time())
    names = {c.code_id: c.code_name for c in project.codes}
    run_times = store.activity.run_times(list(names))
    rows = [
        (names[code_id], charts.percentile(v, 0.5), charts.percentile(v, 0.95))
        for code_id, v in run_times.items()
        if v
    ]
    return {"per_minute": charts.per_minute(minutes), "run_times": charts.run_times(rows)}


@bp.get("/tasks")
def tasks():
    pid, store = project_id(), context.store()
    codes = store.codes.list(pid)
    where, chosen = task_filter(codes)
    page = parsing.query_int("page", 0, low=0, high=parsing.MAX_PAGE)
    found = store.tasks.list(pid, where, offset=page * PER_PAGE, limit=PER_PAGE + 1)
    counts = store.counts.projects([pid])[0]
    view = {
        "tasks": found[:PER_PAGE],
        "more": len(found) > PER_PAGE,
        "page": page,
        "counts": _status_counts(counts),
        "codes": codes,
        "chosen": chosen,
        "statuses": list(TaskStatus),
    }
    template = "dashboard/_task_rows.html" if fragment("rows") else "dashboard/tasks.html"
    return render_template(template, **view)


def task_filter(codes) -> tuple[TaskFilter, dict]:
    """The task list's filter, from the query."""
    args = request.args
    chosen = {k: args.get(k, "") for k in ("status", "code", "label", "from", "to")}
    try:
        statuses = frozenset({TaskStatus(chosen["status"])}) if chosen["status"] else frozenset()
    except ValueError as e:
        raise BadRequest(f"unknown status {chosen['status']!r}") from e
    code_id = next((c.id for c in codes if c.name == chosen["code"]), None)
    if chosen["code"] and code_id is None:
        raise BadRequest(f"no code named {chosen['code']!r}")
    where = TaskFilter(
        statuses=statuses,
        code_id=code_id,
        label=chosen["label"] or None,
        from_time=_form_time(chosen["from"]),
        to_time=_form_time(chosen["to"]),
    )
    return where, chosen


def _form_time(raw: str) -> float | None:
    """A datetime-local input's value, read as UTC."""
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC).timestamp()
    except ValueError as e:
        raise BadRequest(f"not a date and time: {raw!r}") from e


def _status_counts(project: ProjectCounts) -> dict[str, int]:
    return {"queued": project.queued, "running": project.running, **project.ended}


CHILDREN_SHOWN = 50


@bp.get("/tasks/<task_id>")
def task(task_id: str):
    store = context.store()
    found = store.tasks.get_in_project(project_id(), task_id)
    view = {
        "task": found,
        "payload": masked_payload(found.payload),
        "result": result_value(found.result),
        "dependents": store.dependencies.dependents(task_id),
        "pending": store.dependencies.pending(task_id),
        # Fan-out: the tasks it queued from inside (the first CHILDREN_SHOWN) and its tree.
        "children": store.tasks.get_many(store.tasks.children_of(task_id)[:CHILDREN_SHOWN]),
        "tree": store.tasks.tree_counts(task_id) if found.children else ({}, True),
    }
    template = "dashboard/_task_summary.html" if fragment("summary") else "dashboard/task.html"
    return render_template(template, **view)


@bp.get("/tasks/<task_id>/log.txt")
def task_log(task_id: str):
    store = context.store()
    store.tasks.get_in_project(project_id(), task_id)
    headers = {"Content-Disposition": f'attachment; filename="{task_id}.log"'}
    if request.args.get("inline"):
        headers = {}
    return Response(store.tasks.log(task_id), mimetype="text/plain", headers=headers)


@bp.get("/tasks/<task_id>/log/stream")
def task_log_stream(task_id: str):
    """Server-sent events: new log text as it is written (each event's id is the byte offset,
    so a reconnecting browser resumes exactly), then an `end` event with the status."""
    store = context.store()
    store.tasks.get_in_project(project_id(), task_id)
    resume_at = request.headers.get("Last-Event-ID") or request.args.get("offset")
    offset = parsing.int_value(resume_at, "offset", 0, low=0) or 0
    return Response(
        _log_events(store, task_id, offset),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _log_events(store: Store, task_id: str, offset: int) -> Iterator[str]:
    deadline = time.monotonic() + STREAM_MAX_S
    yield "retry: 1000\n\n"
    while time.monotonic() < deadline:
        status = store.tasks.status(task_id)  # read before the log: no line is missed
        text, offset = store.tasks.log_since(task_id, offset)
        if text:
            data = "\n".join(f"data: {line}" for line in text.split("\n"))
            yield f"id: {offset}\n{data}\n\n"
        if status is None or status.is_terminal:
            yield f"event: end\ndata: {status}\n\n"
            return
        time.sleep(STREAM_POLL_S)


@bp.get("/codes")
def codes():
    pid, store = project_id(), context.store()
    found = store.codes.list(pid)
    counts = {c.code_id: c.by_status for c in store.counts.projects([pid])[0].codes}
    paused = {c.id: store.codes.is_paused(c.id) for c in found}
    secrets = store.secrets.names(pid)  # names and times: values never leave the store
    return render_template(
        "dashboard/codes.html", codes=found, counts=counts, paused=paused, secrets=secrets
    )


@bp.get("/codes/<code_id>")
def code(code_id: str):
    store = context.store()
    current = store.codes.get(project_id(), code_id)
    return render_template(
        "dashboard/code.html",
        code=current,
        revisions=store.codes.revisions(current.id),
        paused=store.codes.is_paused(current.id),
        stats=store.codes.stats(current.id),
        statuses=list(TaskStatus),
    )


@bp.get("/schedules")
def schedules():
    page = parsing.query_int("page", 0, low=0, high=parsing.MAX_PAGE)
    found = context.store().schedules.list(project_id(), page * PER_PAGE, PER_PAGE)
    return render_template("dashboard/schedules.html", schedules=found, page=page)
