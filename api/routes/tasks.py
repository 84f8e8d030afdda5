"""Tasks: queue (all or none), read, list, log, cancel."""

from __future__ import annotations

import threading
import time

from flask import Blueprint, Response, jsonify, request

from api import auth, bodies, context, parsing, queries
from ironworks import fanout, lanes, payloads
from ironworks.errors import BadRequest, Conflict, NotFound
from ironworks.model import (
    DEFAULT_IDEMPOTENCY_TTL_S,
    Code,
    Task,
    TaskStatus,
    new_id,
    new_task,
    run_again,
)
from ironworks.replays import MAX_REPLAYS, replay_matching, replay_task
from ironworks.store.intake import Intake
from ironworks.store.tasks import TaskFilter
from ironworks.views import task_json

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

# A wait (GET a task ?wait=S) holds one of the worker process's threads (api/__main__.py: 4):
# at most half of them wait, so that waiting clients never keep others from being answered.
_waits = threading.BoundedSemaphore(2)


@bp.post("")
def queue_tasks(project_id: str):
    body = bodies.read(bodies.NewTasks, parsing.json_body())
    now = time.time()
    store = context.store()

    def make(intake: Intake) -> list[Task]:
        tasks = [_new_task(intake.code(item.code_name), item, now, intake.first_seq + i)
                 for i, item in enumerate(body.tasks)]  # fmt: skip
        return _as_callers_children(project_id, tasks, [bool(i.cascade) for i in body.tasks])

    names = [item.code_name for item in body.tasks]
    tasks, stored = auth.queue(project_id, names, make, now, plain=_plain(body.tasks))
    # A task whose idempotency key an earlier one holds comes back as that earlier task.
    queued = [{"id": s.id, "repeat": s.id != t.id} for t, s in zip(tasks, stored, strict=True)]
    for task, answer in zip(stored, queued, strict=True):
        if task.depends_on and not answer["repeat"]:
            store.dependencies.catch_up(task)
    return jsonify(msg="Queued up", tasks=queued)


@bp.post("/webhook")
@queries.takes(*queries.WEBHOOK_OPTIONS)
def inbound_webhook(project_id: str):
    """IronWorker's webhook: any service POSTs here and the raw body becomes the payload.
    Options come in the query: code_name, priority, delay, timeout, cluster, label."""
    max_bytes = context.settings().max_payload_bytes
    payload = payloads.from_bytes(request.get_data(cache=False), max_bytes)
    options = queries.read_all(queries.WEBHOOK_OPTIONS)
    item = bodies.read(bodies.TaskItem, options | {"payload": payload})
    now = time.time()

    def make(intake: Intake) -> list[Task]:
        return [_new_task(intake.code(item.code_name), item, now, intake.first_seq)]

    _, (task,) = auth.queue(project_id, [item.code_name], make, now, plain=_plain([item]))
    return jsonify(msg="Queued up", id=task.id, tasks=[{"id": task.id}])


@bp.get("")
@queries.takes(
    *queries.PAGING, queries.STATUS, *queries.STATUS_FLAGS, queries.CODE_NAME, queries.LABEL,
    queries.FROM_TIME, queries.TO_TIME,
)  # fmt: skip
def list_tasks(project_id: str):
    page, per_page = queries.paging()
    store = context.store()
    code_name = queries.CODE_NAME.read()
    where = TaskFilter(
        statuses=_statuses(),
        code_id=store.codes.by_name(project_id, code_name).id if code_name else None,
        label=queries.LABEL.read(),
        from_time=queries.FROM_TIME.read(),
        to_time=queries.TO_TIME.read(),
    )
    tasks = store.tasks.list(project_id, where, offset=page * per_page, limit=per_page)
    return jsonify(tasks=[task_json(t) for t in tasks])


@bp.get("/<id:task_id>")
@queries.takes(queries.WAIT)
def get_task(project_id: str, task_id: str):
    """?wait=S holds the request until the task ends, S seconds at most: a waiting client
    learns of the end at once instead of at its next poll."""
    store = context.store()
    wait_s = queries.WAIT.read()
    # The links both ways: depends_on is the task's own, dependents are the tasks naming it.
    linked = auth.first_read(lambda token_hash: store.tasks.get_linked(
        project_id, task_id, token_hash))  # fmt: skip
    task, dependents = context.seen_by_caller(linked.task()), linked.dependents  # whose first
    # With no wait asked for, or this process's waits all taken, that read is the answer.
    if wait_s and _waits.acquire(blocking=False):
        try:
            task = store.tasks.wait_for_end(project_id, task_id, wait_s)
            dependents = store.dependencies.dependents(task_id)
        finally:
            _waits.release()
    return jsonify(task_json(task) | {"dependents": dependents})


@bp.get("/<id:task_id>/log")
def get_log(project_id: str, task_id: str):
    store = context.store()
    context.task_for_caller(project_id, task_id)
    return Response(store.tasks.log(task_id), mimetype="text/plain")


@bp.get("/<id:task_id>/result")
def get_result(project_id: str, task_id: str):
    """The JSON the task wrote to $RESULT_FILE (404 until it has written one)."""
    task = context.task_for_caller(project_id, task_id)
    if task.result is None:
        raise NotFound("Task has no result")
    return Response(task.result, mimetype="application/json")


