"""Python SDK for the Ironworks REST API (what the CLI uses).

Over 300 lines: one method per API operation on one Client, as a reader of the API's
reference expects to find them.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from urllib3 import encode_multipart_formdata

from ironworks import userconfig as config
from ironworks.errors import IronworksError
from ironworks.model import LONGEST_WAIT_S, TaskStatus

TERMINAL = frozenset(status.value for status in TaskStatus if status.is_terminal)
BATCH_FINISHED = frozenset({"complete", "failed", "cancelled"})


class ApiError(IronworksError):
    def __init__(self, status: int, msg: str) -> None:
        super().__init__(f"{msg} (HTTP {status})")
        self.status, self.msg = status, msg


@dataclass(frozen=True)
class Client:
    url: str
    token: str
    project_id: str = ""
    timeout_s: float = 60

    def _request(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"OAuth {self.token}"
        try:
            response = requests.request(
                method,
                self.url.rstrip("/") + path,
                headers=headers,
                timeout=self.timeout_s,
                **kwargs,
            )
        except requests.ConnectionError as e:
            raise IronworksError(f"cannot reach Ironworks at {self.url}: is it running?") from e
        if response.status_code >= 400:
            try:
                msg = response.json().get("msg", response.text)
            except ValueError:
                msg = response.text
            raise ApiError(response.status_code, msg)
        return response

    def _project_path(self, suffix: str) -> str:
        if not self.project_id:
            raise IronworksError("no project selected: set IRONWORKS_PROJECT_ID")
        return f"/2/projects/{self.project_id}{suffix}"

    # -- projects -------------------------------------------------------------------------
    def create_project(self, name: str, max_concurrency: int | None = None) -> dict:
        body = {"name": name, "max_concurrency": max_concurrency}
        return self._request("POST", "/2/projects", json=body).json()

    def rotate_token(self) -> str:
        """A new token for this project, returned once; the current one stops working (this
        client's too, if it held it)."""
        return self._request("POST", f"/2/projects/{self.project_id}/token").json()["token"]

    # -- egress grants (set by the admin) --------------------------------------------------
    def set_egress(self, project_id: str, allow: list[str]) -> list[str]:
        path = f"/2/projects/{project_id}/egress"
        return self._request("PUT", path, json={"allow": allow}).json()["allow"]

    def egress(self, project_id: str) -> list[str]:
        return self._request("GET", f"/2/projects/{project_id}/egress").json()["allow"]

    # -- secrets (write-only) -------------------------------------------------------------
    def set_secret(self, name: str, value: str) -> dict:
        return self._request("PUT", self._project_path(f"/secrets/{name}"),
                             json={"value": value}).json()  # fmt: skip

    def secrets(self) -> list[dict]:
        """Names and when each was set; values never come back."""
        return self._request("GET", self._project_path("/secrets")).json()["secrets"]

    def delete_secret(self, name: str) -> dict:
        return self._request("DELETE", self._project_path(f"/secrets/{name}")).json()

    def audit(self, limit: int = 100) -> list[dict]:
        """This project's secret and egress changes, newest first."""
        path = self._project_path("/audit")
        return self._request("GET", path, params={"limit": limit}).json()["entries"]

    # -- codes ----------------------------------------------------------------------------
    def upload_code(
        self,
        archive: bytes,
        data: dict[str, Any],
        on_progress: Callable[[int], None] | None = None,
    ) -> dict:
        fields: dict[str, Any] = {
            "data": (None, json.dumps(data), "application/json"),
            "file": ("code.zip", archive, "application/zip"),
        }
        body, content_type = encode_multipart_formdata(fields)
        return self._request(
            "POST",
            self._project_path("/codes"),
            data=_ProgressReader(body, on_progress),
            headers={"Content-Type": content_type},
        ).json()

    def webhook_url(self, code_name: str) -> str:
        """A URL with a new token that can only queue tasks of `code_name` (the body
        becomes the payload), for another service; the previous such URL stops working."""
        code_id = self.code_named(code_name)["id"]
        return self._request("POST", self._project_path(f"/codes/{code_id}/webhook_token")).json()[
            "url"
        ]

    def codes(self) -> list[dict]:
        return self._request("GET", self._project_path("/codes"), params={"per_page": 100}).json()[
            "codes"
        ]

    def code_named(self, name: str) -> dict:
        for code in self.codes():
            if code["name"] == name:
                return code
        raise ApiError(404, f"Code {name!r} not found")

    def revisions(self, code_id: str) -> list[dict]:
        path = self._project_path(f"/codes/{code_id}/revisions")
        return self._request("GET", path, params={"per_page": 100}).json()["revisions"]

    def rollback(self, code_id: str, revision: int) -> dict:
        path = self._project_path(f"/codes/{code_id}/rollback")
        return self._request("POST", path, json={"revision": revision}).json()["code"]

    # -- schedules --------------------------------------------------------------------------
    def schedule(self, code_name: str, **fields: Any) -> str:
        body = {"schedules": [{"code_name": code_name, **fields}]}
        response = self._request("POST", self._project_path("/schedules"), json=body)
        return response.json()["schedules"][0]["id"]

    def schedules(self) -> list[dict]:
        path = self._project_path("/schedules")
        return self._request("GET", path, params={"per_page": 100}).json()["schedules"]

    def cancel_schedule(self, schedule_id: str) -> dict:
        path = self._project_path(f"/schedules/{schedule_id}/cancel")
        return self._request("POST", path).json()["schedule"]

    def download(self, code_id: str, revision: int | None = None) -> bytes:
        """A code revision's zip archive (the current revision by default)."""
        path = self._project_path(f"/codes/{code_id}/download")
        return self._request("GET", path, params={"revision": revision}).content

    def pause(self, code_id: str) -> dict:
        return self._request(
            "POST", self._project_path(f"/codes/{code_id}/pause_task_queue")
        ).json()

    def resume(self, code_id: str) -> dict:
        path = self._project_path(f"/codes/{code_id}/resume_task_queue")
        return self._request("POST", path).json()

    def code_stats(self, code_id: str) -> dict[str, int]:
        return self._request("GET", self._project_path(f"/codes/{code_id}/stats")).json()

    # -- tasks ----------------------------------------------------------------------------
    def queue(self, code_name: str, payload: str = "", **options: Any) -> str:
        (task_id,) = self.queue_many([{"code_name": code_name, "payload": payload, **options}])
        return task_id

    def queue_many(self, tasks: Sequence[dict]) -> list[str]:
        """Queue several tasks (each a dict of POST tasks' fields), all or none."""
        response = self._request("POST", self._project_path("/tasks"), json={"tasks": list(tasks)})
        return [task["id"] for task in response.json()["tasks"]]

    def task(self, task_id: str, wait_s: float | None = None) -> dict:
        """The task; with wait_s (at most LONGEST_WAIT_S) the server answers as soon as the
        task ends, or after wait_s."""
        params = {"wait": wait_s} if wait_s else None
        return self._request("GET", self._project_path(f"/tasks/{task_id}"), params=params).json()

    def tasks(self, **filters: Any) -> list[dict]:
        params = {k: v for k, v in filters.items() if v is not None}
        return self._request("GET", self._project_path("/tasks"), params=params).json()["tasks"]

    def log(self, task_id: str) -> str:
        return self._request("GET", self._project_path(f"/tasks/{task_id}/log")).text

    def retry(self, task_id: str, delay: int | None = None) -> dict:
        """Queue a finished task again; returns the new task."""
        path = self._project_path(f"/tasks/{task_id}/retry")
        return self._request("POST", path, json={"delay": delay}).json()["tasks"][0]

    def replay(self, task_id: str, payload: str | None = None) -> dict:
        """Queue a copy of a task on its code's current revision (with a new payload, if
        given); returns the copy, linked by replay_of."""
        path = self._project_path(f"/tasks/{task_id}/replay")
        return self._request("POST", path, json={"payload": payload}).json()["tasks"][0]

    def replay_where(self, **where: Any) -> int:
        """Replay every task matching code_name, status, from_time, to_time (at most limit);
        returns how many were queued."""
        body = {k: v for k, v in where.items() if v is not None}
        response = self._request("POST", self._project_path("/tasks/replay"), json=body)
        return response.json()["queued"]

    def cancel(self, task_id: str) -> dict:
        return self._request("POST", self._project_path(f"/tasks/{task_id}/cancel")).json()

    def wait(
        self,
        task_id: str,
        poll_s: float = 0.5,
        timeout_s: float | None = None,
        on_poll: Callable[[dict], None] | None = None,
    ) -> dict:
        """Until the task ends: each poll is held by the server until the end (or poll_s), so
        the end is seen when it happens, not at the next poll."""
        fetch = functools.partial(self.task, task_id, min(poll_s, LONGEST_WAIT_S))
        return _poll(fetch, TERMINAL, f"task {task_id}", poll_s, timeout_s, on_poll)

    # -- batches ----------------------------------------------------------------------------
    def create_batch(self, code_name: str, payloads: Sequence[Any], **options: Any) -> dict:
        """Queue one task per payload, all or none; options: max_concurrency, reduce
        ({"code_name": ...}), reduce_on_failure, priority, timeout, label."""
        body = {"code_name": code_name, "payloads": list(payloads), **options}
        return self._request("POST", self._project_path("/batches"), json=body).json()

    def batch(self, batch_id: str) -> dict:
        return self._request("GET", self._project_path(f"/batches/{batch_id}")).json()

    def batch_results(self, batch_id: str) -> Iterator[dict]:
        """Every item in payload order, read as a stream of JSON lines."""
        path = self._project_path(f"/batches/{batch_id}/results")
        with self._request("GET", path, stream=True) as response:
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)

    def cancel_batch(self, batch_id: str) -> dict:
        return self._request("POST", self._project_path(f"/batches/{batch_id}/cancel")).json()

    def wait_batch(
        self,
        batch_id: str,
        poll_s: float = 0.5,
        timeout_s: float | None = None,
        on_poll: Callable[[dict], None] | None = None,
    ) -> dict:
        fetch = functools.partial(self.batch, batch_id)
        return _poll(fetch, BATCH_FINISHED, f"batch {batch_id}", poll_s, timeout_s, on_poll)


