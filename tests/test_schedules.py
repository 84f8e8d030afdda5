"""Schedules against a real Redis, driven by an injected clock instead of waiting minutes."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.schedules import fire_due
from tests.helpers import auth, create_project, upload

T0 = 1_800_000_000.0  # a fixed "now" in 2027


def schedule(api, project, **fields) -> dict:
    body = {"schedules": [{"code_name": "w", "payload": "p", **fields}]}
    response = api.post(
        f"/2/projects/{project['id']}/schedules", json=body, headers=auth(project["token"])
    )
    assert response.status_code == 200, response.json
    schedule_id = response.json["schedules"][0]["id"]
    return api.get(
        f"/2/projects/{project['id']}/schedules/{schedule_id}", headers=auth(project["token"])
    ).json


def tasks_of(store, project) -> list:
    return store.tasks.list(project["id"], limit=100)


def test_run_every_60_with_run_times_3_fires_exactly_three_times(api, store):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "true"})
    created = schedule(api, project, run_every=60, run_times=3, start_at=T0)
    assert created["status"] == "scheduled" and created["next_start"].startswith("2027-01-15")

    fired = [fire_due(store, T0 + minute * 60 + 1, 60) for minute in range(6)]
    assert fired == [1, 1, 1, 0, 0, 0]
    after = store.schedules.get(project["id"], created["id"])
    assert (after.status, after.run_count, after.msg) == ("complete", 3, "Ran max times.")
    tasks = tasks_of(store, project)
    assert len(tasks) == 3 and {t.payload for t in tasks} == {"p"}
    assert sorted(t.created_at for t in tasks) == [T0, T0 + 60, T0 + 120]


def test_two_schedulers_never_fire_the_same_due_time_twice(api, store):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "true"})
    schedule(api, project, run_every=60, start_at=T0)
    counts: list[int] = []

    def scheduler(offset: float) -> None:
        for minute in range(10):
            counts.append(fire_due(store, T0 + minute * 60 + offset, 60))

    threads = [threading.Thread(target=scheduler, args=(o,)) for o in (1.0, 1.5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 10
    assert len(tasks_of(store, project)) == 10


def test_a_fire_interrupted_before_it_was_recorded_is_not_repeated(api, store, monkeypatch):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "true"})
    schedule(api, project, run_every=60, start_at=T0)
    # The scheduler dies after queueing the task but before recording the fire.
    monkeypatch.setattr(store.schedules, "record_fire", lambda *a, **k: False)
    assert fire_due(store, T0 + 1, 60) == 0
    monkeypatch.undo()
    assert fire_due(store, T0 + 2, 60) == 1  # the restarted scheduler records it...
    assert len(tasks_of(store, project)) == 1  # ...without a second task


def test_cron_follows_its_timezone(api, store):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "true"})
    created = schedule(api, project, cron="30 9 * * *", timezone="America/New_York", start_at=T0)
    first = datetime.fromisoformat(created["next_start"].replace("Z", "+00:00"))
    local = first.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (9, 30) and first.timestamp() > T0


def test_cancel_and_bad_input(api, store):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "true"})
    created = schedule(api, project, run_every=3600)
    base, headers = f"/2/projects/{project['id']}/schedules", auth(project["token"])
    cancelled = api.post(f"{base}/{created['id']}/cancel", headers=headers)
    assert cancelled.json["schedule"]["status"] == "cancelled"
    assert fire_due(store, T0 * 2, 60) == 0
    for bad, words in [
        ({"code_name": "w", "run_every": 10}, "at least 60"),
        ({"code_name": "w", "cron": "every day"}, "cron"),
        ({"code_name": "w", "run_every": 60, "cron": "* * * * *"}, "exactly one"),
        ({"code_name": "w", "cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ]:
        response = api.post(base, json={"schedules": [bad]}, headers=headers)
        assert response.status_code == 400 and words in response.json["msg"], response.json
    missing = api.post(
        base, json={"schedules": [{"code_name": "nope", "run_every": 60}]}, headers=headers
    )
    assert missing.status_code == 404
    assert [s["id"] for s in api.get(base, headers=headers).json["schedules"]] == [created["id"]]
