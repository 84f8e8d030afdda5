"""Schedules: IronWorker's run_every / run_times / start_at / end_at, plus cron with a timezone."""

from __future__ import annotations

import dataclasses
import time

from flask import Blueprint, jsonify

from api import bodies, context, parsing, queries
from ironworks import payloads
from ironworks.model import new_id
from ironworks.schedules import Schedule, check_timing, first_start
from ironworks.views import iso

bp = Blueprint("schedules", __name__, url_prefix="/schedules")


@bp.post("")
def create(project_id: str):
    body = bodies.read(bodies.NewSchedules, parsing.json_body())
    now = time.time()
    schedules = [_new_schedule(project_id, item, now) for item in body.schedules]
    context.store().schedules.create(schedules)
    return jsonify(msg="Scheduled", schedules=[{"id": s.id} for s in schedules])


@bp.get("")
@queries.takes(*queries.PAGING)
def list_schedules(project_id: str):
    page, per_page = queries.paging()
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


def _new_schedule(project_id: str, item: bodies.ScheduleItem, now: float) -> Schedule:
    settings = context.settings()
    context.store().codes.by_name(project_id, item.code_name)  # 404 now, not silence later
    payload = payloads.checked(item.payload or "", settings.max_payload_bytes)
    timezone = item.timezone or "UTC"
    check_timing(item.run_every, item.cron, timezone)
    schedule = Schedule(
        id=new_id(),
        project_id=project_id,
        code_name=item.code_name,
        name=item.name or item.code_name,
        payload=payload,
        created_at=now,
        start_at=parsing.time_value(item.start_at, "start_at") or now,
        run_every=item.run_every,
        cron=item.cron,
        timezone=timezone,
        end_at=parsing.time_value(item.end_at, "end_at"),
        run_times=item.run_times,
        priority=item.priority or 0,
        timeout=bodies.at_most(item.timeout, settings.max_timeout_s, "timeout"),
        cluster=item.cluster or "default",
        label=item.label,
    )
    return dataclasses.replace(schedule, next_start=first_start(schedule))
