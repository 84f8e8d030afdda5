"""Replays from the dashboard, through the Flask test client on a real Redis (the REST API's
and the CLI's replays run on the real platform in test_flow_control.py and test_cli.py)."""

from __future__ import annotations

from ironworks.model import TaskStatus
from tests.helpers import create_project, csrf_of, queue_one, sign_in, upload
from tests.store_helpers import admitted, run


def test_the_dashboard_replays_one_task_or_every_task_the_filter_shows(api, store):
    project = create_project(api)
    for name in ("w", "other"):
        upload(api, project, {"name": name, "stack": "sh", "command": "true"})
    failed = [queue_one(api, project) for _ in range(2)]
    fine = queue_one(api, project, code_name="other")
    admitted(store, project["id"])
    for task_id in failed:
        run(store, task_id, TaskStatus.ERROR)
    run(store, fine, TaskStatus.COMPLETE)
    sign_in(api, project["token"])

    page = api.get(f"/tasks/{failed[0]}").get_data(as_text=True)
    one = api.post(f"/tasks/{failed[0]}/replay", data={"csrf": csrf_of(page)})
    copy_id = one.headers["Location"].rsplit("/", 1)[1]
    assert store.tasks.get(copy_id).replay_of == failed[0]

    listing = api.get("/tasks?status=error").get_data(as_text=True)
    assert "Replay all matching" in listing
    assert "Replay all matching" not in api.get("/tasks").get_data(as_text=True)
    many = api.post("/tasks/replay?status=error&code=w", data={"csrf": csrf_of(listing)})
    assert many.status_code == 302
    copies = [t for t in store.tasks.list(project["id"], limit=100) if t.replay_of]
    assert sorted(t.replay_of for t in copies) == sorted([failed[0], *failed])
    refused = api.post("/tasks/replay", data={"csrf": csrf_of(listing)})
    assert refused.status_code == 400
