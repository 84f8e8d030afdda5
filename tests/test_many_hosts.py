"""The platform image on many "hosts": Redis, the API and a scheduler as containers on a
private Docker network, and two runner containers, each with its own Docker access (the
engine's socket) and host networking, as a runner DaemonSet has (its firewall rules for the
task network must land in the host's namespace). One runner is killed mid-way."""

from __future__ import annotations

import collections
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import docker
import pytest
import requests

from ironworks.client import Client
from ironworks.model import Task, TaskStatus
from ironworks.settings import Settings
from ironworks.store import Store
from runner.spec import LABEL_INSTANCE
from tests.harness import wait_until, zip_files
from tests.helpers import running_by_project

IMAGE = "ironworks/platform:latest"
ADMIN = "many-hosts-admin-token"
LIMITS = {"p1": 1, "p2": 2, "p3": 3, "p4": None}
# Enough that host-a's kill lands mid-way with every limit busy (p1 alone takes 20 s).
TASKS_PER_PROJECT = 20


class Cluster:
    """The containers of one installation; removed, with their network, by close()."""

    def __init__(self, engine: docker.DockerClient, data_root: Path) -> None:
        self.engine, self.data_root = engine, data_root
        self.name = f"iwtest-{uuid.uuid4().hex[:8]}"
        self.network = engine.networks.create(self.name, driver="bridge")
        self.containers: dict[str, docker.models.containers.Container] = {}

    def run(self, role: str, command: list[str], **options) -> docker.models.containers.Container:
        container = self.engine.containers.run(
            IMAGE, command, name=f"{self.name}-{role}", detach=True, **options
        )
        self.containers[role] = container
        return container

    def on_network(self, role: str, command: list[str], port: int | None = None, **options):
        ports = {f"{port}/tcp": ("127.0.0.1", None)} if port else {}
        container = self.run(role, command, network=self.name, ports=ports, **options)
        self.network.reload()
        container.reload()
        if port is None:
            return None
        return int(container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"])

    def close(self) -> None:
        for container in self.containers.values():
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
        self.network.remove()


@pytest.fixture
def cluster(tmp_path):
    # Runners mount each task's tmpfs under their data directory, and the engine must see
    # those mounts: the directory is a shared mount, bound into runners `rshared`.
    subprocess.run(["mount", "--bind", str(tmp_path), str(tmp_path)], check=True)
    subprocess.run(["mount", "--make-rshared", str(tmp_path)], check=True)
    engine = docker.from_env()
    cluster = Cluster(engine, tmp_path)
    yield cluster
    cluster.close()
    engine.close()
    subprocess.run(["umount", "-R", str(tmp_path)], check=True)
    shutil.rmtree(tmp_path, ignore_errors=True)


def start_runner(cluster: Cluster, name: str, redis_port: int, api_port: int) -> None:
    # The runner bind-mounts task directories into task containers by host path, so its data
    # directory has the same path inside and outside.
    data_dir = cluster.data_root / name
    data_dir.mkdir()
    cluster.run(
        name,
        ["runner", "--concurrency", "4"],
        user="0",
        network_mode="host",
        cap_add=["NET_ADMIN", "SYS_ADMIN"],
        volumes={
            "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
            str(data_dir): {"bind": str(data_dir), "mode": "rw,rshared"},
        },
        environment={
            "IRONWORKS_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "IRONWORKS_ADMIN_TOKEN": ADMIN,
            "IRONWORKS_API_URL": f"http://127.0.0.1:{api_port}",
            "IRONWORKS_DATA_DIR": str(data_dir),
            "IRONWORKS_RUNNER_ID": f"{cluster.name}-{name}",
            "IRONWORKS_RUNNER_METRICS_BIND": "",
        },
    )


class LimitWatch(threading.Thread):
    """Samples the task containers running on the engine, per project, until stopped; keeps
    the peaks. Both runner hosts share this engine, so one sample sees every host."""

    def __init__(self, engine: docker.DockerClient, instance_id: str) -> None:
        super().__init__(daemon=True)
        self.engine, self.instance_id = engine, instance_id
        self.peaks: collections.Counter[str] = collections.Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for project_id, running in running_by_project(self.engine, self.instance_id).items():
                self.peaks[project_id] = max(self.peaks[project_id], running)
            self.stop.wait(0.1)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_runner_hosts_one_killed_mid_way_every_task_finishes(cluster):
    redis_command = [
        "redis-server", "--bind", "0.0.0.0", "--protected-mode", "no",
        "--dir", "/var/lib/ironworks", "--appendonly", "yes", "--maxmemory-policy", "noeviction",
    ]  # fmt: skip
    redis_port = cluster.on_network("redis", redis_command, port=6379, entrypoint=[])
    # On the private network the API and the scheduler reach Redis by its container name.
    env = {
        "IRONWORKS_REDIS_URL": f"redis://{cluster.name}-redis:6379/0",
        "IRONWORKS_ADMIN_TOKEN": ADMIN,
    }
    api_env = env | {"IRONWORKS_API_BIND": "0.0.0.0:8080"}
    api_port = cluster.on_network("api", ["api"], port=8080, environment=api_env)
    cluster.on_network("scheduler", ["scheduler"], environment=env)
    api_url = f"http://127.0.0.1:{api_port}"
    wait_until(lambda: _ready(api_url), timeout_s=60, what="the API container to be ready")
    for name in ("host-a", "host-b"):
        start_runner(cluster, name, redis_port, api_port)

    store = Store.connect(Settings(redis_url=f"redis://127.0.0.1:{redis_port}/0"))
    admin = Client(api_url, ADMIN)
    project_ids = {}
    for name, limit in LIMITS.items():
        created = admin.create_project(name, limit)
        project = Client(api_url, created["token"], created["id"])
        data = {"name": "work", "stack": "sh", "command": "sh run.sh", "retries": 1}
        project.upload_code(zip_files({"run.sh": "sleep 1; echo done"}), data)
        for _ in range(TASKS_PER_PROJECT):
            project.queue("work")
        project_ids[name] = created["id"]
    watch = LimitWatch(cluster.engine, store.instance_id())
    watch.start()

    def tasks() -> list[Task]:
        return [t for pid in project_ids.values() for t in store.tasks.list(pid, limit=1000)]

    runner_a = f"{cluster.name}-host-a"

    def running_on_a() -> list[Task]:
        return [t for t in tasks() if t.status is TaskStatus.RUNNING and t.runner == runner_a]

    total = len(LIMITS) * TASKS_PER_PROJECT
    wait_until(
        lambda: sum(t.status.is_terminal for t in tasks()) >= total // 4 and running_on_a(),
        timeout_s=300, interval_s=0.2, what="a quarter done with tasks running on host-a",
    )  # fmt: skip
    lost = running_on_a()
    cluster.containers["host-a"].kill()
    killed_at = time.monotonic()
    wait_until(
        lambda: all(store.tasks.status(t.id) is not TaskStatus.RUNNING for t in lost),
        timeout_s=30, what="host-a's tasks to be settled",
    )  # fmt: skip
    settled_s = time.monotonic() - killed_at
    wait_until(lambda: _all_done(tasks()), timeout_s=600, interval_s=1, what="every task done")
    watch.stop.set()
    watch.join()

    peaks = {name: watch.peaks[project_ids[name]] for name in LIMITS}
    assert all(peaks[n] <= limit for n, limit in LIMITS.items() if limit), peaks
    assert peaks["p1"] == 1 and peaks["p4"] >= 2, peaks  # the sampler saw them run
    # A task sampled as running may have ended between the sample and the kill; every other
    # one must be settled as lost (a dead runner cannot record a completion).
    settled = [store.tasks.get(task.id) for task in lost]
    outcomes = {(t.status, t.msg) for t in settled}
    assert outcomes <= {(TaskStatus.KILLED, "runner lost"), (TaskStatus.COMPLETE, None)}, outcomes
    assert (TaskStatus.KILLED, "runner lost") in outcomes
    label = {"label": [f"{LABEL_INSTANCE}={store.instance_id()}"]}
    wait_until(lambda: not cluster.engine.api.containers(all=True, filters=label), timeout_s=30,
               what="no task container left")  # fmt: skip
    print(
        f"{len(lost)} tasks lost with host-a, settled {settled_s:.1f} s after the kill;"
        f" peaks {peaks}"
    )


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=2).ok
    except (requests.ConnectionError, requests.Timeout):
        return False


def _all_done(tasks: list[Task]) -> bool:
    """Every queued task complete, or killed by the lost runner and its retry complete."""
    retries = {t.retry_of: t for t in tasks if t.retry_of}
    for task in tasks:
        if task.retry_of:
            continue
        final = retries.get(task.id, task)
        if final.status is not TaskStatus.COMPLETE:
            return False
    return True
