"""Schedules: when each fires next. Pure: the caller passes the clock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from ironworks.errors import BadRequest

MIN_RUN_EVERY_S = 60
# A fire missed by more than this (the schedulers were all down) is skipped, not made up.
GRACE_S = 300

RAN_MAX_TIMES = "Ran max times."
PAST_END = "Reached end_at."


@dataclass(frozen=True)
class Schedule:
    id: str
    project_id: str
    code_name: str
    name: str
    payload: str
    created_at: float
    start_at: float
    status: str = "scheduled"  # scheduled | complete | cancelled
    run_every: int | None = None
    cron: str | None = None
    timezone: str = "UTC"
    end_at: float | None = None
    run_times: int | None = None
    priority: int = 0
    timeout: int | None = None
    cluster: str = "default"
    label: str | None = None
    next_start: float | None = None
    last_run_time: float | None = None
    run_count: int = 0
    msg: str | None = None


def check_timing(run_every: int | None, cron: str | None, timezone: str) -> None:
    if (run_every is None) == (cron is None):
        raise BadRequest("give exactly one of 'run_every' (seconds) and 'cron'")
    if run_every is not None and run_every < MIN_RUN_EVERY_S:
        raise BadRequest(f"'run_every' must be at least {MIN_RUN_EVERY_S} seconds")
    if cron is not None and not croniter.is_valid(cron):
        raise BadRequest(f"'cron' is not a valid 5-field expression: {cron!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise BadRequest(f"unknown timezone {timezone!r}") from e
    if cron is not None:
        _check_cron_has_dates(cron)


def _check_cron_has_dates(cron: str) -> None:
    """A valid expression may still name no real date (`0 0 31 2 *`, February 31st):
    croniter looks a few decades ahead before it gives up, so ask it once here."""
    try:
        croniter(cron, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError as e:
        raise BadRequest(f"'cron' {cron!r} matches no date") from e


def first_start(schedule: Schedule) -> float:
    if schedule.cron is None:
        return schedule.start_at
    return _next_cron(schedule, schedule.start_at - 1)


def after_firing(schedule: Schedule, due: float, now: float) -> tuple[float | None, str | None]:
    """The next due time after firing at `due`, or (None, why it is over).

    Occurrences already more than GRACE_S in the past are skipped in one step, however many
    there are (a schedule that starts years ago costs no more than one that starts now).
    """
    if schedule.run_times is not None and schedule.run_count + 1 >= schedule.run_times:
        return None, RAN_MAX_TIMES
    following = _following(schedule, due)
    oldest_kept = now - GRACE_S
    if following < oldest_kept:
        following = _first_at_or_after(schedule, due, oldest_kept)
    if schedule.end_at is not None and following > schedule.end_at:
        return None, PAST_END
    return following, None


def _following(schedule: Schedule, after: float) -> float:
    if schedule.run_every is not None:
        return after + schedule.run_every
    return _next_cron(schedule, after)


def _first_at_or_after(schedule: Schedule, due: float, moment: float) -> float:
    """The schedule's first occurrence at or after `moment`, on the phase `due` set."""
    if schedule.run_every is not None:
        periods = math.ceil((moment - due) / schedule.run_every)
        return due + periods * schedule.run_every
    return _next_cron(schedule, moment - 1)


def _next_cron(schedule: Schedule, after: float) -> float:
    zone = ZoneInfo(schedule.timezone)
    base = datetime.fromtimestamp(after, zone)
    return croniter(schedule.cron, base).get_next(datetime).timestamp()
