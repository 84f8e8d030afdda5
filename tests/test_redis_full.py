"""A full Redis (maxmemory reached, noeviction): the API says so with a 503, readiness
reports it, and every task accepted before still ends as it should once memory is freed."""

from __future__ import annotations

import shutil
import subprocess

import docker
import pytest
import redis
import requests

from runner.spec import LABEL_TASK
from tests.harness import Platform, free_port, wait_until, zip_files

BUDGET = 32 * 1024**2


@pytest.fixture
def small_redis(tmp_path):
    """A Redis of its own, so that filling it harms no other test."""
    port = free_port()
    process = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(tmp_path), "--maxmemory", str(BUDGET), "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}"
    wait_until(lambda: _pings(url), what="the small Redis to start")
    yield url
    process.terminate()
    process.wait()


def _pings(url: str) -> bool:
    try:
        return redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        return False


def refused_writes(url: str) -> int:
    """How many commands Redis has refused for want of memory, by its own count."""
    return redis.Redis.from_url(url).info("errorstats").get("errorstat_OOM", {}).get("count", 0)


def set_budget(url: str, max_bytes: int) -> None:
    redis.Redis.from_url(url).config_set("maxmemory", max_bytes)


def test_a_full_redis_is_a_503_and_loses_no_accepted_task(small_redis, tmp_path):
    # Renewing a lease is a write too: an outage longer than the lease ends the task as its
    # runner lost (as designed), so this one is given a lease that outlasts the outage.
    platform = Platform(f"{small_redis}/0", tmp_path, lease_ttl_s="120")
    try:
        platform.start_all(runner_concurrency=2)
        project = platform.new_project("full")
        script = "sleep 2; echo done"
        project.upload_code(zip_files({"run.sh": script}), {"name": "w", "command": "sh run.sh"})
        accepted = project.queue("w")
        engine = docker.from_env()
        its_container = {"label": f"{LABEL_TASK}={accepted}"}  # listed while it runs
        wait_until(lambda: engine.containers.list(filters=its_container), what="it to start")

        set_budget(small_redis, 1024**2)  # below what it holds: full, as after a flood
        refused = requests.post(
            f"{platform.url}/2/projects/{project.project_id}/tasks",
            json={"tasks": [{"code_name": "w"}]},
            headers={"Authorization": f"OAuth {project.token}"},
            timeout=10,
        )
        assert refused.status_code == 503 and "out of storage" in refused.json()["msg"]
        ready = requests.get(f"{platform.url}/readyz", timeout=10)
        assert ready.status_code == 503 and "Redis is full" in ready.json()["msg"]
        # The task's container ends while Redis refuses the runner's writes...
        wait_until(lambda: not engine.containers.list(filters=its_container), timeout_s=30,
                   what="the accepted task's container to exit")  # fmt: skip
        # ...the runner tries to record the end (it retries each second) and is refused...
        refused_then = refused_writes(small_redis)
        wait_until(lambda: refused_writes(small_redis) > refused_then + 3, what="refusals")
        assert project.task(accepted)["status"] == "running"
        set_budget(small_redis, BUDGET)

        # ...and its end is recorded once Redis takes writes again; nothing crashed meanwhile.
        task = project.wait(accepted, timeout_s=30)
        assert task["status"] == "complete" and project.log(accepted) == "done\n"
        assert all(p.poll() is None for p in platform.processes.values())
        assert project.wait(project.queue("w"), timeout_s=60)["status"] == "complete"
        assert (
            requests.get(f"{platform.url}/readyz", timeout=10).json()["redis_memory"]["max_bytes"]
            == BUDGET
        )
    finally:
        platform.stop()
