"""The REST API against a real Redis: shapes, auth, validation, and nothing half-stored."""

from __future__ import annotations

import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ironworks.model import TaskStatus, admission_score
from tests.harness import ADMIN_TOKEN
from tests.helpers import auth, create_project, post_batch, queue, setup_project, upload


def test_create_project_needs_the_admin_token(api):
    assert api.post("/2/projects", json={"name": "x"}).status_code == 401
    response = api.post("/2/projects", json={"name": "x"}, headers=auth("wrong"))
    assert response.status_code == 401
    assert response.json["msg"] == "Admin token required"


def test_created_project_token_is_shown_once_and_stored_only_hashed(api, store):
    project = create_project(api, max_concurrency=3)
    assert set(project) >= {"id", "name", "max_concurrency", "token"}
    assert project["max_concurrency"] == 3
    everything = "".join(
        str(store.redis.dump(key)) + key for key in store.redis.scan_iter()
    )  # a test may scan; the platform never does
    assert project["token"] not in everything
    response = api.get(f"/2/projects/{project['id']}", headers=auth(project["token"]))
    assert response.status_code == 200 and response.json["name"] == "acme"


def test_bearer_and_query_tokens_are_accepted(api):
    project = create_project(api)
    bearer = {"Authorization": f"Bearer {project['token']}"}
    assert api.get(f"/2/projects/{project['id']}/tasks", headers=bearer).status_code == 200
    query = f"/2/projects/{project['id']}/tasks?oauth={project['token']}"
    assert api.get(query).status_code == 200


def test_upload_same_name_makes_a_new_revision(api):
    project = create_project(api)
    first = upload(api, project, {"name": "w", "stack": "sh", "command": "sh run.sh"})
    second = upload(api, project, {"name": "w", "stack": "sh", "command": "sh run.sh -v"})
    assert first.status_code == second.status_code == 200
    assert (first.json["rev"], second.json["rev"]) == (1, 2)
    assert first.json["id"] == second.json["id"]
    listed = api.get(f"/2/projects/{project['id']}/codes", headers=auth(project["token"])).json
    assert [(c["name"], c["rev"], c["command"]) for c in listed["codes"]] == [
        ("w", 2, "sh run.sh -v")
    ]


def test_code_config_and_default_priority_are_kept_and_applied(api):
    project = create_project(api)
    data = {"name": "w", "command": "true", "config": {"db": "x"}, "default_priority": 2}
    code = upload(api, project, data).json
    assert (code["config"], code["default_priority"]) == ({"db": "x"}, 2)
    tasks = [
        api.get(f"/2/projects/{project['id']}/tasks/{t['id']}", headers=auth(project["token"]))
        for t in queue(api, project, {"code_name": "w"}, {"code_name": "w", "priority": 0}).json[
            "tasks"
        ]
    ]
    assert [t.json["priority"] for t in tasks] == [2, 0]
    bad = upload(api, project, {"name": "w", "command": "true", "config": [1]})
    assert bad.status_code == 400 and "config" in bad.json["msg"]


def test_legacy_runtime_and_file_name_derive_the_command(api):
    project = create_project(api)
    response = upload(api, project, {"name": "hello", "runtime": "python", "file_name": "hello.py"})
    assert response.status_code == 200, response.json
    assert (response.json["stack"], response.json["command"]) == ("python", "python3 hello.py")


def test_upload_rejects_bad_input_with_a_message(api):
    project = create_project(api)
    unknown_stack = upload(api, project, {"name": "w", "stack": "cobol", "command": "x"})
    assert unknown_stack.status_code == 400 and "unknown stack" in unknown_stack.json["msg"]
    no_command = upload(api, project, {"name": "w", "stack": "sh"})
    assert no_command.status_code == 400 and "command" in no_command.json["msg"]
    not_zip = api.post(
        f"/2/projects/{project['id']}/codes",
        data={"data": json.dumps({"name": "w", "command": "x"}), "file": (io.BytesIO(b"no"), "a")},
        headers=auth(project["token"]),
        content_type="multipart/form-data",
    )
    assert not_zip.status_code == 400 and "zip" in not_zip.json["msg"]
    unsafe = upload(api, project, {"name": "w", "command": "x"}, {"../evil.sh": "rm -rf /"})
    assert unsafe.status_code == 400 and "../evil.sh" in unsafe.json["msg"]
    listed = api.get(f"/2/projects/{project['id']}/codes", headers=auth(project["token"])).json
    assert listed["codes"] == []


