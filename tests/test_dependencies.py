"""Dependencies through the API and the store's rules, against a real Redis: a task waits for
the tasks it depends on, and is cancelled when one of them fails for good. The runner and the
scheduler's steps are played through the store (tests/test_flow_control.py runs the real
platform)."""

from __future__ import annotations

import pytest

from ironworks.model import TaskStatus
from tests.helpers import auth, create_project, queue, queue_one, sign_in, upload
from tests.store_helpers import admitted, drain, run


@pytest.fixture
def project(api):
    project = create_project(api)
    assert upload(api, project, {"name": "w", "stack": "sh", "command": "true"}).status_code == 200
    data = {"name": "flaky", "stack": "sh", "command": "false", "retries": 1}
    assert upload(api, project, data).status_code == 200
    return project


def ends(store, project, task_id: str, status: TaskStatus) -> None:
    """A runner runs the task to `status`; the scheduler then follows its end."""
    assert task_id in admitted(store, project["id"])
    run(store, task_id, status)
    drain(store, "retries")
    drain(store, "dependencies")


def test_a_task_is_admitted_once_every_dependency_is_complete(api, store, project):
    a, b = queue_one(api, project), queue_one(api, project)
    c = queue_one(api, project, depends_on=[a, b])
    assert admitted(store, project["id"]) == [a, b]  # not c
    run(store, a, TaskStatus.COMPLETE)
    drain(store, "dependencies")
    assert admitted(store, project["id"]) == []
    run(store, b, TaskStatus.COMPLETE)
    drain(store, "dependencies")
    assert admitted(store, project["id"]) == [c]
    store.dependencies.follow(b)  # as for a replayed event, or a second scheduler
    assert admitted(store, project["id"]) == []


def test_a_dependency_that_fails_for_good_cancels_the_task_naming_it(api, store, project):
    a = queue_one(api, project)
    b = queue_one(api, project, depends_on=[a])
    c = queue_one(api, project, depends_on=[b])  # and what waits on it, in turn
    ends(store, project, a, TaskStatus.ERROR)
    drain(store, "dependencies")
    for task_id, dep in ((b, a), (c, b)):
        task = store.tasks.get(task_id)
        assert task.status is TaskStatus.CANCELLED
        assert task.msg == f"dependency {dep} ended {'error' if dep == a else 'cancelled'}"


def test_a_dependency_retried_is_waited_for_through_its_retry(api, store, project):
    a = queue_one(api, project, code_name="flaky")
    b = queue_one(api, project, depends_on=[a])
    ends(store, project, a, TaskStatus.ERROR)  # retries: 1, so not over yet
    assert store.tasks.get(b).status is TaskStatus.QUEUED
    (retry,) = store.dependencies.pending(b)
    assert store.tasks.get(retry).retry_of == a
    ends(store, project, retry, TaskStatus.COMPLETE)
    assert admitted(store, project["id"]) == [b]


def test_dependencies_that_ended_before_the_task_was_queued_count(api, store, project):
    done, failed = queue_one(api, project), queue_one(api, project)
    admitted(store, project["id"])
    run(store, done, TaskStatus.COMPLETE)
    run(store, failed, TaskStatus.CANCELLED)
    ready = queue_one(api, project, depends_on=[done])
    doomed = queue_one(api, project, depends_on=[done, failed])
    assert admitted(store, project["id"]) == [ready]
    assert store.tasks.get(doomed).msg == f"dependency {failed} ended cancelled"


def test_the_links_show_both_ways_in_the_api_and_the_dashboard(api, store, project):
    a = queue_one(api, project)
    b = queue_one(api, project, depends_on=[a])
    path = f"/2/projects/{project['id']}/tasks"
    assert api.get(f"{path}/{a}", headers=auth(project["token"])).json["dependents"] == [b]
    assert api.get(f"{path}/{b}", headers=auth(project["token"])).json["depends_on"] == [a]
    sign_in(api, project["token"])
    assert f'href="/tasks/{b}"' in api.get(f"/tasks/{a}").get_data(as_text=True)
    page = api.get(f"/tasks/{b}").get_data(as_text=True)
    assert f'href="/tasks/{a}"' in page and "(waiting)" in page


@pytest.mark.parametrize(
    "item, msg",
    [
        ({"depends_on": "abc"}, "'depends_on' must be a list"),
        ({"depends_on": [7]}, "'depends_on' must be a list of strings"),
        ({"depends_on": ["x"] * 101}, "'depends_on' must be a list of 0 to 100 items"),
        ({"depends_on": ["0" * 24]}, "'depends_on': no task 000000000000000000000000 in"),
        ({"depends_on": ["x"] * 2}, "'depends_on' names a task twice"),
        ({"depends_on": "OTHER"}, "'depends_on': no task"),
        ({"depends_on": "OWN", "delay": 5}, "'depends_on' or 'delay', not both"),
    ],
)
def test_bad_dependencies_are_a_400_with_a_msg(api, project, item, msg):
    other = create_project(api, "other")
    upload(api, other, {"name": "w", "stack": "sh", "command": "true"})
    own, theirs = queue_one(api, project), queue_one(api, other)
    placeholders = {"OWN": [own], "OTHER": [theirs]}
    if isinstance(item["depends_on"], str) and item["depends_on"] in placeholders:
        item = item | {"depends_on": placeholders[item["depends_on"]]}
    response = queue(api, project, {"code_name": "w", **item})
    assert response.status_code == 400 and msg in response.json["msg"], response.json
