"""Batches: queue many payloads of one code as one, follow them, collect their results."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Iterator

from flask import Blueprint, Response, jsonify, url_for

from api import auth, bodies, context, parsing, queries
from ironworks import fanout, lanes, payloads
from ironworks.batch import Batch, BatchStatus
from ironworks.errors import BadRequest, NotFound
from ironworks.model import Task, TaskStatus, new_id, new_task
from ironworks.store import Store
from ironworks.views import batch_json, item_json

bp = Blueprint("batches", __name__, url_prefix="/batches")

LOG_TAIL_LINES = 20
# A larger batch's results are only streamed (GET …/results): each item may carry a result of
# up to a megabyte, too much to build into one response.
INLINE_RESULTS_MAX = 100
# A failed item's tail is cut from at most this much of its log, so a response carries at
# most this per item whatever the items logged.
LOG_TAIL_BYTES = 4096
# Once every item is final, GET batches/{id} shows the results inline.
FINAL_STATUSES = (BatchStatus.REDUCING, BatchStatus.COMPLETE, BatchStatus.FAILED)


@bp.post("")
def create_batch(project_id: str):
    body = bodies.read(bodies.NewBatch, parsing.json_body())
    store, settings = context.store(), context.settings()
    items_payloads = payloads.listed(body.payloads, settings.max_payload_bytes)
    # The code and the items' seqs in one round trip.
    intake = auth.intake(project_id, [body.code_name], len(items_payloads))
    code = intake.code(body.code_name)
    reduce_code, reduce_timeout = _reduce(body.reduce, project_id, settings.max_timeout_s)
    priority = body.priority
    timeout = bodies.at_most(body.timeout, settings.max_timeout_s, "timeout")
    now = time.time()
    batch = Batch(
        id=new_id(),
        project_id=project_id,
        code_id=code.id,
        code_name=code.name,
        size=len(items_payloads),
        priority=code.priority_for(priority),
        created_at=now,
        max_concurrency=body.max_concurrency,
        reduce_code_id=reduce_code.id if reduce_code else None,
        reduce_code_name=reduce_code.name if reduce_code else None,
        reduce_timeout=(
            reduce_code.timeout_for(reduce_timeout, settings.default_timeout_s)
            if reduce_code
            else None
        ),
        reduce_on_failure=bool(body.reduce_on_failure),
    )
    if batch.max_concurrency and code.concurrency_key:
        raise BadRequest(
            f"{code.name} has a concurrency_key: limit the batch with the code's "
            "max_concurrency_per_key, not the batch's max_concurrency"
        )
    label = body.label
    item_timeout = code.timeout_for(timeout, settings.default_timeout_s)
    items: Iterable[Task] = (  # made as they are stored, a chunk at a time
        new_task(
            code,
            new_id(),
            payload,
            now,
            timeout=item_timeout,
            priority=batch.priority,
            label=label,
            batch_id=batch.id,
            batch_index=i,
            concurrency_key=lanes.key_for(code.concurrency_key, None, payload),
            seq=intake.first_seq + i,
        )  # fmt: skip
        for i, payload in enumerate(items_payloads)
    )
    caller = context.calling_task()
    if caller is not None:  # made from inside a task: the batch and its items are its children
        batch = dataclasses.replace(batch, parent_id=caller.id)
        items = fanout.as_children(caller, list(items), store.projects.get(project_id), settings)
    ids = store.batches.create(batch, items, now)
    response = jsonify(msg="Queued up", id=batch.id, tasks=[{"id": task_id} for task_id in ids])
    return response, 201


@bp.get("")
@queries.takes(*queries.PAGING)
def list_batches(project_id: str):
    page, per_page = queries.paging()
    store = context.store()
    batches = store.batches.list(project_id, page * per_page, per_page)
    return jsonify(batches=[batch_json(b, store.batches.counts(b.id)) for b in batches])


@bp.get("/<batch_id>")
def get_batch(project_id: str, batch_id: str):
    store = context.store()
    batch = _batch_for_caller(store, project_id, batch_id)
    view = batch_json(batch, store.batches.counts(batch.id))
    if batch.status in FINAL_STATUSES and batch.size <= INLINE_RESULTS_MAX:
        view["results"] = list(_items(store, batch))
    elif batch.status in FINAL_STATUSES:
        view["results_url"] = url_for(".get_results", project_id=project_id, batch_id=batch_id)
    return jsonify(view)


@bp.get("/<batch_id>/results")
def get_results(project_id: str, batch_id: str):
    """Every item as one JSON line, in payload order, streamed: fit for any batch size."""
    store = context.store()
    batch = _batch_for_caller(store, project_id, batch_id)
    lines = (json.dumps(item) + "\n" for item in _items(store, batch))
    return Response(lines, mimetype="application/x-ndjson")


@bp.post("/<batch_id>/cancel")
def cancel_batch(project_id: str, batch_id: str):
    store = context.store()
    batch = store.batches.cancel(store.batches.get_in_project(project_id, batch_id), time.time())
    return jsonify(msg="Cancelled", batch=batch_json(batch, store.batches.counts(batch.id)))


def _items(store: Store, batch: Batch) -> Iterator[dict]:
    for task in store.batches.items(batch):
        yield item_json(task, _log_tail(store, task) if _failed(task) else None)


def _failed(task: Task) -> bool:
    return task.status.is_terminal and task.status is not TaskStatus.COMPLETE


def _batch_for_caller(store: Store, project_id: str, batch_id: str) -> Batch:
    """A task calling from inside sees only the batches it made."""
    batch = store.batches.get_in_project(project_id, batch_id)
    caller = context.calling_task()
    if caller is not None and batch.parent_id != caller.id:
        raise NotFound("Batch not found")
    return batch


def _log_tail(store: Store, task: Task) -> str:
    return "\n".join(store.tasks.log_tail(task.id, LOG_TAIL_BYTES).splitlines()[-LOG_TAIL_LINES:])


def _reduce(spec: bodies.Reduce | None, project_id: str, max_timeout_s: int):
    """The reduce step's code and timeout, or (None, None) when the batch has none."""
    if spec is None:
        return None, None
    code = context.store().codes.by_name(project_id, spec.code_name)
    return code, bodies.at_most(spec.timeout, max_timeout_s, "timeout")