def test_queue_returns_ids_and_the_task_reads_back(api):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "sh run.sh", "timeout": 30})
    response = queue(
        api,
        project,
        {"code_name": "w", "payload": '{"n": 1}', "priority": 2, "label": "nightly"},
        {"code_name": "w", "payload": None, "priority": None, "timeout": None, "delay": None},
    )
    assert response.status_code == 200, response.json
    assert response.json["msg"] == "Queued up"
    first, second = (t["id"] for t in response.json["tasks"])
    task = api.get(f"/2/projects/{project['id']}/tasks/{first}", headers=auth(project["token"]))
    body = task.json
    assert (body["status"], body["payload"], body["priority"], body["label"]) == (
        "queued",
        '{"n": 1}',
        2,
        "nightly",
    )
    assert body["code_name"] == "w" and body["code_rev"] == 1 and body["timeout"] == 30
    assert body["created_at"].endswith("Z") and body["start_time"] is None
    other = api.get(f"/2/projects/{project['id']}/tasks/{second}", headers=auth(project["token"]))
    assert other.json["payload"] == "" and other.json["priority"] == 0


def test_a_payload_and_label_read_back_byte_for_byte(api):
    """Records go to Redis as one JSON argument that a script unpacks: text beyond ASCII,
    control characters and NULs come back as they were sent."""
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "sh run.sh"})
    payload = 'caf\u00e9 \U0001f600 \u4e2d "q" \\ \n\t\x00 end'
    response = queue(api, project, {"code_name": "w", "payload": payload, "label": "\u00e9t\u00e9"})
    (task_id,) = (t["id"] for t in response.json["tasks"])
    task = api.get(f"/2/projects/{project['id']}/tasks/{task_id}", headers=auth(project["token"]))
    assert (task.json["payload"], task.json["label"]) == (payload, "\u00e9t\u00e9")


def test_bad_queue_requests_get_json_errors_and_store_nothing(api, store):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "sh run.sh"})
    path, headers = f"/2/projects/{project['id']}/tasks", auth(project["token"])

    unknown = queue(api, project, {"code_name": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json["msg"]
    malformed = api.post(path, data="{not json", headers=headers)
    assert malformed.status_code == 400 and malformed.json["msg"]
    too_big = queue(api, project, {"code_name": "w"}, {"code_name": "w", "payload": "x" * 65537})
    assert too_big.status_code == 413 and too_big.json["msg"]
    bad_priority = queue(api, project, {"code_name": "w"}, {"code_name": "w", "priority": 7})
    assert bad_priority.status_code == 400 and "priority" in bad_priority.json["msg"]
    no_token = api.post(path, json={"tasks": [{"code_name": "w"}]})
    assert no_token.status_code == 401 and no_token.json["msg"]

    assert api.get(path, headers=headers).json["tasks"] == []
    assert store.admission.ready_projects() == []


def test_another_projects_objects_are_not_found(api):
    mine, theirs = create_project(api, "mine"), create_project(api, "theirs")
    upload(api, theirs, {"name": "w", "command": "sh run.sh"})
    task_id = queue(api, theirs, {"code_name": "w"}).json["tasks"][0]["id"]
    code_id = api.get(f"/2/projects/{theirs['id']}/codes", headers=auth(theirs["token"])).json[
        "codes"
    ][0]["id"]

    for path in (f"tasks/{task_id}", f"tasks/{task_id}/log", f"codes/{code_id}"):
        response = api.get(f"/2/projects/{mine['id']}/{path}", headers=auth(mine["token"]))
        assert response.status_code == 404, path
    foreign = api.get(f"/2/projects/{theirs['id']}/tasks", headers=auth(mine["token"]))
    assert foreign.status_code == 404 and foreign.json["msg"] == "Project not found"
    admin = api.get(f"/2/projects/{theirs['id']}/tasks/{task_id}", headers=auth(ADMIN_TOKEN))
    assert admin.status_code == 200


def test_cancel_queued_task_takes_it_out_of_admission(api, store):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "sh run.sh"})
    task_id = queue(api, project, {"code_name": "w"}).json["tasks"][0]["id"]
    path = f"/2/projects/{project['id']}/tasks/{task_id}/cancel"

    response = api.post(path, headers=auth(project["token"]))
    assert response.status_code == 200 and response.json["task"]["status"] == "cancelled"
    assert store.admission.admit(project["id"]) == []
    again = api.post(path, headers=auth(project["token"]))
    assert again.status_code == 409 and "already cancelled" in again.json["msg"]


