"""Retention: ended tasks, batches, deliveries and events leave Redis on documented rules, so
that its memory follows what is going on, not all of history. Runner transitions are written
through the store (no Docker here) and the clock is passed in, as the scheduler passes it."""

from __future__ import annotations

import time

from ironworks.model import TaskStatus, new_id
from ironworks.webhooks import Delivery, Webhook
from scheduler import consumers
from tests.harness import ADMIN_TOKEN, wait_until, zip_files
from tests.helpers import auth, create_project, post_batch, setup_project, upload
from tests.store_helpers import admitted, drain, run

RETENTION_S = 60


def keep_for(api, project: dict, seconds: int | None) -> None:
    response = api.patch(
        f"/2/projects/{project['id']}",
        json={"task_retention_s": seconds},
        headers=auth(ADMIN_TOKEN),
    )
    assert response.status_code == 200 and response.json["task_retention_s"] == seconds


def run_tasks(api, store, project: dict, n: int) -> None:
    """Queue n tasks with a payload and a log, and run each to its end."""
    path, headers = f"/2/projects/{project['id']}/tasks", auth(project["token"])
    for start in range(0, n, 100):
        batch = range(start, min(start + 100, n))
        items = [{"code_name": "w", "payload": f'{{"n": {i}}}'} for i in batch]
        assert api.post(path, json={"tasks": items}, headers=headers).status_code == 200
    while ids := admitted(store, project["id"]):
        for task_id in ids:
            run(store, task_id, TaskStatus.COMPLETE, {"ok": True}, log="some output\n" * 20)
    for group in consumers.CONSUMERS:
        drain(store, group)


def expire_all(store, now: float) -> None:
    while store.retention.expire_due(now):
        pass
    store.retention.trim_events()


def test_ended_tasks_leave_redis_whole_after_their_projects_retention(api, store):
    project = create_project(api)
    keep_for(api, project, RETENTION_S)
    upload(api, project, {"name": "w", "command": "true"})
    run_tasks(api, store, project, 120)
    assert store.redis.zcard(store.keys.project_tasks(project["id"])) == 120
    expire_all(store, time.time() + RETENTION_S / 2)
    assert store.redis.zcard(store.keys.project_tasks(project["id"])) == 120  # not yet due

    expire_all(store, time.time() + RETENTION_S + 1)
    code_id = store.codes.by_name(project["id"], "w").id
    assert store.redis.zcard(store.keys.project_tasks(project["id"])) == 0
    assert store.redis.zcard(store.keys.code_tasks(code_id)) == 0
    assert store.redis.hlen(store.keys.code_stats_seen(code_id)) == 0
    assert list(store.redis.scan_iter(match=f"{store.keys.prefix}:task:*")) == []
    listed = api.get(f"/2/projects/{project['id']}/tasks", headers=auth(project["token"]))
    assert listed.json["tasks"] == []
    assert store.redis.xlen(store.keys.events()) == 0  # every group had read and acked them


def test_redis_holds_the_same_after_each_round_of_tasks(api, store):
    """The soak in miniature (bench/: 20 000 tasks): what a round leaves behind is gone."""
    project = create_project(api)
    keep_for(api, project, RETENTION_S)
    upload(api, project, {"name": "w", "command": "true"})
    left = []
    for _ in range(3):
        run_tasks(api, store, project, 60)
        expire_all(store, time.time() + RETENTION_S + 1)
        left.append(lasting_keys(store))
    assert left[0] == left[1] == left[2], left


def lasting_keys(store) -> set[str]:
    """Keys Redis will not expire by itself (the charts' per-minute counters do, so a round
    that crosses a minute may leave one more of those for a while)."""
    return {key for key in store.redis.scan_iter() if store.redis.ttl(key) == -1}


def test_another_projects_retention_is_its_own(api, store):
    short, default = create_project(api, "short"), create_project(api, "default")
    keep_for(api, short, RETENTION_S)
    for project in (short, default):
        upload(api, project, {"name": "w", "command": "true"})
        run_tasks(api, store, project, 40)
    expire_all(store, time.time() + RETENTION_S + 1)
    assert store.redis.zcard(store.keys.project_tasks(short["id"])) == 0
    assert store.redis.zcard(store.keys.project_tasks(default["id"])) == 40  # 30 days


