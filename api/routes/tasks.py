"""Tasks: queue (all or none), read, list, log, cancel."""

from __future__ import annotations

import re
import threading
import time

from flask import Blueprint, Response, jsonify, request

from api import context, parsing
from ironworks.errors import BadRequest, Conflict, NotFound, TooLarge
from ironworks.model import (
    LONGEST_WAIT_S,
    PRIORITIES,
    Task,
    TaskStatus,
    new_id,
    new_task,
    run_again,
)
from ironworks.store.tasks import TaskFilter
from ironworks.views import task_json

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

CLUSTER_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_TASKS_PER_REQUEST = 1000
# A wait (GET a task ?wait=S) holds one of the worker process's threads (api/__main__.py: 4):
# at most half of them wait, so that waiting clients never keep others from being answered.
_waits = threading.BoundedSemaphore(2)


@bp.post("")
def queue_tasks(project_id: str):
    items = parsing.json_body().get("tasks")
    if not isinstance(items, list) or not items:
        raise BadRequest("'tasks' must be a non-empty list")
    if len(items) > MAX_TASKS_PER_REQUEST:
        raise BadRequest(f"at most {MAX_TASKS_PER_REQUEST} tasks per request")
    now = time.time()
    tasks = [_new_task(project_id, item, now) for item in items]  # all checked before any is stored
    stored = context.store().tasks.enqueue(tasks, now)
    return jsonify(msg="Queued up", tasks=[{"id": t.id} for t in stored])


@bp.post("/webhook")
def inbound_webhook(project_id: str):
    """IronWorker's webhook: any service POSTs here and the raw body becomes the payload.
    Options come in the query: code_name, priority, delay, timeout, cluster, label."""
    settings = context.settings()
    body = request.get_data(cache=False)
    if len(body) > settings.max_payload_bytes:
        raise TooLarge(f"payload is larger than {settings.max_payload_bytes} bytes")
    try:
        payload = body.decode()
    except UnicodeDecodeError as e:
        raise BadRequest("the request body must be UTF-8 text") from e
    item: dict[str, object] = {
        "code_name": request.args.get("code_name"),
        "payload": payload,
        "cluster": request.args.get("cluster"),
        "label": request.args.get("label"),
        **{name: parsing.query_int(name, None) for name in ("priority", "delay", "timeout")},
    }
    now = time.time()
    (task,) = context.store().tasks.enqueue([_new_task(project_id, item, now)], now)
    return jsonify(msg="Queued up", id=task.id, tasks=[{"id": task.id}])


@bp.get("")
def list_tasks(project_id: str):
    page, per_page = parsing.paging()
    store = context.store()
    code_name = request.args.get("code_name")
    where = TaskFilter(
        statuses=_statuses(),
        code_id=store.codes.by_name(project_id, code_name).id if code_name else None,
        label=request.args.get("label") or None,
        from_time=_query_time("from_time"),
        to_time=_query_time("to_time"),
    )
    tasks = store.tasks.list(project_id, where, offset=page * per_page, limit=per_page)
    return jsonify(tasks=[task_json(t) for t in tasks])


@bp.get("/<task_id>")
def get_task(project_id: str, task_id: str):
    """?wait=S holds the request until the task ends, S seconds at most: a waiting client
    learns of the end at once instead of at its next poll."""
    tasks = context.store().tasks
    wait_s = _wait_seconds()
    if wait_s and _waits.acquire(blocking=False):
        try:
            return jsonify(task_json(tasks.wait_for_end(project_id, task_id, wait_s)))
        finally:
            _waits.release()
    # No wait asked for, or this process's waits are all taken: answer now (the client polls).
    return jsonify(task_json(tasks.get_in_project(project_id, task_id)))


def _wait_seconds() -> float | None:
    raw = request.args.get("wait")
    if raw in (None, ""):
        return None
    try:
        wait_s = float(raw)
    except ValueError:
        wait_s = -1.0
    if not 0 < wait_s <= LONGEST_WAIT_S:  # also NaN
        raise BadRequest(f"'wait' must be a number of seconds above 0, at most {LONGEST_WAIT_S:g}")
    return wait_s


