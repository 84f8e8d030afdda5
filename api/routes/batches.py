"""Batches: queue many payloads of one code as one, follow them, collect their results."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, url_for

from api import context, parsing
from ironworks.errors import BadRequest, TooLarge
from ironworks.model import PRIORITIES, Batch, BatchStatus, Task, TaskStatus, new_id, new_task
from ironworks.store import Store
from ironworks.views import batch_json, item_json

bp = Blueprint("batches", __name__, url_prefix="/batches")

MAX_BATCH_ITEMS = 10_000
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
    body = parsing.json_body()
    store, settings = context.store(), context.settings()
    code = store.codes.by_name(project_id, parsing.required_str(body, "code_name"))
    payloads = _payloads(body, settings.max_payload_bytes)
    reduce_code, reduce_timeout = _reduce(body, project_id, settings.max_timeout_s)
    priority = parsing.optional_int(body, "priority", low=min(PRIORITIES), high=max(PRIORITIES))
    timeout = parsing.optional_int(body, "timeout", low=1, high=settings.max_timeout_s)
    now = time.time()
    batch = Batch(
        id=new_id(),
        project_id=project_id,
        code_id=code.id,
        code_name=code.name,
        size=len(payloads),
        priority=code.default_priority if priority is None else priority,
        created_at=now,
        max_concurrency=parsing.optional_int(body, "max_concurrency", low=1, high=MAX_BATCH_ITEMS),
        reduce_code_id=reduce_code.id if reduce_code else None,
        reduce_code_name=reduce_code.name if reduce_code else None,
        reduce_timeout=(reduce_timeout or settings.default_timeout_s) if reduce_code else None,
        reduce_on_failure=bool(parsing.optional_bool(body, "reduce_on_failure")),
    )
    label = parsing.optional_str(body, "label", max_len=100)
    items = [
        new_task(
            code,
            new_id(),
            payload,
            now,
            timeout=timeout or code.timeout or settings.default_timeout_s,
            priority=batch.priority,
            label=label,
            batch_id=batch.id,
            batch_index=i,
        )  # fmt: skip
        for i, payload in enumerate(payloads)
    ]
    stored = store.batches.create(batch, items, now)
    response = jsonify(msg="Queued up", id=batch.id, tasks=[{"id": t.id} for t in stored])
    return response, 201


@bp.get("")
def list_batches(project_id: str):
    page, per_page = parsing.paging()
    store = context.store()
    batches = store.batches.list(project_id, page * per_page, per_page)
    return jsonify(batches=[batch_json(b, store.batches.counts(b.id)) for b in batches])


@bp.get("/<batch_id>")
def get_batch(project_id: str, batch_id: str):
    store = context.store()
    batch = store.batches.get_in_project(project_id, batch_id)
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
    batch = store.batches.get_in_project(project_id, batch_id)
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


def _log_tail(store: Store, task: Task) -> str:
    return "\n".join(store.tasks.log_tail(task.id, LOG_TAIL_BYTES).splitlines()[-LOG_TAIL_LINES:])


def _payloads(body: dict, max_bytes: int) -> list[str]:
    """Strings are taken as they are; any other JSON value is encoded, as a convenience."""
    raw = body.get("payloads")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'payloads' must be a non-empty list")
    if len(raw) > MAX_BATCH_ITEMS:
        raise BadRequest(f"at most {MAX_BATCH_ITEMS} payloads per batch")
    payloads = [p if isinstance(p, str) else json.dumps(p) for p in raw]
    for i, payload in enumerate(payloads):
        if len(payload.encode()) > max_bytes:
            raise TooLarge(f"payloads[{i}] is larger than {max_bytes} bytes")
    return payloads


def _reduce(body: dict, project_id: str, max_timeout_s: int):
    """The reduce step's code and timeout, or (None, None) when the batch has none."""
    spec = body.get("reduce")
    if spec is None:
        return None, None
    if not isinstance(spec, dict):
        raise BadRequest("'reduce' must be an object with a 'code_name'")
    code = context.store().codes.by_name(project_id, parsing.required_str(spec, "code_name"))
    timeout = parsing.optional_int(spec, "timeout", low=1, high=max_timeout_s)
    return code, timeout or code.timeout