def test_list_filters_by_status_and_code(api, store):
    project = create_project(api)
    for name in ("a", "b"):
        upload(api, project, {"name": name, "command": "true"})
    ids = [
        t["id"]
        for t in queue(
            api, project, {"code_name": "a"}, {"code_name": "b"}, {"code_name": "a"}
        ).json["tasks"]
    ]
    api.post(f"/2/projects/{project['id']}/tasks/{ids[0]}/cancel", headers=auth(project["token"]))
    base, headers = f"/2/projects/{project['id']}/tasks", auth(project["token"])

    def listed(query: str) -> list[str]:
        return [t["id"] for t in api.get(f"{base}?{query}", headers=headers).json["tasks"]]

    assert listed("") == ids[::-1]
    assert listed("status=cancelled") == [ids[0]]
    assert listed("code_name=a") == [ids[2], ids[0]]
    assert listed("code_name=a&status=queued") == [ids[2]]
    assert listed("per_page=1&page=1") == [ids[1]]
    bad = api.get(f"{base}?status=sleeping", headers=headers)
    assert bad.status_code == 400 and "sleeping" in bad.json["msg"]
    assert store.tasks.get(ids[0]).status is TaskStatus.CANCELLED


def test_unknown_routes_and_methods_answer_json(api):
    response = api.get("/nope")
    assert response.status_code == 404 and response.json["msg"]
    assert api.get("/healthz").json == {"msg": "ok"}


def test_rollback_pins_new_tasks_to_the_old_revision_and_leaves_queued_ones(api):
    project = create_project(api)
    base, headers = f"/2/projects/{project['id']}", auth(project["token"])
    upload(api, project, {"name": "w", "command": "sh v1.sh"})
    code_id = upload(api, project, {"name": "w", "command": "sh v2.sh"}).json["id"]
    before = queue(api, project, {"code_name": "w"}).json["tasks"][0]["id"]

    rolled = api.post(f"{base}/codes/{code_id}/rollback", json={"revision": 1}, headers=headers)
    assert rolled.status_code == 200 and rolled.json["code"]["command"] == "sh v1.sh"
    after = queue(api, project, {"code_name": "w"}).json["tasks"][0]["id"]
    revs = [api.get(f"{base}/tasks/{t}", headers=headers).json["code_rev"] for t in (before, after)]
    assert revs == [2, 1]
    listed = api.get(f"{base}/codes/{code_id}/revisions", headers=headers).json["revisions"]
    assert [(r["rev"], r["current"]) for r in listed] == [(2, False), (1, True)]
    third = upload(api, project, {"name": "w", "command": "sh v3.sh"})
    assert third.json["rev"] == 3
    missing = api.post(f"{base}/codes/{code_id}/rollback", json={"revision": 9}, headers=headers)
    assert missing.status_code == 404


def test_deleted_code_takes_no_new_tasks_and_its_name_can_be_reused(api):
    project = create_project(api)
    base, headers = f"/2/projects/{project['id']}", auth(project["token"])
    code_id = upload(api, project, {"name": "w", "command": "true"}).json["id"]
    assert queue(api, project, {"code_name": "w"}).status_code == 200  # the API knows it now
    assert api.delete(f"{base}/codes/{code_id}", headers=headers).status_code == 200
    assert api.get(f"{base}/codes/{code_id}", headers=headers).status_code == 404
    assert queue(api, project, {"code_name": "w"}).status_code == 404
    again = upload(api, project, {"name": "w", "command": "true"})
    assert again.status_code == 200 and again.json["id"] != code_id and again.json["rev"] == 1
    for _ in range(2):  # the first reads the code, the next makes its task from what it read
        task_id = queue(api, project, {"code_name": "w"}).json["tasks"][0]["id"]
        task = api.get(f"{base}/tasks/{task_id}", headers=headers).json
        assert (task["code_id"], task["code_rev"]) == (again.json["id"], 1)


