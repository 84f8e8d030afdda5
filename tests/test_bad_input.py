"""Hostile or careless input gets a 4xx with a `msg`, never a 500, and keeps nothing half-made."""

from __future__ import annotations

import time

import pytest

from ironworks.model import TaskStatus
from ironworks.schedules import Schedule, after_firing
from tests.harness import zip_files
from tests.helpers import auth, create_project, get_batch, post_batch, setup_project, upload
from tests.store_helpers import admitted, drain, run


def bad_utf8_name_zip() -> bytes:
    """A zip whose member is flagged UTF-8 (bit 11) but whose name bytes are not UTF-8."""
    archive = zip_files({"é.sh": "echo hi\n"})
    assert archive.count("é".encode()) == 2  # the local header and the central directory
    return archive.replace("é".encode(), b"\xff\xfe")


def test_an_archive_with_a_name_that_is_not_utf8_is_refused_and_not_kept(api, settings):
    project = create_project(api)
    response = upload(api, project, {"name": "w", "command": "sh x"}, archive=bad_utf8_name_zip())
    assert response.status_code == 400 and "zip" in response.json["msg"]
    assert [p.name for p in settings.blob_dir.iterdir()] == []


def test_an_encrypted_archive_is_refused_at_upload_not_at_the_runner(api, settings):
    archive = bytearray(zip_files({"run.sh": "echo hi\n"}))
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        archive[archive.index(signature) + flag_offset] |= 0x1  # "encrypted"
    project = create_project(api)
    response = upload(api, project, {"name": "w", "command": "sh x"}, archive=bytes(archive))
    assert response.status_code == 400 and "encrypted" in response.json["msg"]
    assert [p.name for p in settings.blob_dir.iterdir()] == []


@pytest.mark.parametrize(
    "query",
    ["page=100000000000000000000", "page=-1", "per_page=0", "per_page=101", "page=abc"],
)
def test_paging_out_of_range_is_a_400(api, query):
    project = create_project(api)
    for listing in ("tasks", "codes", "schedules", "batches"):
        response = api.get(
            f"/2/projects/{project['id']}/{listing}?{query}", headers=auth(project["token"])
        )
        assert response.status_code == 400, (listing, response.json)
        assert "page" in response.json["msg"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("page=1&page=2", "'page' is given more than once"),
        ("timeout=null", "'timeout' must be one of"),  # a status flag: 1, true, 0, false
        ("from_time=nan", "'from_time' must be unix seconds"),
        ("to_time=1_000", "'to_time' must be unix seconds"),
    ],
)
def test_a_query_the_document_forbids_is_a_400_naming_the_parameter(api, query, named):
    project = create_project(api)
    response = api.get(f"/2/projects/{project['id']}/tasks?{query}", headers=auth(project["token"]))
    assert response.status_code == 400
    assert named in response.json["msg"]


def test_times_in_the_forms_the_document_names_are_taken(api):
    project = create_project(api)
    for when in ("1700000000", "1.7e9", "2026-12-07t10:00:00z", "2026-12-07T10:00:00%2B05:30"):
        response = api.get(
            f"/2/projects/{project['id']}/tasks?from_time={when}", headers=auth(project["token"])
        )
        assert response.status_code == 200, (when, response.json)


def test_very_deep_json_is_a_400(api):
    project = create_project(api)
    deep = "[" * 100_000 + "]" * 100_000
    for path, body in [("tasks", deep), ("schedules", deep), ("batches", deep)]:
        response = api.post(
            f"/2/projects/{project['id']}/{path}", data=body,
            headers=auth(project["token"]) | {"Content-Type": "application/json"},
        )  # fmt: skip
        assert response.status_code == 400 and "JSON" in response.json["msg"], path


def test_a_cron_that_matches_no_date_is_a_400(api):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "true"})
    response = api.post(
        f"/2/projects/{project['id']}/schedules",
        json={"schedules": [{"code_name": "w", "cron": "0 0 31 2 *"}]},
        headers=auth(project["token"]),
    )
    assert response.status_code == 400 and "matches no date" in response.json["msg"]


@pytest.mark.timeout(10)  # one step per missed period would take hours
@pytest.mark.parametrize("timing", [{"run_every": 60}, {"cron": "* * * * *"}])
def test_a_schedule_that_started_centuries_ago_catches_up_in_one_step(timing):
    now = float(int(time.time()))  # whole seconds: the phase check below is exact
    long_ago = now - 300 * 365 * 86400
    schedule = Schedule("s", "p", "w", "s", "", long_ago, long_ago, **timing)
    following, why = after_firing(schedule, long_ago, now)
    assert why is None
    assert now - 300 <= following <= now + 60
    phase = long_ago if "run_every" in timing else 0  # run_every keeps its own; cron the clock's
    assert (following - phase) % 60 == 0


def test_a_log_offset_that_is_not_a_number_is_a_400(api, store):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "true"})
    queued = api.post(
        f"/2/projects/{project['id']}/tasks",
        json={"tasks": [{"code_name": "w"}]},
        headers=auth(project["token"]),
    ).json["tasks"][0]["id"]
    form = api.get("/login").get_data(as_text=True)
    csrf = form.split('name="csrf" value="')[1].split('"')[0]
    api.post("/login", data={"token": project["token"], "csrf": csrf})
    stream = f"/tasks/{queued}/log/stream"
    assert api.get(stream, headers={"Last-Event-ID": "abc"}).status_code == 400
    assert api.get(f"{stream}?offset=-5").status_code == 400
    assert api.get("/tasks?page=100000000000000000000").status_code == 400


def test_a_batch_view_carries_a_bounded_tail_of_a_huge_failed_log(api, store):
    project = setup_project(api)
    batch_id = post_batch(api, project, payloads=["ok", "bad"]).json["id"]
    huge_log = "".join(f"line {n}\n" for n in range(200_000))  # 2.3 MB
    for task_id in admitted(store, project["id"]):
        if store.tasks.get(task_id).payload == "bad":
            run(store, task_id, TaskStatus.ERROR, log=huge_log, log_cap=10**7)
        else:
            run(store, task_id, TaskStatus.COMPLETE, "fine")
    drain(store, "batches")

    sent_before = store.redis.info("stats")["total_net_output_bytes"]
    response = api.get(
        f"/2/projects/{project['id']}/batches/{batch_id}", headers=auth(project["token"])
    )
    # What Redis really sent the API for this view: the tail, not the 2.3 MB log.
    assert store.redis.info("stats")["total_net_output_bytes"] - sent_before < 64 * 1024
    assert len(response.data) < 16 * 1024
    tail = response.json["results"][1]["log_tail"].splitlines()
    assert tail[-1] == "line 199999" and len(tail) == 20


def test_a_large_batch_view_points_to_its_streamed_results(api, store):
    project = setup_project(api)
    batch_id = post_batch(api, project, payloads=[str(n) for n in range(101)]).json["id"]
    for task_id in admitted(store, project["id"]):
        run(store, task_id, TaskStatus.COMPLETE, "fine")
    while remaining := admitted(store, project["id"]):
        for task_id in remaining:
            run(store, task_id, TaskStatus.COMPLETE, "fine")
    drain(store, "batches")
    view = get_batch(api, project, batch_id)
    assert view["status"] == "complete" and "results" not in view
    assert view["results_url"].endswith(f"/batches/{batch_id}/results")
