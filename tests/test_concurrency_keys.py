"""Concurrency keys and rate limits in admission, against a real Redis: per-key limits,
keys served in turn, sliding-window rate limits, and several schedulers at once."""

from __future__ import annotations

import time

import pytest

from ironworks.lanes import LANES_PER_CALL, KeyTemplateError, key_for, lane_of, render
from ironworks.model import TaskStatus
from tests.helpers import create_project, post_batch, queue, queue_one, sign_in, upload
from tests.store_helpers import (
    admitted,
    admitted_concurrently,
    enqueue,
    make_code,
    make_project,
    run,
)


def test_a_key_template_is_filled_from_the_payload():
    assert render("{customer_id}", '{"customer_id": 42}') == "42"
    assert render("{org}/{region.name}", '{"org": "a", "region": {"name": "eu"}}') == "a/eu"
    assert key_for("{c}", "mine", '{"c": 1}') == "mine" and key_for(None, None, "x") is None
    for template, payload in [("{c}", '{"d": 1}'), ("{c}", "not json"), ("{c}", '{"c": {}}')]:
        with pytest.raises(KeyTemplateError):
            render(template, payload)
    with pytest.raises(KeyTemplateError, match="names no payload field"):
        render("customer", "{}")
    assert lane_of("code", None) == "code" and lane_of("code", "a") != lane_of("code", "b")


def test_at_most_n_tasks_of_one_key_run_and_other_keys_are_not_held_back(store):
    project = make_project(store)
    code = make_code(store, project, max_concurrency_per_key=2)
    a = enqueue(store, code, 4, key="a")
    b = enqueue(store, code, 1, key="b")
    assert sorted(admitted(store, project.id)) == sorted([*a[:2], *b])
    assert admitted(store, project.id) == []
    run(store, a[0], TaskStatus.COMPLETE)
    assert admitted(store, project.id) == [a[2]]


def test_keys_take_turns_so_a_backlog_does_not_delay_a_single_task(store):
    project = make_project(store)
    code = make_code(store, project, limit=1, concurrency_key="{customer}")
    big = enqueue(store, code, 50, key="big")
    (small,) = enqueue(store, code, 1, key="small")
    order = []
    for _ in range(4):
        (task_id,) = admitted(store, project.id)
        order.append(task_id)
        run(store, task_id, TaskStatus.COMPLETE)
    assert order == [big[0], small, big[1], big[2]]


def test_admissions_first_look_sees_a_served_key_behind_the_keys_queued_before_its_turn(store):
    # With more lanes waiting than one admission call takes, this look (lane_views.lua)
    # chooses which to pass: it must see each lane's turn, its heads and what holds a slot.
    project = make_project(store)
    code = make_code(store, project, limit=1, concurrency_key="{customer}")
    big = enqueue(store, code, 2, key="big")
    (small,) = enqueue(store, code, 1, key="small")
    assert admitted(store, project.id) == [big[0]]
    views = {view.id: view for view in store.admission._lane_views([project.id])[project.id]}
    big_lane, small_lane = views[lane_of(code.id, "big")], views[lane_of(code.id, "small")]
    assert [task_id for task_id, _ in big_lane.heads] == [big[1]]
    assert [task_id for task_id, _ in small_lane.heads] == [small]
    assert (big_lane.code.active, big_lane.code.max_concurrency) == (1, 1)
    assert big_lane.effective_score > small_lane.effective_score  # big was served: its turn


def test_keys_at_their_limit_do_not_keep_admission_from_a_key_with_room(store):
    project = make_project(store)
    code = make_code(store, project, max_concurrency_per_key=1)
    # More keys than one admission call looks at, each at its limit with a task of a higher
    # priority waiting: first in line, yet none may run.
    for i in range(LANES_PER_CALL + 6):
        enqueue(store, code, 2, priority=2, key=f"k{i}")
    while admitted(store, project.id):
        pass
    (fresh,) = enqueue(store, code, 1, key="fresh")
    assert admitted(store, project.id) == [fresh]