def test_list_takes_ironworker_status_flags_labels_and_times(api):
    project = create_project(api)
    base, headers = f"/2/projects/{project['id']}/tasks", auth(project["token"])
    upload(api, project, {"name": "w", "command": "true"})
    ids = [
        t["id"]
        for t in queue(
            api, project, {"code_name": "w", "label": "a"}, {"code_name": "w"}, {"code_name": "w"}
        ).json["tasks"]
    ]
    api.post(f"{base}/{ids[1]}/cancel", headers=headers)

    def listed(query: str) -> set[str]:
        return {t["id"] for t in api.get(f"{base}?{query}", headers=headers).json["tasks"]}

    assert listed("queued=1&cancelled=1") == set(ids)
    assert listed("cancelled=1") == {ids[1]}
    assert listed("label=a") == {ids[0]}
    assert listed("from_time=4102444800") == set()  # the year 2100
    assert listed("to_time=2100-01-01T00:00:00Z") == set(ids)
    bad = api.get(f"{base}?from_time=yesterday", headers=headers)
    assert bad.status_code == 400 and "from_time" in bad.json["msg"]


def test_inbound_webhook_turns_the_raw_body_into_a_payload(api):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "true"})
    base = f"/2/projects/{project['id']}/tasks"
    body = '{"event": "push", "ref": "main"}'
    hooked = api.post(f"{base}/webhook?code_name=w&priority=2&oauth={project['token']}", data=body)
    assert hooked.status_code == 200, hooked.json
    task = api.get(f"{base}/{hooked.json['id']}", headers=auth(project["token"])).json
    assert (task["payload"], task["priority"], task["code_name"]) == (body, 2, "w")
    too_big = api.post(f"{base}/webhook?code_name=w&oauth={project['token']}", data="x" * 65537)
    assert too_big.status_code == 413
    nameless = api.post(f"{base}/webhook?oauth={project['token']}", data=body)
    assert nameless.status_code == 400 and "code_name" in nameless.json["msg"]
    assert api.post(f"{base}/webhook?code_name=w", data=body).status_code == 401


def test_a_held_read_answers_when_the_task_ends_not_when_its_wait_runs_out(api, store):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "sh run.sh"})
    task_id = queue(api, project, {"code_name": "w"}).json["tasks"][0]["id"]
    path = f"/2/projects/{project['id']}/tasks/{task_id}"
    ends = threading.Timer(0.5, store.tasks.cancel, (project["id"], task_id, time.time()))

    ends.start()
    started = time.monotonic()
    response = api.get(f"{path}?wait=10", headers=auth(project["token"]))
    held = time.monotonic() - started
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert 0.4 < held < 5  # held until the end, let go at the end
    started = time.monotonic()
    assert api.get(f"{path}?wait=10", headers=auth(project["token"])).json["status"] == "cancelled"
    assert time.monotonic() - started < 1  # already ended: no hold


def test_a_held_read_of_a_task_that_does_not_end_answers_after_the_wait(api):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "sh run.sh"})
    task_id = queue(api, project, {"code_name": "w"}).json["tasks"][0]["id"]
    started = time.monotonic()
    response = api.get(
        f"/2/projects/{project['id']}/tasks/{task_id}?wait=0.3", headers=auth(project["token"])
    )
    assert response.status_code == 200 and response.json["status"] == "queued"
    assert time.monotonic() - started >= 0.3


def test_more_held_reads_than_a_process_holds_are_answered_at_once(api):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "sh run.sh"})
    task_id = queue(api, project, {"code_name": "w"}).json["tasks"][0]["id"]
    path = f"/2/projects/{project['id']}/tasks/{task_id}?wait=2"

    def timed_read() -> float:
        started = time.monotonic()
        assert api.get(path, headers=auth(project["token"])).json["status"] == "queued"
        return time.monotonic() - started

    with ThreadPoolExecutor(3) as readers:
        held = sorted(readers.map(lambda _: timed_read(), range(3)))
    assert held[0] < 1 and held[1] >= 2 and held[2] >= 2  # two held, the third answered now


