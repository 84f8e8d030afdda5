"""Small helpers shared by the tests."""

from __future__ import annotations

import collections
import io
import json
import os
import re
import time

from runner.spec import LABEL_INSTANCE, LABEL_PROJECT, LABEL_WARM, claimed_name
from tests.harness import ADMIN_TOKEN, wait_until, zip_files

# make test runs the contract suites again with warm start on (the Makefile's test target).
WARM = bool(os.environ.get("IWTEST_WARM"))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {token}"}


def create_project(api, name: str = "acme", max_concurrency: int | None = None) -> dict:
    response = api.post(
        "/2/projects",
        json={"name": name, "max_concurrency": max_concurrency},
        headers=auth(ADMIN_TOKEN),
    )
    assert response.status_code == 201, response.json
    return response.json


def upload(
    api, project: dict, data: dict, files: dict[str, str] | None = None, archive: bytes = b""
):
    """Upload a code made of `files` (or the given `archive`'s bytes, as they are)."""
    archive = archive or zip_files(files or {"run.sh": "echo hi\n"})
    return api.post(
        f"/2/projects/{project['id']}/codes",
        data={"data": json.dumps(data), "file": (io.BytesIO(archive), "code.zip")},
        headers=auth(project["token"]),
        content_type="multipart/form-data",
    )


def queue(api, project: dict, *tasks: dict):
    return api.post(
        f"/2/projects/{project['id']}/tasks",
        json={"tasks": list(tasks)},
        headers=auth(project["token"]),
    )


def queue_one(api, project, **item) -> str:
    """Queue one task (of code "w" unless the item names another) and return its id."""
    response = queue(api, project, {"code_name": "w", **item})
    assert response.status_code == 200, response.json
    return response.json["tasks"][0]["id"]


def csrf_of(page: str) -> str:
    """The CSRF token a dashboard page's forms carry."""
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(api, token: str) -> None:
    """Sign in to the dashboard of the Flask test client `api` with a token."""
    api.post("/login", data={"token": token, "csrf": csrf_of(api.get("/login").get_data(True))})


def running_by_project(engine, instance_id: str) -> collections.Counter[str]:
    """How many task containers of one installation run now, per project id, as the engine
    (`docker ps`) sees them: what a limit promises, not what the platform counts."""
    label = f"{LABEL_INSTANCE}={instance_id}"
    containers = engine.api.containers(filters={"label": label, "status": "running"})
    return collections.Counter(c["Labels"][LABEL_PROJECT] for c in containers)


def setup_project(api, **code_fields) -> dict:
    """A project with the two codes the batch tests map and reduce with."""
    project = create_project(api)
    for name in ("square", "total"):
        assert (
            upload(
                api, project, {"name": name, "stack": "sh", "command": "sh run.sh", **code_fields}
            ).status_code
            == 200
        )
    return project


def post_batch(api, project: dict, **body):
    path = f"/2/projects/{project['id']}/batches"
    return api.post(path, json={"code_name": "square", **body}, headers=auth(project["token"]))


def get_batch(api, project: dict, batch_id: str) -> dict:
    path = f"/2/projects/{project['id']}/batches/{batch_id}"
    response = api.get(path, headers=auth(project["token"]))
    assert response.status_code == 200, response.json
    return response.json


def events_handled(store, group: str) -> bool:
    """True once the scheduler's consumer `group` has read and acknowledged every event so far:
    what it would do about them (queue a retry, plan a delivery) is then done, so a test can
    check that something did not happen without sleeping."""
    stream = store.keys.events()
    last = store.redis.xinfo_stream(stream)["last-generated-id"]
    groups = {g["name"]: g for g in store.redis.xinfo_groups(stream)}
    state = groups.get(group)
    return bool(state) and state["last-delivered-id"] == last and state["pending"] == 0


def queue_as_run(engine, platform, project, code: dict, payload: str = "") -> str:
    """Queue a task of `code` the way the platform is running. With warm start on, a first
    task makes demand, and this one is queued once a prestarted container waits for it; the
    engine's own rename of that container to the task's name proves the task ran in it."""
    if not WARM:
        return project.queue(code["name"], payload)
    project.wait(project.queue(code["name"], payload), timeout_s=60)
    label = [f"{LABEL_INSTANCE}={platform.instance_id}", f"{LABEL_WARM}={code['id']}.{code['rev']}"]
    waiting = wait_until(
        lambda: engine.api.containers(filters={"label": label, "status": "running"}),
        what="a prestarted container",
    )  # fmt: skip
    since = int(time.time()) - 1
    task_id = project.queue(code["name"], payload)
    renames = engine.events(
        since=since, until=since + 60, decode=True,
        filters={"event": "rename", "container": [c["Id"] for c in waiting]},
    )  # fmt: skip
    try:
        wanted = claimed_name(task_id, 1)
        if not any(e["Actor"]["Attributes"].get("name") == wanted for e in renames):
            raise AssertionError(f"task {task_id} did not run in a prestarted container")
    finally:
        renames.close()
    return task_id
