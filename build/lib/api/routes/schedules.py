"""Schedules: IronWorker's run_every / run_times / start_at / end_at, plus cron with a timezone."""

from __future__ import annotations

import dataclasses
import time

from flask import Blueprint, jsonify

from api import context, parsing
from api.routes.tasks import CLUSTER_RE
from ironworks.errors import BadRequest, TooLarge
from ironworks.model import PRIORITIES, new_id
from ironworks.schedules import Schedule, check_timing, first_start
from ironworks.views import iso

bp = Blueprint("schedules", __name__, url_prefix="/schedules")

MAX_PER_REQUEST = 100


@bp.post("")
def create(project_id: str):
    items = parsing.json_body().get("schedules")
    if not isinstance(items, list) or not items or len(items) > MAX_PER_REQUEST:
        raise BadRequest(f"'schedules' must be a list of 1 to {MAX_PER_REQUEST} schedules")
    now = time.time()
    schedules = [_new_schedule(project_id, item, now) for item in items]
    context.store().schedules.create(schedules)
    return jsonify(msg="Scheduled", schedules=[{"id": s.id} for s in schedules])


@bp.get("")
def list_schedules(project_id: str):
    page, per_page = parsing.paging()
    found = context.store().schedules.list(project_id, page * per_page, per_page)
    return jsonify(schedules=[schedule_json(s) for s in found])


@bp.get("/<schedule_id>")
def get_schedule(project_id: str, schedule_id: str):
    return jsonify(schedule_json(context.store().schedules.get(project_id, schedule_id)))


@bp.post("/<schedule_id>/cancel")
def cancel(project_id: str, schedule_id: str):
    store = context.store()
    store.schedules.cancel(store.schedules.get(project_id, schedule_id))
    return jsonify(
        msg="Cancelled", schedule=schedule_json(store.schedules.get(project_id, schedule_id))
    )


def schedule_json(s: Schedule) -> dict:
    times = {"created_at", "start_at", "end_at", "next_start", "last_run_time"}
    fields = dataclasses.asdict(s)
    return {k: iso(v) if k in times else v for k, v in fields.items()}


def _new_schedule(project_id: str, item: object, now: float) -> Schedule:
    if not isinstance(item, dict):
        raise BadRequest("each schedule must be a JSON object")
    settings = context.settings()
    code_name = parsing.required_str(item, "code_name")
    context.store().codes.by_name(project_id, code_name)  # 404 now rather than silence later
    payload = parsing.optional_str(item, "payload", max_len=10**7) or ""
    if len(payload.encode()) > settings.max_payload_bytes:
        raise TooLarge(f"payload is larger than {settings.max_payload_bytes} bytes")
    run_every = parsing.optional_int(item, "run_every", low=1)
    cron = parsing.optional_str(item, "cron", max_len=100)
    timezone = parsing.optional_str(item, "timezone", max_len=64) or "UTC"
    check_timing(run_every, cron, timezone)
    cluster = parsing.optional_str(item, "cluster", max_len=32) or "default"
    if not CLUSTER_RE.match(cluster):
        raise BadRequest("'cluster' may hold lower-case letters, digits, '_' and '-'")
    schedule = Schedule(
        id=new_id(),
        project_id=project_id,
        code_name=code_name,
        name=parsing.optional_str(item, "name", max_len=100) or code_name,
        payload=payload,
        created_at=now,
        start_at=parsing.time_value(item.get("start_at"), "start_at") or now,
        run_every=run_every,
        cron=cron,
        timezone=timezone,
        end_at=parsing.time_value(item.get("end_at"), "end_at"),
        run_times=parsing.optional_int(item, "run_times", low=1),
        priority=parsing.optional_int(item, "priority", low=min(PRIORITIES), high=max(PRIORITIES))
        or 0,
        timeout=parsing.optional_int(item, "timeout", low=1, high=settings.max_timeout_s),
        cluster=cluster,
        label=parsing.optional_str(item, "label", max_len=100),
    )
    return dataclasses.replace(schedule, next_start=first_start(schedule))
