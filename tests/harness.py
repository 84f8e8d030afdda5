"""The test harness as a library: the platform as real processes (`Platform`), and the
helpers tests share. conftest.py holds only fixtures, built on this."""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import redis
import requests

from ironworks.client import Client
from ironworks.settings import Settings
from ironworks.store import Store

ADMIN_TOKEN = "test-admin-token"

# Seals the tests' project secrets (IRONWORKS_SECRETS_KEY): 32 bytes, base64.
SECRETS_KEY = "dGVzdC1zZWNyZXRzLWtleS0zMi1ieXRlcy1sb25nISE="

PROCESS_MARK = "IWTEST_PROCESS_MARK"

ROOT = Path(__file__).resolve().parent.parent

# Ports for the processes tests start: each xdist worker counts through a block of its own,
# below Linux's ephemeral ports (32768 and up, where bind(0) and outgoing connections draw).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_PORTS = itertools.cycle(range(20000 + 1000 * (_WORKER % 12), 21000 + 1000 * (_WORKER % 12)))


def free_port() -> int:
    """A port for a process a test is about to start, which binds it a moment later; skips
    any port something holds. bind(0)-and-close (ironworks.cli.dev.free_port) can give the
    same port to a second caller, here or in another worker, before the first has bound it:
    CI once saw a runner's metrics server take the API's port, and answer the API's
    requests 404."""
    while True:
        port = next(_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


# One database per platform a test starts (0 and 1 are the API tests'); Redis's default is 16.
DATABASES = 64


# How long a test waits for what it needs before it checks anything (a container started, a
# task ended): a bound on a failing test, never an assertion; a test that asserts a time
# passes its own. On a machine that runs Python half as fast, with four test processes
# sharing one Docker engine, a container twice took over 30 s to start in CI.
WAIT_S = 60


def wait_until(
    predicate, timeout_s: float = WAIT_S, interval_s: float = 0.05, what: str = "condition"
):
    """Poll with a deadline instead of sleeping a guessed amount."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def zip_files(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def redis_answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


_next_db = iter(range(2, DATABASES))


def fresh_database(redis_server: str) -> str:
    """The URL of an emptied Redis database no other platform of this session uses."""
    url = f"{redis_server}/{next(_next_db)}"
    redis.Redis.from_url(url).flushdb()
    return url


class Platform:
    """The platform as real processes: API under gunicorn, scheduler(s), runner(s).

    Each process gets its own session (process group) so a test can kill -9 one role with
    everything it started, as when a host dies, and start it again.
    """

    def __init__(self, redis_url: str, data_dir: Path, **settings: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.runner_id = f"test-runner-{uuid.uuid4().hex[:8]}"
        self.settings = Settings(redis_url=redis_url, admin_token=ADMIN_TOKEN, data_dir=data_dir)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IRONWORKS_")} | {
            "IRONWORKS_REDIS_URL": redis_url,
            "IRONWORKS_ADMIN_TOKEN": ADMIN_TOKEN,
            "IRONWORKS_SECRETS_KEY": SECRETS_KEY,
            "IRONWORKS_DATA_DIR": str(data_dir),
            "IRONWORKS_API_BIND": f"127.0.0.1:{port}",
            "IRONWORKS_SCHEDULER_IDLE_WAIT_S": "0.1",
            "IRONWORKS_API_WORKERS": "2",
            "IRONWORKS_RUNNER_DRAIN_S": "5",  # tests that drain set their own
            # The tests' webhook receivers listen on this host (test_webhook_targets.py checks
            # the refusal that is the default).
            "IRONWORKS_WEBHOOK_ALLOW_PRIVATE": "1",
            # IWTEST_WARM=1 runs the whole platform with warm start on (make test does both).
            "IRONWORKS_WARM_START": "1" if os.environ.get("IWTEST_WARM") else "0",
            **{f"IRONWORKS_{k.upper()}": v for k, v in settings.items()},
        }
        self.env.pop("REDIS_URL", None)
        self._log = open(data_dir / "platform.log", "a")  # closed by stop()
        self.processes: dict[str, subprocess.Popen] = {}
        self.health_urls: dict[str, str] = {}  # the scheduler's and runner's own server
        self._marks: dict[str, str] = {}

    def start(
        self,
        name: str,
        role: str | None = None,
        *args: str,
        runner_id: str = "",
        failpoint: str = "",
        **settings: str,
    ) -> None:
        # Marks every process this role starts, even any that leaves its session.
        self._marks[name] = f"{PROCESS_MARK}={name}-{uuid.uuid4().hex}"
        health_bind = f"127.0.0.1:{free_port()}"
        self.health_urls[name] = f"http://{health_bind}"
        env = self.env | {
            "IRONWORKS_SCHEDULER_METRICS_BIND": health_bind,
            "IRONWORKS_RUNNER_METRICS_BIND": health_bind,
            "IRONWORKS_RUNNER_ID": runner_id or self.runner_id,
            PROCESS_MARK: self._marks[name].partition("=")[2],
            "IWTEST_FAILPOINT": failpoint,  # runner/execute.py
            **{f"IRONWORKS_{k.upper()}": v for k, v in settings.items()},
        }
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", role or name, *args],
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )

    def start_all(self, runner_concurrency: int = 4) -> Platform:
        self.start("api")
        self.start("scheduler")
        self.start("runner", "runner", "--concurrency", str(runner_concurrency))
        self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        wait_until(lambda: _healthy(self.url), timeout_s=30, what="the API to answer /healthz")

    def kill(self, name: str) -> None:
        """kill -9 the role and everything it started, as when its host dies."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        _kill_marked(self._marks.pop(name))
        process.wait()

    def processes_of(self, name: str) -> list[int]:
        """Every live process the role started, itself included, wherever it was reparented."""
        return _marked(self._marks[name])

    def terminate(self, name: str, timeout_s: float = 60) -> int:
        """SIGTERM to the role's own process only, as an orchestrator sends it; waits for it
        to exit and returns its exit status."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout_s)
        _kill_marked(self._marks.pop(name))  # whatever outlived it
        return status

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                # A runner drains, hands back, then removes every container it started: a
                # stop must leave the engine as the test found it.
                process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            _kill_marked(self._marks.pop(name))  # whatever outlived its session
        self.processes.clear()
        self._log.close()

    @functools.cached_property
    def instance_id(self) -> str:
        return Store.connect(self.settings).instance_id()

    def log_text(self) -> str:
        return (self.settings.data_dir / "platform.log").read_text()

    def admin_view(self, project_id: str) -> dict:
        return (
            Client(self.url, ADMIN_TOKEN, project_id)
            ._request("GET", f"/2/projects/{project_id}")
            .json()
        )

    def admin(self) -> Client:
        return Client(self.url, ADMIN_TOKEN)

    def new_project(self, name: str = "p", max_concurrency: int | None = None) -> Client:
        created = self.admin().create_project(name, max_concurrency)
        return Client(self.url, created["token"], created["id"])


def _kill_marked(mark: str) -> None:
    for pid in _marked(mark):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _marked(mark: str) -> list[int]:
    """Processes alive with the mark in their environment (zombies have none to read)."""
    wanted, found = mark.encode(), []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if wanted in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except (OSError, ValueError):
            continue  # gone already, or not ours to read
    return found


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).ok
    except (requests.ConnectionError, requests.Timeout):
        return False
