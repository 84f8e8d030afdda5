"""The SDK's in-task side: from inside a running task, queue more tasks and gather their
results over the task's API socket ($IRONWORKS_API_SOCKET, docs/worker-contract.md).

    from ironworks import task
    ids = task.spawn("resize", payloads)      # children of this task
    results = task.gather(ids)                # their results, in order
    results = task.map("resize", payloads)    # both

Standard library only: the python stack carries this module (images/build.sh), so a task
needs nothing in its zip to use it. No token is involved: the socket is the credential.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from collections.abc import Iterable, Sequence
from typing import Any

ENDED = {"complete", "error", "cancelled", "killed", "timeout"}
BATCH = 1000  # tasks per request (the API's limit)
WAIT_S = 10  # the longest wait the API holds a request for


class TaskApiError(Exception):
    """The API refused a request (`status`, and its `msg`)."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(f"{status}: {msg}")
        self.status, self.msg = status, msg


class ChildFailed(Exception):
    """A child did not complete; `task` is its record (status, msg, exit code)."""

    def __init__(self, task: dict[str, Any]) -> None:
        super().__init__(f"task {task['id']} ended {task['status']}: {task.get('msg') or ''}")
        self.task = task


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _request(method: str, path: str, body: object = None, timeout: float = 60) -> bytes:
    """`path` under this task's project; the answer's body, or TaskApiError."""
    connection = _UnixConnection(os.environ["IRONWORKS_API_SOCKET"], timeout)
    data = None if body is None else json.dumps(body).encode()
    headers = {} if data is None else {"Content-Type": "application/json"}
    try:
        connection.request(
            method, f"/2/projects/{os.environ['IRONWORKS_PROJECT_ID']}{path}", data, headers
        )
        answer = connection.getresponse()
        raw = answer.read()
    finally:
        connection.close()
    if answer.status >= 400:
        try:
            msg = json.loads(raw).get("msg", "")
        except ValueError:
            msg = raw.decode(errors="replace")
        raise TaskApiError(answer.status, msg)
    return raw


def spawn(code_name: str, payloads: Iterable[object], *, cascade: bool = False,
          **options: object) -> list[str]:  # fmt: skip
    """Queue one task of `code_name` per payload (strings as they are, anything else as
    JSON), as children of this task; their ids, in order. `cascade`: cancel them if this
    task ends first. `options`: any field of POST tasks (priority, timeout, label, ...)."""
    items = [
        {"code_name": code_name, "payload": p if isinstance(p, str) else json.dumps(p),
         "cascade": cascade, **options}
        for p in payloads
    ]  # fmt: skip
    ids: list[str] = []
    for at in range(0, len(items), BATCH):
        answer = json.loads(_request("POST", "/tasks", {"tasks": items[at : at + BATCH]}))
        ids += [t["id"] for t in answer["tasks"]]
    return ids


def wait(task_id: str, timeout: float | None = None) -> dict[str, Any]:
    """The child's record once it has ended (or as it is when `timeout` runs out). While
    this task waits, it holds no slot: its children can run even with max_concurrency 1."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = WAIT_S if deadline is None else min(WAIT_S, deadline - time.monotonic())
        if left <= 0:
            return json.loads(_request("GET", f"/tasks/{task_id}"))
        found = json.loads(_request("GET", f"/tasks/{task_id}?wait={max(left, 0.1):.1f}"))
        if found["status"] in ENDED:
            return found


def result(task_id: str) -> Any:
    """The JSON a child wrote to its $RESULT_FILE; None if it wrote none."""
    try:
        return json.loads(_request("GET", f"/tasks/{task_id}/result"))
    except TaskApiError as e:
        if e.status == 404 and "no result" in e.msg:
            return None
        raise


def gather(ids: Sequence[str], timeout: float | None = None) -> list[Any]:
    """The results of the children `ids`, in order, once all have ended; ChildFailed for the
    first that did not complete."""
    deadline = None if timeout is None else time.monotonic() + timeout
    results = []
    for task_id in ids:
        left = None if deadline is None else max(deadline - time.monotonic(), 0)
        found = wait(task_id, left)
        if found["status"] != "complete":
            raise ChildFailed(found)
        results.append(result(task_id))
    return results


def map(code_name: str, payloads: Iterable[object], **options: Any) -> list[Any]:
    """spawn, then gather: the children's results in the payloads' order."""
    return gather(spawn(code_name, payloads, **options))


def progress(percent: int, msg: str = "") -> None:
    """Say how far this task has got (as writing $PROGRESS_FILE does)."""
    _request("POST", f"/tasks/{os.environ['TASK_ID']}/progress", {"percent": percent, "msg": msg})
