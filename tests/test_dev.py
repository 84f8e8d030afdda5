"""`ironworks dev` as a user runs it: a role that dies is started again while the others keep
serving, one that keeps dying stops it with a message, and Ctrl-C (even twice) stops every
process it started and every container its runner started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import requests

from ironworks.client import Client
from runner.spec import LABEL_PROJECT
from tests.harness import free_port, wait_until, zip_files

pytestmark = pytest.mark.timeout(240)


class Dev:
    """`ironworks dev` in a session of its own, with its own Redis, data and config."""

    def __init__(self, tmp_path: Path, slots: int = 1, **env: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.data = tmp_path / "data"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("IRONWORKS_")}
        clean.pop("REDIS_URL", None)
        clean |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "IRONWORKS_WARM_START": "0"}
        self.log = tmp_path / "dev.log"
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ironworks.cli", "dev", "--port", self.url.rsplit(":", 1)[1],
                 "--data-dir", str(self.data), "--concurrency", str(slots)],
                env=clean | env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.seen: set[int] = set()

    def output(self) -> str:
        return self.log.read_text()

    def wait_up(self) -> None:
        wait_until(self.healthy, timeout_s=60, what="ironworks dev to answer")
        wait_until(lambda: {"api", "scheduler", "runner", "redis"} <= self.roles().keys(),
                   what="every role")  # fmt: skip

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).ok
        except (requests.ConnectionError, requests.Timeout):
            return False

    def roles(self) -> dict[str, int]:
        """role -> pid of the processes `ironworks dev` started; remembers every process
        under it (gunicorn's workers too) for `left_running`."""
        table = _process_table()
        roles = {}
        for pid, (ppid, cmdline) in table.items():
            if ppid == self.process.pid:
                role = "redis" if "redis-server" in cmdline[0] else cmdline[2]
                roles[role] = pid
        self.seen |= _descendants(table, self.process.pid)
        return roles

    def left_running(self) -> list[int]:
        table = _process_table()
        return sorted(pid for pid in self.seen if pid in table)

    def project(self, name: str) -> Client:
        admin = Client(self.url, (self.data / "admin_token").read_text().strip())
        created = admin.create_project(name)
        return Client(self.url, created["token"], created["id"])

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)  # Ctrl-C reaches `ironworks dev` alone

    def stop(self) -> None:
        if self.process.poll() is None:
            self.interrupt()
            self.process.wait(180)
        for pid in self.left_running():
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def dev(tmp_path):
    running = Dev(tmp_path)
    yield running
    running.stop()


def upload(project: Client, name: str, script: str) -> None:
    data = {"name": name, "stack": "sh", "command": "sh run.sh"}
    project.upload_code(zip_files({"run.sh": script}), data)


def task_containers(engine, project: Client) -> list[dict]:
    label = f"{LABEL_PROJECT}={project.project_id}"
    return engine.api.containers(all=True, filters={"label": label})


def test_a_runner_that_dies_is_started_again_while_the_api_keeps_serving(dev, engine):
    dev.wait_up()
    project = dev.project("survivor")
    upload(project, "hello", "echo hi")
    runner = dev.roles()["runner"]
    os.kill(runner, signal.SIGKILL)

    def restarted() -> bool:
        assert dev.healthy(), "the API went down with the runner"
        return dev.roles().get("runner") not in (None, runner)

    wait_until(restarted, timeout_s=30, interval_s=0.1, what="a new runner")
    assert "runner exited (status -9)" in dev.output()
    task = project.wait(project.queue("hello"), timeout_s=60)
    assert (task["status"], project.log(task["id"])) == ("complete", "hi\n")

    dev.interrupt()
    assert dev.process.wait(120) == 0
    assert dev.left_running() == []
    assert task_containers(engine, project) == []


def test_a_second_ctrl_c_while_stopping_still_stops_everything(dev, engine):
    dev.wait_up()
    project = dev.project("hurried")
    upload(project, "long", "echo up; sleep 300")
    task_id = project.queue("long")
    wait_until(lambda: project.log(task_id) == "up\n", timeout_s=60, what="the task to run")
    dev.roles()

    dev.interrupt()
    wait_until(lambda: "Stopping" in dev.output(), what="the stop to begin")
    dev.interrupt()  # the runner is draining: it hands the task back at once instead
    dev.process.wait(120)
    assert dev.left_running() == [], "a role outlived the stop"
    assert task_containers(engine, project) == [], "a task container outlived the stop"


@pytest.mark.slow
def test_a_stop_right_after_cancelling_many_tasks_leaves_no_container(tmp_path, engine):
    """What `python -m bench --quick` did: many sleepers cancelled, then the platform stopped
    at once. It left 172 of 200 exited containers on the engine, owned by an installation
    that no longer exists."""
    busy = Dev(tmp_path, slots=120)
    try:
        busy.wait_up()
        project = busy.project("many")
        upload(project, "sleep", "sleep 300")
        ids = project.queue_many([{"code_name": "sleep"}] * 120)
        wait_until(lambda: len(task_containers(engine, project)) == 120, timeout_s=120,
                   what="forty containers")  # fmt: skip
        for task_id in ids:
            project.cancel(task_id)
        busy.roles()
        busy.interrupt()
        assert busy.process.wait(180) == 0
        assert busy.left_running() == []
        assert task_containers(engine, project) == []
    finally:
        busy.stop()


def test_a_role_that_keeps_crashing_stops_dev_with_a_message(tmp_path):
    broken = Dev(tmp_path, DOCKER_HOST="unix:///nonexistent/docker.sock")  # the runner dies
    try:
        wait_until(broken.healthy, timeout_s=60, what="the API, which needs no Docker")
        broken.roles()
        assert broken.process.wait(120) == 1
        assert "runner exited 5 times in a row" in broken.output()
        assert broken.output().count("runner exited (status 1); restarting in") == 4
        assert broken.left_running() == []
    finally:
        broken.stop()


def _process_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, command line) of every live process (zombies are not alive)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            table[int(stat.parent.name)] = (int(fields[1]), cmdline.split("\0") + ["", "", ""])
    return table


def _descendants(table: dict[int, tuple[int, list[str]]], root: int) -> set[int]:
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def test_devs_redis_keeps_its_writes_in_the_aof_without_snapshots(dev):
    """The append-only file keeps every acknowledged write; Redis's default RDB snapshots on
    top (a fork and a full dump each minute under load) took a core while the API wrote: a
    100,000-item batch took 12 s instead of 7.5 in bench/frontdoor.py."""
    dev.wait_up()
    title = Path(f"/proc/{dev.roles()['redis']}/cmdline").read_text()  # "redis-server HOST:PORT"
    port = int(title.split()[-1].rsplit(":", 1)[1].rstrip("\0"))
    client = redis.Redis(port=port, decode_responses=True)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("save") == {"save": ""}
