"""Concurrency keys and rate limits on the real platform, with two schedulers admitting at
once: what runs is sampled from the engine (`docker ps`), not from the platform's counters."""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
from datetime import datetime

import pytest
import requests

from ironworks.client import ApiError
from runner.spec import LABEL_PROJECT, LABEL_TASK
from tests.conftest import ADMIN_TOKEN, Platform, fresh_database, wait_until, zip_files

SHELL = {"stack": "sh", "command": "sh run.sh"}


@pytest.fixture(scope="module")
def platform(redis_server, tmp_path_factory):
    running = Platform(fresh_database(redis_server), tmp_path_factory.mktemp("two-schedulers"))
    running.start("api")
    running.start("scheduler")
    running.start("scheduler-2", "scheduler")
    running.start("runner", "runner", "--concurrency", "4")
    running.wait_healthy()
    yield running
    running.stop()


class Sampler(threading.Thread):
    """Polls the engine for the project's running task containers until stopped: the most of
    each group running at once, and when each container started (the engine's own time)."""

    def __init__(self, engine, project_id: str, group_of: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.engine, self.project_id, self.group_of = engine, project_id, group_of
        self.peaks: collections.Counter[str] = collections.Counter()
        self.started: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        label = f"{LABEL_PROJECT}={self.project_id}"
        while not self.stop.is_set():
            running = self.engine.api.containers(filters={"label": label, "status": "running"})
            groups = collections.Counter(self.group_of[c["Labels"][LABEL_TASK]] for c in running)
            for group, count in groups.items():
                self.peaks[group] = max(self.peaks[group], count)
            for container in running:
                if container["Id"] not in self.started:
                    self.started[container["Id"]] = self._start_time(container["Id"])
            self.stop.wait(0.1)

    def watching(self, project, ids: list[str]) -> list[dict]:
        """Sample while the tasks run; returns them ended."""
        self.start()
        try:
            return [project.wait(i, timeout_s=120) for i in ids]
        finally:
            self.stop.set()
            self.join()

    def _start_time(self, container_id: str) -> float:
        started = self.engine.api.inspect_container(container_id)["State"]["StartedAt"]
        return datetime.fromisoformat(started[:26].rstrip("Z") + "+00:00").timestamp()


def test_a_key_limit_holds_under_two_schedulers(platform, engine):
    project = platform.new_project("keys")
    data = {"name": "keyed", **SHELL, "concurrency_key": "{customer}", "max_concurrency_per_key": 2}
    project.upload_code(zip_files({"run.sh": "sleep 1"}), data)
    # Uneven on purpose: once b's two are done, a alone could fill all four slots (lanes take
    # turns, so even keys would stay at two each with no limit at all).
    payloads = [json.dumps({"customer": c}) for c in "aaaaaabb"]
    ids = project.queue_many([{"code_name": "keyed", "payload": p} for p in payloads])
    customer_of = {i: json.loads(p)["customer"] for i, p in zip(ids, payloads, strict=True)}
    sampler = Sampler(engine, project.project_id, customer_of)
    ended = sampler.watching(project, ids)
    assert all(t["status"] == "complete" for t in ended)
    assert {t["concurrency_key"] for t in ended} == {"a", "b"}
    assert sampler.peaks["a"] == 2, sampler.peaks  # never 3, and seen at 2


def test_a_rate_limit_holds_under_two_schedulers_and_drops_nothing(platform, engine):
    project = platform.new_project("rates")
    data = {"name": "rated", **SHELL, "rate_limit": {"count": 2, "period_s": 3}}
    project.upload_code(zip_files({"run.sh": "sleep 1"}), data)  # long enough to be seen
    # The runner fetches a code package on its first task only, which would start that one
    # late; one task first, and a window's wait, keep the six starts alike after admission.
    project.wait(project.queue("rated"), timeout_s=60)
    time.sleep(3)
    ids = project.queue_many([{"code_name": "rated"}] * 6)
    sampler = Sampler(engine, project.project_id, dict.fromkeys(ids, "rated"))
    ended = sampler.watching(project, ids)
    assert all(t["status"] == "complete" for t in ended)
    starts = sorted(sampler.started.values())
    assert len(starts) == 6
    # No three starts within one window, and the six took two windows after the first (each
    # less a second: a container starts a little after its admission, not always alike on a
    # loaded machine). With no limit all six start at once; with a 1 s window, 1 s apart.
    assert all(later - first >= 2 for first, later in zip(starts, starts[2:], strict=False)), starts
    assert starts[-1] - starts[0] >= 2 * 2, starts


def test_a_single_task_of_another_key_starts_while_a_backlog_drains(platform):
    project = platform.new_project("fair")
    data = {"name": "w", **SHELL, "concurrency_key": "{customer}", "max_concurrency": 2}
    project.upload_code(zip_files({"run.sh": "sleep 1"}), data)
    big = project.queue_many([{"code_name": "w", "payload": '{"customer": "big"}'}] * 30)
    wait_until(lambda: project.task(big[0])["status"] != "queued", what="the backlog to start")
    small = project.wait(project.queue("w", '{"customer": "small"}'), timeout_s=60)
    still_queued = len(project.tasks(code_name="w", status="queued"))
    cancel(project, big)
    # First come first served, it would have started after all 30; it ran with half to go
    # (a count, not a time: it holds however loaded the machine is).
    assert small["status"] == "complete" and still_queued >= 15, still_queued


def test_a_single_task_of_another_project_starts_while_a_backlog_drains(platform):
    """No limit anywhere: the runners' slots are what tasks wait for. Admission keeps no
    more waiting in the runners' queue than they have slots, so projects take turns."""
    admin = {"Authorization": f"OAuth {ADMIN_TOKEN}"}
    wait_until(lambda: requests.get(f"{platform.url}/2/runners", headers=admin).json()["runners"],
               what="the runner's heartbeat")  # fmt: skip
    busy, quiet = platform.new_project("busy"), platform.new_project("quiet")
    for project in (busy, quiet):
        project.upload_code(zip_files({"run.sh": "sleep 1"}), {"name": "w", **SHELL})
    backlog = busy.queue_many([{"code_name": "w"}] * 100)
    wait_until(lambda: busy.task(backlog[0])["status"] != "queued", what="the backlog to start")
    single = quiet.wait(quiet.queue("w"), timeout_s=60)
    still_queued = len(busy.tasks(status="queued", per_page=100))
    cancel(busy, backlog)
    # First come first served, it would have started after all 100 (4 slots, 1 s each).
    assert single["status"] == "complete" and still_queued >= 50, still_queued


def cancel(project, ids: list[str]) -> None:
    """Once a test has made its point, the rest of its backlog is cancelled rather than left
    running under the tests after it (those that have ended refuse, which is fine)."""
    for task_id in ids:
        with contextlib.suppress(ApiError):
            project.cancel(task_id)
