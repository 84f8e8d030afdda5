"""Flow control as a user meets it, on the real platform: priorities, idempotent queueing,
replays and dependencies."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.harness import Platform, fresh_database, wait_until, zip_files

SHELL = {"stack": "sh", "command": "sh run.sh"}


def post(project, suffix: str, body: dict) -> requests.Response:
    """A raw POST to the project's API, to see exactly what it answers."""
    url = f"{project.url}/2/projects/{project.project_id}{suffix}"
    return requests.post(url, json=body, headers={"Authorization": f"OAuth {project.token}"})


@pytest.fixture(scope="module")
def one_slot(redis_server, tmp_path_factory):
    """A platform whose one runner slot, not any limit, is what tasks wait for."""
    running = Platform(fresh_database(redis_server), tmp_path_factory.mktemp("one-slot"))
    yield running.start_all(runner_concurrency=1)
    running.stop()


def test_with_runners_busy_higher_priority_starts_first_then_first_come(one_slot):
    project = one_slot.new_project("priorities")  # no limit: every task is admitted at once
    project.upload_code(zip_files({"run.sh": "sleep ${SLEEP:-0}"}), {"name": "w", **SHELL})
    project.upload_code(zip_files({"run.sh": "sleep 3"}), {"name": "blocker", **SHELL})
    blocker = project.queue("blocker")
    wait_until(lambda: project.task(blocker)["status"] == "running", what="the blocker")
    order = [0, 0, 1, 2, 1, 0, 2]
    ids = project.queue_many([{"code_name": "w", "priority": p} for p in order])
    assert project.task(blocker)["status"] == "running"  # all queued while the slot was busy
    tasks = [project.wait(task_id, timeout_s=60) for task_id in ids]
    assert all(t["status"] == "complete" for t in tasks)
    started = [t["id"] for t in sorted(tasks, key=lambda t: t["start_time"])]
    by_priority = sorted(ids, key=lambda i: -order[ids.index(i)])  # stable: FIFO inside one
    assert started == by_priority


def test_a_repeated_idempotency_key_returns_the_first_task_across_api_processes(one_slot):
    project = one_slot.new_project("idempotent")
    project.upload_code(zip_files({"run.sh": "true"}), {"name": "w", **SHELL})
    item = {"code_name": "w", "idempotency_key": "order-42"}
    # Many clients at once, over both of the API's worker processes.
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: project.queue_many([item])[0], range(16)))
    assert len(set(ids)) == 1
    # In one request, and in the next: the same task, said to be a repeat.
    again = post(project, "/tasks", {"tasks": [item] * 2})
    assert again.json()["tasks"] == [{"id": ids[0], "repeat": True}] * 2
    assert [t["id"] for t in project.tasks(code_name="w")] == ids[:1]
    assert project.task(ids[0])["idempotency_key"] == "order-42"
    # Another key, or another project, is another task.
    assert project.queue("w", idempotency_key="order-43") != ids[0]
    other = one_slot.new_project("other")
    other.upload_code(zip_files({"run.sh": "true"}), {"name": "w", **SHELL})
    assert other.queue("w", idempotency_key="order-42") != ids[0]


def test_an_idempotency_key_is_free_again_after_its_ttl(one_slot):
    project = one_slot.new_project("ttl")
    project.upload_code(zip_files({"run.sh": "true"}), {"name": "w", **SHELL})
    first = project.queue("w", idempotency_key="k", idempotency_ttl_s=1)
    assert project.queue("w", idempotency_key="k", idempotency_ttl_s=1) == first
    wait_until(lambda: project.queue("w", idempotency_key="k") != first, what="the TTL to pass")


def test_a_replay_runs_the_current_revision_with_a_new_payload_and_knows_it_is_one(one_slot):
    project = one_slot.new_project("replays")
    script = 'echo "v1 $(cat $PAYLOAD_FILE) replay of ${REPLAY_OF:-nothing}"'
    project.upload_code(zip_files({"run.sh": script}), {"name": "w", **SHELL})
    original = project.wait(project.queue("w", "a"), timeout_s=60)
    assert project.log(original["id"]) == "v1 a replay of nothing\n"
    project.upload_code(zip_files({"run.sh": script.replace("v1", "v2")}), {"name": "w", **SHELL})

    copy = project.replay(original["id"], payload="b")
    assert copy["replay_of"] == original["id"] and copy["code_rev"] == 2
    assert project.wait(copy["id"], timeout_s=60)["status"] == "complete"
    assert project.log(copy["id"]) == f"v2 b replay of {original['id']}\n"
    same_payload = project.wait(project.replay(original["id"])["id"], timeout_s=60)
    assert project.log(same_payload["id"]).startswith("v2 a replay of")


def test_bulk_replay_queues_every_task_the_filter_matches(one_slot):
    project = one_slot.new_project("bulk")
    project.upload_code(zip_files({"run.sh": "exit ${FAIL:-3}"}), {"name": "flaky", **SHELL})
    project.upload_code(zip_files({"run.sh": "true"}), {"name": "fine", **SHELL})
    failed = [project.queue("flaky", str(n)) for n in range(3)]
    fine = project.queue("fine")
    for task_id in [*failed, fine]:
        project.wait(task_id, timeout_s=60)

    assert project.replay_where(code_name="flaky", status="error") == 3
    copies = [t for t in project.tasks(code_name="flaky") if t["replay_of"]]
    assert sorted(t["replay_of"] for t in copies) == sorted(failed)
    assert sorted(t["payload"] for t in copies) == ["0", "1", "2"]
    assert project.replay_where(status="complete", limit=1) == 1


@pytest.mark.parametrize(
    "path, body, msg",
    [
        ("/tasks/replay", {}, "name a 'code_name' or a 'status'"),
        ("/tasks/replay", {"status": "done"}, "'status' must be one of"),
        ("/tasks/replay", {"code_name": "nope"}, "Code 'nope' not found"),
        ("/tasks/replay", {"status": "error", "limit": 0}, "'limit' must be between"),
        ("/tasks", {"tasks": [{"code_name": "w", "idempotency_key": 7}]}, "must be a string"),
        ("/tasks", {"tasks": [{"code_name": "w", "idempotency_key": "k",
                               "idempotency_ttl_s": 0}]}, "'idempotency_ttl_s' must be"),
        ("/tasks/nope/replay", {}, "Task not found"),
    ],
)  # fmt: skip
def test_bad_flow_control_input_is_a_4xx_with_a_msg(one_slot, path, body, msg):
    project = one_slot.new_project("bad")
    project.upload_code(zip_files({"run.sh": "true"}), {"name": "w", **SHELL})
    response = post(project, path, body)
    assert 400 <= response.status_code < 500 and msg in response.json()["msg"], response.text


def test_a_dependent_runs_after_its_dependency_and_is_cancelled_when_one_fails(one_slot):
    project = one_slot.new_project("dependencies")
    project.upload_code(zip_files({"run.sh": "sleep 1"}), {"name": "w", **SHELL})
    project.upload_code(zip_files({"run.sh": "exit 4"}), {"name": "broken", **SHELL})
    first, broken = project.queue("w"), project.queue("broken")
    after = project.queue("w", depends_on=[first])
    never = project.queue("w", depends_on=[first, broken])

    ran = project.wait(after, timeout_s=60)
    assert ran["status"] == "complete"
    assert ran["start_time"] >= project.task(first)["end_time"]
    cancelled = project.wait(never, timeout_s=60)
    assert cancelled["status"] == "cancelled" and cancelled["start_time"] is None
    assert cancelled["msg"] == f"dependency {broken} ended error"
    assert project.task(first)["dependents"] == sorted([after, never])