def test_a_rate_limit_admits_n_per_sliding_window_and_drops_none(store):
    project = make_project(store)
    code = make_code(store, project, rate_limit_count=2, rate_limit_period_s=1)
    ids = enqueue(store, code, 5)
    assert admitted(store, project.id) == ids[:2]
    assert admitted(store, project.id) == []
    time.sleep(1.05)
    assert admitted(store, project.id) == ids[2:4]
    time.sleep(1.05)
    assert admitted(store, project.id) == ids[4:]


def test_a_rate_limit_per_key_holds_for_each_key_apart(store):
    project = make_project(store)
    code = make_code(store, project, rate_limit_count=1, rate_limit_period_s=60,
                     rate_limit_per_key=True)  # fmt: skip
    a, b = enqueue(store, code, 2, key="a"), enqueue(store, code, 2, key="b")
    assert sorted(admitted(store, project.id)) == sorted([a[0], b[0]])
    assert admitted(store, project.id) == []


def test_concurrent_schedulers_never_exceed_a_key_limit_or_a_rate(store):
    project = make_project(store)
    keyed = make_code(store, project, "keyed", max_concurrency_per_key=2)
    rated = make_code(store, project, "rated", rate_limit_count=3, rate_limit_period_s=60)
    for key in "abcd":
        enqueue(store, keyed, 10, key=key)
    enqueue(store, rated, 10)
    taken = admitted_concurrently(store, [project.id])
    tasks = store.tasks.get_many(taken)
    per_key = {k: sum(t.concurrency_key == k for t in tasks) for k in "abcd"}
    assert len(taken) == len(set(taken)) == 4 * 2 + 3
    assert per_key == dict.fromkeys("abcd", 2)


def test_the_dashboard_shows_a_codes_flow_control_and_a_tasks_key(api):
    project = create_project(api)
    data = {"name": "keyed", "stack": "sh", "command": "true", "concurrency_key": "{c}",
            "max_concurrency_per_key": 3, "rate_limit": {"count": 5, "period_s": 60}}  # fmt: skip
    code = upload(api, project, data).json
    task_id = queue_one(api, project, code_name="keyed", payload='{"c": "acme"}')
    sign_in(api, project["token"])
    page = api.get(f"/codes/{code['id']}").get_data(as_text=True)
    assert "<code>{c}</code>, 3 per key" in page and "5 per 60 s" in page
    assert "<code>acme</code>" in api.get(f"/tasks/{task_id}").get_data(as_text=True)


@pytest.mark.parametrize(
    "fields, msg",
    [
        ({"concurrency_key": "customer"}, "names no payload field"),
        ({"concurrency_key": 7}, "'concurrency_key' must be a string"),
        ({"max_concurrency_per_key": 0}, "'max_concurrency_per_key' must be at least 1"),
        ({"rate_limit": {"count": 0, "period_s": 60}}, "'count' must be between 1"),
        ({"rate_limit": {"count": 5}}, "'period_s' is required"),
        ({"rate_limit": {"count": 5, "period_s": 60, "burst": 1}}, "'burst' is not a field"),
        ({"rate_limit": 5}, "'rate_limit' must be a JSON object"),
    ],
)  # fmt: skip
def test_bad_flow_control_settings_of_a_code_are_a_400_with_a_msg(api, fields, msg):
    project = create_project(api)
    response = upload(api, project, {"name": "w", "stack": "sh", "command": "true", **fields})
    assert response.status_code == 400 and msg in response.json["msg"], response.json


def test_a_payload_that_does_not_fill_the_key_template_is_a_400(api):
    project = create_project(api)
    upload(api, project, {"name": "w", "stack": "sh", "command": "true", "concurrency_key": "{c}"})
    for payload in ('{"d": 1}', "plain text"):
        response = queue(api, project, {"code_name": "w", "payload": payload})
        assert response.status_code == 400 and "concurrency_key '{c}'" in response.json["msg"]
    batch = post_batch(api, project, code_name="w", payloads=['{"c": 1}'], max_concurrency=1)
    assert batch.status_code == 400 and "max_concurrency_per_key" in batch.json["msg"]