def test_bad_wait_values_get_a_message(api):
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "sh run.sh"})
    task_id = queue(api, project, {"code_name": "w"}).json["tasks"][0]["id"]
    for bad in ("soon", "0", "-1", "11", "nan"):
        response = api.get(
            f"/2/projects/{project['id']}/tasks/{task_id}?wait={bad}",
            headers=auth(project["token"]),
        )
        assert response.status_code == 400, bad
        assert response.json["msg"] == "'wait' must be a number of seconds above 0, at most 10"


def test_tasks_are_numbered_by_arrival_however_they_were_queued(api, store):
    """The first request naming a code reads it and reserves its tasks' seqs; the next ones
    make their tasks from the code as read, and add_tasks.lua reserves their seqs: each
    index orders the tasks by arrival all the same, each score exact."""
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "true"})
    ids = []
    for priority in (0, 2, 1):
        items = [{"code_name": "w", "priority": priority}] * 2
        ids += [t["id"] for t in queue(api, project, *items).json["tasks"]]
    tasks = [store.tasks.get(task_id) for task_id in ids]
    assert [t.seq for t in tasks] == sorted({t.seq for t in tasks}), "unique, by arrival"
    assert store.redis.zrange(store.keys.project_tasks(project["id"]), 0, -1) == ids
    waiting = store.redis.zrange(store.keys.waiting(tasks[0].lane), 0, -1, withscores=True)
    by_priority = [tasks[i] for i in (2, 3, 4, 5, 0, 1)]
    assert waiting == [(t.id, float(admission_score(t.priority, t.seq))) for t in by_priority]


def test_a_code_the_api_has_read_queues_in_one_round_trip(api, store):
    """The first request naming a code takes two round trips (the code read, the tasks
    written); the next ones one, add_tasks.lua checking the code unchanged by its digest,
    which Python and Lua must compute alike for text beyond ASCII too."""
    project = create_project(api)
    upload(api, project, {"name": "w", "command": "echo 'héllo, wörld: 1:2'"})

    def scripts_run() -> int:  # a script's first run is refused (NOSCRIPT), loaded, run
        calls = {name: s["calls"] for name, s in store.redis.info("commandstats").items()}
        return calls.get("cmdstat_evalsha", 0) - calls.get("cmdstat_script|load", 0)

    runs = []
    for _ in range(3):
        before = scripts_run()
        assert queue(api, project, {"code_name": "w"}).status_code == 200
        runs.append(scripts_run() - before)
    assert runs == [2, 1, 1]


def test_queueing_announces_only_a_batchs_tasks_to_the_scheduler(api, store):
    """A queued task is counted for its code's stats as it is stored; of the scheduler's
    consumers only the batches one acts on a queued event, so a task in no batch puts
    nothing on the events stream for six consumer groups to read and pass over."""
    project = setup_project(api)
    stream = store.keys.events()
    queue(api, project, {"code_name": "square"})  # the first: the code is read
    queue(api, project, *[{"code_name": "square", "payload": str(n)} for n in range(3)])
    hook = f"/2/projects/{project['id']}/tasks/webhook?code_name=square"
    assert api.post(hook, data="{}", headers=auth(project["token"])).status_code == 200
    assert store.redis.xlen(stream) == 0
    code_id = store.codes.by_name(project["id"], "square").id
    stats = api.get(f"/2/projects/{project['id']}/codes/{code_id}/stats",
                    headers=auth(project["token"])).json  # fmt: skip
    assert stats["queued"] == 5

    created = post_batch(api, project, payloads=[{"n": n} for n in range(4)])
    assert created.status_code == 201, created.json
    announced = [f for _, f in store.redis.xrange(stream)]
    assert sorted(f["task_id"] for f in announced) == sorted(t["id"] for t in created.json["tasks"])
    assert {(f["status"], f["batch_id"]) for f in announced} == {("queued", created.json["id"])}
