"""The API driven exactly as an IronWorker v2 client drives it: raw HTTP, `OAuth` header,
nulls for unset fields, the legacy upload form — upload → queue → wait → log → retry →
schedule → cancel."""

from __future__ import annotations

import io
import json
import time
import zipfile

import requests

from tests.harness import wait_until


def test_an_ironworker_v2_client_works_unchanged(platform):
    created = platform.admin().create_project("v2-client")
    base = f"{platform.url}/2/projects/{created['id']}"
    session = requests.Session()
    session.headers["Authorization"] = f"OAuth {created['token']}"

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.py", "import sys; print('args', sys.argv[1:3])\n")
    upload = session.post(
        f"{base}/codes",
        files={
            "data": (None, json.dumps({"name": "hello", "runtime": "python",
                                       "file_name": "hello.py", "max_concurrency": None,
                                       "config": None, "env_vars": None})),
            "file": ("hello.zip", archive.getvalue(), "application/zip"),
        },
    )  # fmt: skip
    assert upload.status_code == 200 and upload.json()["msg"] == "Upload successful."

    queued = session.post(
        f"{base}/tasks",
        json={"tasks": [{"code_name": "hello", "payload": "{}", "priority": None, "timeout": None,
                         "delay": None, "label": None, "cluster": None}]},
    )  # fmt: skip
    assert queued.json()["msg"] == "Queued up"
    task_id = queued.json()["tasks"][0]["id"]

    def finished() -> dict | None:
        task = session.get(f"{base}/tasks/{task_id}").json()
        return task if task["status"] not in ("queued", "running") else None

    task = wait_until(finished, timeout_s=60, interval_s=0.2, what="the task")
    assert task["status"] == "complete" and task["duration"] >= 0
    assert (
        session.get(f"{base}/tasks/{task_id}/log").text
        == "args ['-payload', '/mnt/task/payload.json']\n"
    )

    retried = session.post(f"{base}/tasks/{task_id}/retry", json={"delay": None}).json()
    assert retried["tasks"][0]["retry_of"] == task_id

    listed = session.get(f"{base}/tasks", params={"code_name": "hello", "complete": 1, "page": 0})
    assert task_id in [t["id"] for t in listed.json()["tasks"]]

    scheduled = session.post(
        f"{base}/schedules",
        json={"schedules": [{"code_name": "hello", "payload": "{}", "run_every": 3600,
                             "start_at": time.time() + 3600, "end_at": None, "run_times": None,
                             "priority": None, "name": "hourly"}]},
    )  # fmt: skip
    schedule_id = scheduled.json()["schedules"][0]["id"]
    schedule = session.get(f"{base}/schedules/{schedule_id}").json()
    assert (schedule["status"], schedule["run_count"], schedule["name"]) == (
        "scheduled",
        0,
        "hourly",
    )
    cancelled = session.post(f"{base}/schedules/{schedule_id}/cancel").json()
    assert cancelled["schedule"]["status"] == "cancelled"

    errors = session.get(f"{base}/tasks/000000000000000000000000")
    assert errors.status_code == 404 and errors.json() == {"msg": "Task not found"}