def test_an_ended_batch_leaves_with_its_items(api, store):
    project = setup_project(api)
    keep_for(api, project, RETENTION_S)
    batch_id = post_batch(api, project, payloads=["1", "2"]).json["id"]
    for task_id in admitted(store, project["id"]):
        run(store, task_id, TaskStatus.COMPLETE, 1)
    drain(store, "batches")
    assert store.batches.get(batch_id).status == "complete"
    expire_all(store, time.time() + RETENTION_S + 1)
    assert not store.redis.exists(store.keys.batch(batch_id), store.keys.batch_items(batch_id))
    listed = api.get(f"/2/projects/{project['id']}/batches", headers=auth(project["token"]))
    assert listed.json["batches"] == []


def test_a_hook_keeps_its_newest_deliveries_and_loses_them_with_it(api, store):
    project = create_project(api)
    hook = Webhook(new_id(), project["id"], "https://hooks.example.com/", "s", time.time())
    store.webhooks.create(hook)
    for n in range(130):
        delivery = Delivery(new_id(), hook.id, project["id"], f"t{n}", "complete", time.time())
        store.webhooks.add_delivery_once(delivery, due=time.time())
    assert store.redis.zcard(store.keys.hook_deliveries(hook.id)) == 100
    assert len(list(store.redis.scan_iter(match=f"{store.keys.prefix}:delivery:*"))) == 100
    assert store.redis.zcard(store.keys.due_deliveries()) == 100
    store.webhooks.delete(hook)
    assert list(store.redis.scan_iter(match=f"{store.keys.prefix}:delivery:*")) == []


def test_a_code_may_not_ask_for_more_log_than_the_operator_allows(api, settings):
    project = create_project(api)
    too_much = settings.max_log_max_bytes + 1
    response = upload(api, project, {"name": "w", "command": "true", "log_max_bytes": too_much})
    assert response.status_code == 400 and "log_max_bytes" in response.json["msg"]


def test_the_scheduler_deletes_tasks_once_retention_is_over(fresh_platform):
    platform = fresh_platform
    # The installation's setting: whichever process ends a task starts its retention.
    platform.start("api", task_retention_s="1")
    platform.start("scheduler", task_retention_s="1")
    platform.start("runner", "runner", "--concurrency", "1", task_retention_s="1")
    platform.wait_healthy()
    project = platform.new_project()
    project.upload_code(zip_files({"run.sh": "echo hi"}), {"name": "w", "command": "sh run.sh"})
    task_id = project.queue("w")
    assert project.wait(task_id, timeout_s=60)["status"] == "complete"
    wait_until(lambda: not project.tasks(), timeout_s=15, what="the ended task to be deleted")


def test_a_code_keeps_its_newest_revisions_and_archives_nobody_uses_are_deleted(api, settings):
    project = create_project(api)
    upload(api, project, {"name": "other", "command": "true"}, {"run.sh": "echo 0\n"})
    for n in range(settings.revisions_kept + 3):
        upload(api, project, {"name": "w", "command": "true"}, {"run.sh": f"echo {n}\n"})
    code_id = api.get(f"/2/projects/{project['id']}/codes", headers=auth(project["token"]))
    code_id = next(c["id"] for c in code_id.json["codes"] if c["name"] == "w")
    revisions = api.get(
        f"/2/projects/{project['id']}/codes/{code_id}/revisions?per_page=100",
        headers=auth(project["token"]),
    ).json["revisions"]
    assert [r["rev"] for r in revisions] == list(range(settings.revisions_kept + 3, 3, -1))
    # w's kept revisions and "other" (whose archive w's first revision shared) remain.
    assert len(list(settings.blob_dir.iterdir())) == settings.revisions_kept + 1


def test_a_limit_set_back_to_null_leaves_the_project_whole(api):
    project = create_project(api, max_concurrency=3)
    keep_for(api, project, RETENTION_S)
    path = f"/2/projects/{project['id']}"
    cleared = api.patch(path, json={"max_concurrency": None, "task_retention_s": None},
                        headers=auth(ADMIN_TOKEN))  # fmt: skip
    assert cleared.status_code == 200, cleared.json
    view = api.get(path, headers=auth(project["token"])).json
    assert (view["max_concurrency"], view["task_retention_s"]) == (None, None)