@bp.post("/<id:task_id>/progress")
def report_progress(project_id: str, task_id: str):
    """For tasks with network access: `{"percent": 0-100, "msg": "..."}` while running."""
    store = context.store()
    store.tasks.get_in_project(project_id, task_id)
    caller = context.calling_task()
    if caller is not None and caller.id != task_id:  # a task reports its own progress only
        raise NotFound("Task not found")
    body = bodies.read(bodies.Progress, parsing.json_body())
    if not store.tasks.set_progress(task_id, None, body.percent, body.msg or ""):
        raise Conflict("Task is not running")
    return jsonify(msg="Progress set")


@bp.post("/<id:task_id>/cancel")
def cancel(project_id: str, task_id: str):
    """Cancels the task and every unfinished task below it (those it queued, and theirs)."""
    task, below = context.store().tasks.cancel_tree(project_id, task_id, time.time())
    return jsonify(msg="Cancelled", task=task_json(task), descendants_cancelled=below)


@bp.post("/<id:task_id>/retry")
def retry(project_id: str, task_id: str):
    """Run a finished task again now (or after `delay`), as a new task linked by retry_of."""
    store = context.store()
    original = store.tasks.get_in_project(project_id, task_id)
    if not original.status.is_terminal:
        raise Conflict(f"Task is still {original.status}; only a finished task can be retried")
    body = bodies.read(bodies.Retry, _optional_body())
    delay = bodies.at_most(body.delay, context.settings().max_delay_s, "delay")
    now = time.time()
    (task,) = store.tasks.enqueue([run_again(original, new_id(), now, delay or 0)], now)
    return jsonify(msg="Queued up", tasks=[task_json(task)])


@bp.post("/<id:task_id>/replay")
def replay_one(project_id: str, task_id: str):
    """Queue a copy of the task on its code's current revision, with its payload or a new
    one; the copy is linked by replay_of and sees $REPLAY_OF."""
    store = context.store()
    original = store.tasks.get_in_project(project_id, task_id)
    payload = _checked(bodies.read(bodies.Replay, _optional_body()).payload)
    copy = replay_task(store, original, time.time(), payload)
    return jsonify(msg="Queued up", tasks=[task_json(copy)])


@bp.post("/replay")
def replay_many(project_id: str):
    """Replay every task a filter matches (code_name and/or status, a time range), oldest
    first, `limit` at most; answers how many were queued."""
    body = bodies.read(bodies.ReplayMany, parsing.json_body())
    store = context.store()
    if not (body.code_name or body.status):
        raise BadRequest("name a 'code_name' or a 'status' to replay (or both)")
    where = TaskFilter(
        statuses=frozenset({body.status} if body.status else ()),
        code_id=store.codes.by_name(project_id, body.code_name).id if body.code_name else None,
        from_time=parsing.time_value(body.from_time, "from_time"),
        to_time=parsing.time_value(body.to_time, "to_time"),
    )
    copies = replay_matching(store, project_id, where, body.limit or MAX_REPLAYS, time.time())
    return jsonify(msg="Queued up", queued=len(copies), tasks=[t.id for t in copies])


def _as_callers_children(
    project_id: str, tasks: list[Task], cascade: list[bool] | None = None
) -> list[Task]:
    """Tasks queued from inside a task are its children, within the fan-out limits."""
    caller = context.calling_task()
    if caller is None:
        return tasks
    project = context.store().projects.get(project_id)
    return fanout.as_children(caller, tasks, project, context.settings(), cascade)


def _optional_body() -> dict:
    return parsing.json_body() if request.get_data(cache=True) else {}


def _statuses() -> frozenset[TaskStatus]:
    """`status=error`, or IronWorker's flags `queued=1&running=1&error=1` (OR-ed)."""
    flagged = {TaskStatus(q.name) for q in queries.STATUS_FLAGS if q.read()}
    status = queries.STATUS.read()
    return frozenset(flagged | ({status} if status else set()))


def _plain(items: list[bodies.TaskItem]) -> bool:
    """No idempotency key and no dependency: queued in one round trip (auth.queue)."""
    return not any(item.idempotency_key or item.depends_on for item in items)


def _new_task(code: Code, item: bodies.TaskItem, now: float, seq: int) -> Task:
    settings = context.settings()
    project_id = code.project_id
    payload = _checked(item.payload) or ""
    timeout = bodies.at_most(item.timeout, settings.max_timeout_s, "timeout")
    delay = bodies.at_most(item.delay, settings.max_delay_s, "delay") or 0
    depends_on = _dependencies(project_id, item.depends_on) if item.depends_on else []
    if depends_on and delay:
        raise BadRequest("a task may have 'depends_on' or 'delay', not both")
    return new_task(
        code,
        new_id(),
        payload,
        now,
        timeout=code.timeout_for(timeout, settings.default_timeout_s),
        priority=item.priority,
        cluster=item.cluster or "default",
        delay=delay,
        label=item.label,
        depends_on=depends_on,
        concurrency_key=lanes.key_for(code.concurrency_key, item.concurrency_key or None, payload),
        idempotency_key=item.idempotency_key or None,
        idempotency_ttl_s=item.idempotency_ttl_s or DEFAULT_IDEMPOTENCY_TTL_S,
        seq=seq,
    )


def _dependencies(project_id: str, ids: list[str]) -> list[str]:
    """`depends_on`: ids of tasks of this project, each named once."""
    if len(set(ids)) != len(ids):
        raise BadRequest("'depends_on' names a task twice")
    found = {t.id for t in context.store().tasks.get_many(ids) if t.project_id == project_id}
    if missing := [i for i in ids if i not in found]:
        raise BadRequest(f"'depends_on': no task {missing[0]} in this project")
    return ids


def _checked(payload: str | None) -> str | None:
    if payload is None:
        return None
    return payloads.checked(payload, context.settings().max_payload_bytes)
