"""Concurrency keys and rate limits on the real platform, with two schedulers admitting at
once: what runs is sampled from the engine (`docker ps`), not from the platform's counters."""

from __future__ import annotations

import collections
import contextlib
import json
import threading
from datetime import datetime

import pytest
import requests

from ironworks.client import ApiError
from runner.spec import LABEL_PROJECT, LABEL_TASK
from tests.harness import ADMIN_TOKEN, Platform, fresh_database, wait_until, zip_files

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
    each group running at once, and when each task's container started (the engine's own time)."""

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
            tasks = [c["Labels"][LABEL_TASK] for c in running]
            groups = collections.Counter(self.group_of.get(t) for t in tasks)
            for group, count in groups.items():
                self.peaks[group] = max(self.peaks[group], count)
            for container in running:
                task_id = container["Labels"][LABEL_TASK]
                if task_id not in self.started:
                    self.started[task_id] = self._start_time(container["Id"])
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
    """Tasks run until cancelled, so what the engine shows at each step does not depend on
    how quickly it starts or ends a container."""
    project = platform.new_project("keys")
    data = {"name": "keyed", **SHELL, "concurrency_key": "{customer}", "max_concurrency_per_key": 2}
    project.upload_code(zip_files({"run.sh": "sleep 120"}), data)
    payloads = [json.dumps({"customer": c}) for c in "aaaabb"]
    ids = project.queue_many([{"code_name": "keyed", "payload": p} for p in payloads])
    a, b = ids[:4], ids[4:]
    sampler = Sampler(engine, project.project_id, dict.fromkeys(a, "a") | dict.fromkeys(b, "b"))
    control = None
    sampler.start()
    try:
        # Four slots: two of a and both of b run.
        wait_until(lambda: len(sampler.started) == 4, what="four tasks running")
        assert sampler.started.keys() == {*a[:2], *b}
        # b's end frees two slots, and a alone could fill them; a task of a third key,
        # queued later, is the control that admission went round with slots free.
        cancel(project, b)
        control = project.queue("keyed", '{"customer": "c"}')
        sampler.group_of[control] = "c"
        wait_until(lambda: control in sampler.started, what="the control to run")
        assert [project.task(i)["admitted_at"] for i in a[2:]] == [None, None]
        # One of a's ends (its process killed: the task ends once its container has, where a
        # cancel frees the slot at once and the container goes a moment later): the next of
        # a takes its place.
        engine.api.kill(engine.api.containers(filters={"label": f"{LABEL_TASK}={a[0]}"})[0]["Id"])
        wait_until(lambda: a[2] in sampler.started, what="the next of a to run")
    finally:
        sampler.stop.set()
        sampler.join()
        cancel(project, [*ids, control] if control else ids)
    assert sampler.peaks["a"] == 2, sampler.peaks  # never 3, and seen at 2


def test_a_rate_limit_holds_under_two_schedulers_and_drops_nothing(platform, engine):
    project = platform.new_project("rates")
    data = {"name": "rated", **SHELL, "rate_limit": {"count": 2, "period_s": 3}}
    project.upload_code(zip_files({"run.sh": "sleep 1"}), data)  # long enough to be seen
    ids = project.queue_many([{"code_name": "rated"}] * 6)
    sampler = Sampler(engine, project.project_id, dict.fromkeys(ids, "rated"))
    ended = sampler.watching(project, ids)
    assert all(t["status"] == "complete" for t in ended)
    # The limit is admission's, on Redis's clock: no three admitted within one window, and
    # six take two windows. With no limit all six go at once; with a 1 s window, 1 s apart.
    admitted = sorted(iso_time(t["admitted_at"]) for t in ended)
    assert all(b - a >= 3 for a, b in zip(admitted, admitted[2:], strict=False)), admitted
    assert admitted[-1] - admitted[0] >= 2 * 3, admitted
    # What really ran: a container per task, none started before its task's admission. The
    # engine only ever delays a start (a code fetched, a loaded host), so its jitter cannot
    # make this fail, and any container started ahead of the limit would.
    assert sampler.started.keys() == set(ids)
    for task in ended:
        assert sampler.started[task["id"]] >= iso_time(task["admitted_at"]), task


def iso_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


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
