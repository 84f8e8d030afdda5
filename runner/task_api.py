"""A running task's API socket: the platform's HTTP API on a unix socket in its container.

The runner serves it for the task's lifetime and forwards each request to the API with a
credential it holds for this attempt (store/task_tokens.py); the task never sees a token:
the socket is its credential, and it is gone when the task ends. The API decides what a task
may do (api/routes/project_scope.py: queue and read its own children, report its progress);
this side only keeps one task from hurting others: one request at a time per socket, bodies
of a bounded size, a client that stalls is dropped, and only the task's own project's paths.

While the task waits for a child (`?wait=`), it steps aside from its slots, so that a parent
waiting on its children never keeps them from running (docs/flow-control.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socketserver
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from ironworks.model import Task
from ironworks.settings import Settings
from ironworks.store import Store
from runner import taskdir

log = logging.getLogger(__name__)

SOCKET_NAME = "api.sock"
# Where the socket appears in the container (the task space's `run` part, runner/taskdir.py).
CONTAINER_SOCKET = "/run/ironworks/api.sock"
# A request held open this long without finishing frees the socket for the next.
CLIENT_TIMEOUT_S = 30
# The API answers a wait in 10 s at most; anything longer is the API in trouble.
UPSTREAM_TIMEOUT_S = 60
# The credential outlives the task's timeout by this much at most (it is revoked at the end).
TOKEN_MARGIN_S = 300


class TaskApi:
    def __init__(
        self, run_dir: Path, api_url: str, token: str, project_id: str, max_body_bytes: int,
        waiting: Callable[[], contextlib.AbstractContextManager[object]],
    ) -> None:  # fmt: skip
        self.path = run_dir / SOCKET_NAME
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale one (a waiting container's space is reused once)
        self._server = _bound(run_dir)
        self._server.forward = _Forward(api_url, token, project_id, max_body_bytes, waiting)
        os.chmod(self.path, 0o666)  # the task's user connects; the directory is read-only to it
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
            name=f"task-api-{project_id[:8]}", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def close(self) -> None:
        """No new connection from now; a request under way finishes first."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server.shutdown()
        self._server.server_close()
        self._server.forward.session.close()


def _bound(run_dir: Path) -> _Server:
    """A server on run_dir's socket. A socket's path may be 107 bytes at most, and a task's
    space can lie deeper than that: it is bound through /proc/self/fd/N/, a short name for
    the directory (the kernel resolves it as the directory itself)."""
    directory = os.open(run_dir, os.O_PATH | os.O_DIRECTORY)
    try:
        return _Server(f"/proc/self/fd/{directory}/{SOCKET_NAME}", _Handler)
    finally:
        os.close(directory)


class _Forward:
    def __init__(
        self, api_url: str, token: str, project_id: str, max_body_bytes: int,
        waiting: Callable[[], contextlib.AbstractContextManager[object]],
    ) -> None:  # fmt: skip
        self.api_url, self.project_prefix = api_url, f"/2/projects/{project_id}/"
        self.max_body_bytes, self.waiting = max_body_bytes, waiting
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"OAuth {token}"


class _Server(socketserver.UnixStreamServer):
    forward: _Forward


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = CLIENT_TIMEOUT_S

    def do_GET(self) -> None:
        self._forward()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _forward(self) -> None:
        forward = self.server.forward
        if not self.path.startswith(forward.project_prefix):
            self._answer(403, _msg(f"only {forward.project_prefix}... is served here"))
            return
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            self._answer(411, _msg("send a Content-Length, not a chunked body"))
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > forward.max_body_bytes:
            most = forward.max_body_bytes
            self._answer(413, _msg(f"a request to the task API is {most} bytes at most"))
            return
        body = self.rfile.read(length) if length else None
        waits = "wait" in parse_qs(urlsplit(self.path).query)
        try:
            with forward.waiting() if waits else contextlib.nullcontext():
                answer = forward.session.request(
                    self.command, forward.api_url + self.path, data=body,
                    headers=_passed(self.headers), timeout=UPSTREAM_TIMEOUT_S,
                )  # fmt: skip
        except requests.RequestException as e:
            log.warning("task API: the API did not answer: %s", e)
            self._answer(503, _msg("the platform's API is not answering just now; try again"))
            return
        self._answer(answer.status_code, answer.content, answer.headers.get("Content-Type"))

    def _answer(self, status: int, body: bytes, content_type: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the API logs every request; one line per request is enough


def _msg(text: str) -> bytes:
    return json.dumps({"msg": text}).encode()


def _passed(headers) -> dict[str, str]:
    """The request's own headers the API needs (never an Authorization: the runner's)."""
    return {k: v for k in ("Content-Type", "Accept") if (v := headers.get(k))}


@contextlib.contextmanager
def serving(store: Store, settings: Settings, task: Task, task_dir: Path) -> Iterator[TaskApi]:
    """The task's API socket in its space, with a credential for this attempt, until the
    task's things are let go; then the socket is closed and the credential revoked."""
    token = store.task_tokens.issue(task.id, task.attempt, task.timeout + TOKEN_MARGIN_S)
    try:
        api = TaskApi(
            taskdir.run_dir(task_dir), settings.api_base_url, token, task.project_id,
            settings.task_api_max_body_bytes, lambda: _aside(store, task),
        )  # fmt: skip
        try:
            yield api
        finally:
            api.close()
    finally:
        store.task_tokens.revoke(token)


@contextlib.contextmanager
def _aside(store: Store, task: Task) -> Iterator[None]:
    """Out of the task's slots for the duration of a wait; back in after."""
    stepped = store.tasks.step_aside(task)
    try:
        yield
    finally:
        if stepped:
            store.tasks.step_back(task)