@bp.get("/<task_id>/log")
def get_log(project_id: str, task_id: str):
    store = context.store()
    store.tasks.get_in_project(project_id, task_id)
    return Response(store.tasks.log(task_id), mimetype="text/plain")


@bp.get("/<task_id>/result")
def get_result(project_id: str, task_id: str):
    """The JSON the task wrote to $RESULT_FILE (404 until it has written one)."""
    task = context.store().tasks.get_in_project(project_id, task_id)
    if task.result is None:
        raise NotFound("Task has no result")
    return Response(task.result, mimetype="application/json")


@bp.post("/<task_id>/progress")
def report_progress(project_id: str, task_id: str):
    """For tasks with network access: `{"percent": 0-100, "msg": "..."}` while running."""
    store = context.store()
    store.tasks.get_in_project(project_id, task_id)
    body = parsing.json_body()
    percent = parsing.optional_int(body, "percent", low=0, high=100)
    if percent is None:
        raise BadRequest("'percent' is required")
    msg = parsing.optional_str(body, "msg", max_len=500) or ""
    if not store.tasks.set_progress(task_id, None, percent, msg):
        raise Conflict("Task is not running")
    return jsonify(msg="Progress set")


@bp.post("/<task_id>/cancel")
def cancel(project_id: str, task_id: str):
    task = context.store().tasks.cancel(project_id, task_id, time.time())
    return jsonify(msg="Cancelled", task=task_json(task))


@bp.post("/<task_id>/retry")
def retry(project_id: str, task_id: str):
    """Run a finished task again now (or after `delay`), as a new task linked by retry_of."""
    store = context.store()
    original = store.tasks.get_in_project(project_id, task_id)
    if not original.status.is_terminal:
        raise Conflict(f"Task is still {original.status}; only a finished task can be retried")
    delay = parsing.optional_int(
        _optional_body(), "delay", low=0, high=context.settings().max_delay_s
    )
    now = time.time()
    (task,) = store.tasks.enqueue([run_again(original, new_id(), now, delay or 0)], now)
    return jsonify(msg="Queued up", tasks=[task_json(task)])


def _optional_body() -> dict:
    return parsing.json_body() if request.get_data(cache=True) else {}


def _statuses() -> frozenset[TaskStatus]:
    """`status=error`, or IronWorker's flags `queued=1&running=1&error=1` (OR-ed)."""
    wanted = {s for s in TaskStatus if request.args.get(s.value) in ("1", "true")}
    raw = request.args.get("status")
    if raw:
        try:
            wanted.add(TaskStatus(raw))
        except ValueError as e:
            known = ", ".join(s.value for s in TaskStatus)
            raise BadRequest(f"unknown status {raw!r}; known: {known}") from e
    return frozenset(wanted)


def _query_time(name: str) -> float | None:
    return parsing.time_value(request.args.get(name), name)


def _new_task(project_id: str, item: object, now: float) -> Task:
    if not isinstance(item, dict):
        raise BadRequest("each task must be a JSON object")
    settings = context.settings()
    code = context.store().codes.by_name(project_id, parsing.required_str(item, "code_name"))
    payload = item.get("payload")
    if payload is None:
        payload = ""
    if not isinstance(payload, str):
        raise BadRequest("'payload' must be a string (JSON-encode objects)")
    if len(payload.encode()) > settings.max_payload_bytes:
        raise TooLarge(f"payload is larger than {settings.max_payload_bytes} bytes")
    cluster = parsing.optional_str(item, "cluster", max_len=32) or "default"
    if not CLUSTER_RE.match(cluster):
        raise BadRequest("'cluster' may hold lower-case letters, digits, '_' and '-'")
    priority = parsing.optional_int(item, "priority", low=min(PRIORITIES), high=max(PRIORITIES))
    timeout = parsing.optional_int(item, "timeout", low=1, high=settings.max_timeout_s)
    return new_task(
        code,
        new_id(),
        payload,
        now,
        timeout=timeout or code.timeout or settings.default_timeout_s,
        priority=priority,
        cluster=cluster,
        delay=parsing.optional_int(item, "delay", low=0, high=settings.max_delay_s) or 0,
        label=parsing.optional_str(item, "label", max_len=100),
    )
