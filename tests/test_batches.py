"""Batches against a real Redis: the API queues them, runner transitions are written through
the store (no Docker here), and the scheduler's batch consumer follows the events stream."""

from __future__ import annotations

import json
import time

from ironworks.model import TaskStatus
from tests.helpers import auth, get_batch, post_batch, setup_project
from tests.store_helpers import admitted, drain, run


def test_a_batch_with_reduce_collects_results_in_payload_order(api, store):
    project = setup_project(api)
    created = post_batch(
        api, project, payloads=[{"n": n} for n in range(5)], reduce={"code_name": "total"}
    )
    assert created.status_code == 201, created.json
    batch_id, ids = created.json["id"], [t["id"] for t in created.json["tasks"]]

    for task_id in reversed(admitted(store, project["id"])):  # finishing out of order
        n = json.loads(store.tasks.get(task_id).payload)["n"]
        run(store, task_id, TaskStatus.COMPLETE, {"square": n * n})
    drain(store, "batches")

    batch = get_batch(api, project, batch_id)
    assert (batch["status"], batch["done"], batch["percent"]) == ("reducing", 5, 100)
    assert batch["counts"] == {"complete": 5}
    assert [r["task_id"] for r in batch["results"]] == ids
    assert [r["result"] for r in batch["results"]] == [{"square": n * n} for n in range(5)]
    reduce = store.tasks.get(batch["reduce"]["task_id"])
    assert (reduce.code_name, json.loads(reduce.payload)) == (
        "total",
        [{"square": n * n} for n in range(5)],
    )

    (reduce_id,) = admitted(store, project["id"])
    run(store, reduce_id, TaskStatus.COMPLETE, {"total": 30})
    drain(store, "batches")
    batch = get_batch(api, project, batch_id)
    assert (batch["status"], batch["result"]) == ("complete", {"total": 30})
    assert batch["finished_at"]


def test_failed_items_are_named_with_why_and_the_reduce_waits_for_the_flag(api, store):
    project = setup_project(api)
    strict = post_batch(
        api, project, payloads=["ok", "bad", "ok"], reduce={"code_name": "total"}
    ).json["id"]
    lenient_body = {
        "payloads": ["ok", "bad"],
        "reduce": {"code_name": "total"},
        "reduce_on_failure": True,
    }
    lenient = post_batch(api, project, **lenient_body).json["id"]
    for task_id in admitted(store, project["id"]):
        task = store.tasks.get(task_id)
        if task.payload == "bad":
            run(store, task_id, TaskStatus.ERROR, log="reading input\nbad input: 'bad'\n")
        else:
            run(store, task_id, TaskStatus.COMPLETE, "fine")
    drain(store, "batches")

    view = get_batch(api, project, strict)
    assert (view["status"], view["failed"], view["msg"]) == ("failed", 1, "1 of 3 items failed")
    assert view["reduce"]["task_id"] is None  # no reduce without reduce_on_failure
    failed = [(i, r) for i, r in enumerate(view["results"]) if r["status"] != "complete"]
    assert [(i, r["status"], r["exit_code"]) for i, r in failed] == [(1, "error", 3)]
    assert failed[0][1]["log_tail"] == "reading input\nbad input: 'bad'"

    view = get_batch(api, project, lenient)
    assert view["status"] == "reducing"
    assert json.loads(store.tasks.get(view["reduce"]["task_id"]).payload) == ["fine", None]


def test_max_concurrency_holds_items_back_until_others_end(api, store):
    project = setup_project(api)
    batch_id = post_batch(api, project, payloads=list("abcde"), max_concurrency=2).json["id"]
    first = admitted(store, project["id"])
    assert len(first) == 2 and admitted(store, project["id"]) == []

    run(store, first[0], TaskStatus.COMPLETE)
    drain(store, "batches")
    assert len(admitted(store, project["id"])) == 1  # one ended, one released

    view = get_batch(api, project, batch_id)
    assert view["counts"] == {"complete": 1, "queued": 4} and view["percent"] == 20


def test_an_item_that_is_retried_counts_once_in_its_latest_status(api, store):
    project = setup_project(api, retries=1)
    batch_id = post_batch(api, project, payloads=["x"]).json["id"]
    (first,) = admitted(store, project["id"])
    run(store, first, TaskStatus.ERROR)
    drain(store, "retries")
    drain(store, "batches")
    view = get_batch(api, project, batch_id)
    assert (view["status"], view["counts"], view["done"]) == ("running", {"queued": 1}, 0)

    (retry,) = admitted(store, project["id"])
    run(store, retry, TaskStatus.COMPLETE, 1)
    drain(store, "batches")
    drain(store, "batches")  # a replay changes nothing
    view = get_batch(api, project, batch_id)
    assert (view["status"], view["counts"], view["done"]) == ("complete", {"complete": 1}, 1)
    assert view["results"][0]["task_id"] == retry


def test_a_batch_with_one_bad_payload_stores_nothing(api, store):
    project = setup_project(api)
    too_big = "x" * (64 * 1024 + 1)
    response = post_batch(api, project, payloads=["fine", too_big])
    assert response.status_code == 413 and "payloads[1]" in response.json["msg"]
    for body, why in [
        ({"payloads": []}, "'payloads' must be a list of 1 to"),
        ({"payloads": "x"}, "'payloads' must be a list"),
        ({"payloads": ["a"], "max_concurrency": 0}, "max_concurrency"),
        ({"payloads": ["a"], "reduce": "total"}, "reduce"),
        ({"payloads": ["a"], "reduce": {"code_name": "nope"}}, "not found"),
    ]:
        response = post_batch(api, project, **body)
        assert response.status_code in (400, 404) and why in response.json["msg"].lower(), body
    tasks = api.get(f"/2/projects/{project['id']}/tasks", headers=auth(project["token"]))
    assert tasks.json["tasks"] == []


def test_cancel_cancels_what_has_not_finished_and_nothing_is_released_after(api, store):
    project = setup_project(api)
    batch_id = post_batch(api, project, payloads=list("abcd"), max_concurrency=2).json["id"]
    done, running = admitted(store, project["id"])
    run(store, done, TaskStatus.COMPLETE)
    task = store.tasks.get(running)
    store.tasks.start(task, task.attempt, "runner-a", time.time(), 15)

    path = f"/2/projects/{project['id']}/batches/{batch_id}/cancel"
    response = api.post(path, headers=auth(project["token"]))
    assert response.status_code == 200 and response.json["batch"]["status"] == "cancelled"
    drain(store, "batches")
    view = get_batch(api, project, batch_id)
    assert view["counts"] == {"complete": 1, "cancelled": 3}
    assert admitted(store, project["id"]) == []
    assert api.post(path, headers=auth(project["token"])).status_code == 409


def test_results_stream_as_json_lines(api, store):
    project = setup_project(api)
    batch_id = post_batch(api, project, payloads=["a", "b"]).json["id"]
    path = f"/2/projects/{project['id']}/batches/{batch_id}/results"
    response = api.get(path, headers=auth(project["token"]))
    lines = [json.loads(line) for line in response.data.decode().splitlines()]
    assert response.mimetype == "application/x-ndjson"
    assert [line["status"] for line in lines] == ["queued", "queued"]