def _poll(
    fetch: Callable[[], dict],
    finished: frozenset[str],
    what: str,
    poll_s: float,
    timeout_s: float | None,
    on_poll: Callable[[dict], None] | None,
) -> dict:
    """Fetch until the object's status is one of `finished`; on_poll sees every fetch."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        asked = time.monotonic()
        current = fetch()
        if on_poll is not None:
            on_poll(current)
        if current["status"] in finished:
            return current
        if deadline is not None and time.monotonic() > deadline:
            raise IronworksError(f"{what} still {current['status']} after {timeout_s} s")
        # A fetch the server held (a task's wait) has already waited its part of the poll.
        time.sleep(max(0.0, poll_s - (time.monotonic() - asked)))


class BatchFailed(IronworksError):
    """Some items of a batch (or its reduce) did not complete; `failed` holds those items
    with their status, exit code, message and the end of their log."""

    def __init__(self, batch: dict, failed: list[dict]) -> None:
        lines = [f"batch {batch['id']} {batch['status']}: {batch.get('msg') or ''}".rstrip()]
        for item in failed[:10]:
            lines.append(
                f"- item {item['index']} ({item['task_id']}): {item['status']}"
                f" exit {item.get('exit_code')} {item.get('msg') or ''}".rstrip()
            )
            lines += [f"    {line}" for line in (item.get("log_tail") or "").splitlines()]
        if len(failed) > 10:
            lines.append(f"… and {len(failed) - 10} more")
        super().__init__("\n".join(lines))
        self.batch, self.failed = batch, failed


@dataclass
class Batch:
    """Map (and optionally reduce) over payloads with one call:

        primes = Batch("is-prime", [{"n": n} for n in range(1, 1001)], reduce="count").run()

    `run()` returns the reduce's result when there is a reduce, else the items' results in
    payload order; it raises BatchFailed, with the failed items' logs, when some failed.
    """

    code_name: str
    payloads: Sequence[Any]
    reduce: str | None = None
    reduce_on_failure: bool = False
    max_concurrency: int | None = None
    client: Client | None = None
    id: str | None = None

    def submit(self) -> str:
        options: dict[str, Any] = {"reduce_on_failure": self.reduce_on_failure}
        if self.reduce:
            options["reduce"] = {"code_name": self.reduce}
        if self.max_concurrency:
            options["max_concurrency"] = self.max_concurrency
        batch_id: str = self._client.create_batch(self.code_name, self.payloads, **options)["id"]
        self.id = batch_id
        return batch_id

    def run(self, wait: bool = True, timeout_s: float | None = None, **wait_options: Any) -> Any:
        """Submit; with wait=False return the batch id at once."""
        batch_id = self.submit()
        if not wait:
            return batch_id
        return self.outcome(self._client.wait_batch(batch_id, timeout_s=timeout_s, **wait_options))

    def outcome(self, batch: dict) -> Any:
        items = list(self._client.batch_results(batch["id"]))
        failed = [
            {"index": i, **item} for i, item in enumerate(items) if item["status"] != "complete"
        ]
        if batch["status"] != "complete":
            raise BatchFailed(batch, failed)
        if self.reduce:
            return batch["result"]
        return [item["result"] for item in items]

    @property
    def _client(self) -> Client:
        if self.client is None:
            self.client = from_config(config.load())
        return self.client


class _ProgressReader:
    """A body requests sends with a Content-Length, reporting bytes sent as it goes."""

    def __init__(self, data: bytes, on_progress: Callable[[int], None] | None) -> None:
        self._data, self._pos, self._on_progress = data, 0, on_progress

    def __len__(self) -> int:
        return len(self._data) - self._pos

    def read(self, size: int = -1) -> bytes:
        size = len(self._data) - self._pos if size < 0 else size
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        if self._on_progress and chunk:
            self._on_progress(len(chunk))
        return chunk


def from_config(config: dict[str, str]) -> Client:
    """Environment variables win over the config file, as users expect; IronWorker's own
    settings (IRON_TOKEN, IRON_PROJECT_ID, ./iron.json) are read when neither has them, so
    migrants keep theirs."""
    iron = _iron_settings()
    return Client(
        url=os.environ.get("IRONWORKS_URL") or config.get("url", "http://127.0.0.1:8080"),
        token=os.environ.get("IRONWORKS_TOKEN") or config.get("token") or iron.get("token", ""),
        project_id=os.environ.get("IRONWORKS_PROJECT_ID")
        or config.get("project_id")
        or iron.get("project_id", ""),
    )


def _iron_settings() -> dict[str, str]:
    settings: dict[str, str] = {}
    try:
        with open("iron.json") as f:
            loaded = json.load(f)
        if isinstance(loaded, dict):
            settings = {k: str(v) for k, v in loaded.items() if k in ("token", "project_id")}
    except (OSError, ValueError):
        pass  # no iron.json here, or not ours to read
    for key in ("token", "project_id"):
        value = os.environ.get(f"IRON_{key.upper()}")
        if value:
            settings[key] = value
    return settings
