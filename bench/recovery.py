"""What each fault costs, measured (docs/operations.md's table): a runner killed, a role of
`ironworks dev` killed, Redis's process killed and restarted, Redis's host lost under
Sentinel. Each beside the floor that no platform could beat in the same run: the lease that
must run out, a role's own cold start, Redis's own restart, Sentinel's own failover."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import requests
from redis import Redis, RedisError
from redis.sentinel import Sentinel

from bench.harness import Row, _process_table, platform, upload_noop
from ironworks.cli.dev import free_port
from ironworks.client import ApiError, Client
from ironworks.redisconn import SentinelUrl, connect

ADMIN = "bench-admin"
LEASE_TTL_S = 15.0  # the platform's default, which the runner rows are measured with
TERMINAL = {"complete", "error", "cancelled", "killed", "timeout"}


class RedisSet:
    """redis-server processes of one run (data nodes, sentinels), each on a free port."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.processes, self.args = folder, {}, {}

    def start(self, name: str, *args: str, port: int | None = None) -> int:
        port = port or free_port()
        (self.folder / name).mkdir(exist_ok=True)
        self.args[name] = [shutil.which("redis-server"), *args, "--port", str(port),
                           "--bind", "127.0.0.1", "--dir", str(self.folder / name)]  # fmt: skip
        self.processes[name] = subprocess.Popen(
            self.args[name], stdout=subprocess.DEVNULL, start_new_session=True
        )
        until(lambda: _pings(port), f"{name} to answer")
        return port

    def restart(self, name: str) -> None:
        self.processes[name] = subprocess.Popen(
            self.args[name], stdout=subprocess.DEVNULL, start_new_session=True
        )

    def sentinel(self, name: str, service: str, master_port: int) -> int:
        config = self.folder / f"{name}.conf"
        config.write_text(
            f"sentinel monitor {service} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {service} 1000\n"
            f"sentinel failover-timeout {service} 10000\n"
        )
        return self.start(name, str(config), "--sentinel")

    def watched(self, service: str = "iw", replicas: int = 2) -> str:
        """A master, `replicas` replicas and three sentinels; returns the Sentinel URL."""
        master = self.start("master", "--save", "")
        for n in range(replicas):
            self.start(f"replica-{n + 1}", "--save", "", "--replicaof", "127.0.0.1", str(master))
        sentinels = [self.sentinel(f"sentinel-{n}", service, master) for n in (1, 2, 3)]
        url = f"redis+sentinel://{','.join(f'127.0.0.1:{p}' for p in sentinels)}/{service}/0"
        client = connect(url)
        until(lambda: online_replicas(client) == replicas, "the replicas to be in sync")
        return url

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()


def online_replicas(client: Redis) -> int:
    """Replicas done with their first sync (connected ones may still be loading)."""
    info = client.info("replication")
    return sum(1 for k, v in info.items() if k.startswith("slave") and v["state"] == "online")


def _pings(port: int) -> bool:
    try:
        return bool(Redis(port=port, socket_timeout=1).ping())
    except RedisError:  # not listening yet, or loading its file
        return False


def until(predicate: Callable[[], object], what: str, timeout_s: float = 120) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class Roles:
    """The platform as separate processes on one Redis: API, scheduler, named runners."""

    def __init__(self, redis_url: str, work: Path, **settings: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("IRONWORKS_")}
        base.pop("REDIS_URL", None)
        self.env = base | {
            "IRONWORKS_REDIS_URL": redis_url, "IRONWORKS_ADMIN_TOKEN": ADMIN,
            "IRONWORKS_DATA_DIR": str(work), "IRONWORKS_API_BIND": self.url[7:],
            "IRONWORKS_API_WORKERS": "2", "IRONWORKS_SCHEDULER_IDLE_WAIT_S": "0.1",
            **{f"IRONWORKS_{k.upper()}": v for k, v in settings.items()},
        }  # fmt: skip
        self.log = open(work / "platform.log", "a")  # closed by stop()
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, **env: str) -> None:
        role = name.split("-")[0]
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", role, *args],
            env=self.env | {"IRONWORKS_SCHEDULER_METRICS_BIND": "", "IRONWORKS_RUNNER_ID": name,
                            "IRONWORKS_RUNNER_METRICS_BIND": f"127.0.0.1:{free_port()}", **env},
            stdout=self.log, stderr=self.log, start_new_session=True,
        )  # fmt: skip

    def up(self) -> Client:
        until(lambda: _answers(self.url), "the API")
        admin = Client(self.url, ADMIN)
        created = admin.create_project(f"recovery-{time.time_ns()}")
        return Client(self.url, created["token"], created["id"], timeout_s=300)

    def kill(self, name: str) -> None:
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes.pop(name).wait()

    def stop(self) -> None:
        for process in self.processes.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).ok
    except (requests.ConnectionError, requests.Timeout):
        return False


def _iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _all_final(project: Client, ids: list[str]) -> bool:
    """Every task ended, and every task killed with a retry left has its retry ended."""
    tasks = project.tasks(per_page=100)
    by_retry_of = {t["retry_of"]: t for t in tasks if t["retry_of"]}
    for task_id in ids:
        task = project.task(task_id)
        while task["id"] in by_retry_of:
            task = by_retry_of[task["id"]]
        if task["status"] not in TERMINAL:
            return False
    return True


def runner_lost(redis_url: str, work: Path) -> list[Row]:
    """Two runners of 4 slots, 24 tasks of 4 s with a retry; runner A killed mid-way (its
    tasks running, and one taken but not started: the failpoint holds it there)."""
    roles = Roles(redis_url, work)
    try:
        roles.start("api")
        roles.start("scheduler")
        roles.start("runner-a", "--concurrency", "4")
        project = roles.up()
        upload_noop(project, "work", "sleep 4", retries=1)
        ids = project.queue_many([{"code_name": "work"}] * 4)  # runner A alone takes these
        until(lambda: all(project.task(i)["status"] == "running" for i in ids), "A busy")
        roles.start("runner-b", "--concurrency", "4")
        ids += project.queue_many([{"code_name": "work"}] * 20)
        until(lambda: sum(project.task(i)["runner"] == "runner-b" for i in ids) >= 4, "B busy")
        lost = [i for i in ids if project.task(i)["runner"] == "runner-a"]
        roles.kill("runner-a")
        killed_at = time.time()
        until(lambda: _all_final(project, ids), "every task to end", timeout_s=300)
        all_ended_s = time.time() - killed_at
        settled_s = max(_iso(project.task(i)["end_time"]) for i in lost) - killed_at
        retries = [t for t in project.tasks(per_page=100) if t["retry_of"] in lost]
        rerun_s = max(_iso(t["start_time"]) for t in retries) - killed_at

        roles.start("runner-c", "--concurrency", "1", IWTEST_FAILPOINT="hold-after-take")
        roles.kill("runner-b")
        taken = project.queue("work")
        until(lambda: project.task(taken)["admitted_at"], "the take", timeout_s=60)
        time.sleep(0.5)  # the job is runner C's: its failpoint holds it, taken, unstarted
        roles.kill("runner-c")
        killed_at = time.time()
        roles.start("runner-d", "--concurrency", "2")
        task = project.wait(taken, timeout_s=120)
        taken_s = _iso(task["start_time"]) - killed_at
    finally:
        roles.stop()
    return [
        Row("runner killed: kill -9 to its tasks ended 'runner lost', slots freed", settled_s,
            LEASE_TTL_S, "s", f"2 runners x 4 slots, 24 tasks of 4 s, retries 1, {len(lost)}"
            f" lost; their retries all running {rerun_s:.1f} s and every task ended"
            f" {all_ended_s:.1f} s after the kill (one runner's slots then do all the work);"
            " baseline: the lease TTL"),
        Row("runner killed after taking a task: kill -9 to its start elsewhere", taken_s,
            LEASE_TTL_S, "s", "failpoint hold-after-take; baseline: the lease TTL"),
    ]  # fmt: skip


def role_crash() -> list[Row]:
    """`ironworks dev`: its runner killed, until the new runner's first heartbeat; beside a
    runner's own cold start (spawned to first heartbeat) on the same platform."""
    with platform(runner_slots=2) as running:
        admin = Client(running.url, running.admin_token)
        runner_id = until(lambda: _runner_ids(admin), "the first heartbeat")[0]
        first = _runner_started(admin, runner_id)
        os.kill(_child(running.process.pid, "-m\0runner\0"), signal.SIGKILL)
        killed_at = time.monotonic()
        until(lambda: _runner_started(admin, runner_id) not in (None, first), "a new runner", 60)
        back_s = time.monotonic() - killed_at
        # redis-server shows itself as "redis-server 127.0.0.1:PORT"
        redis_title = _cmdline(_child(running.process.pid, "redis-server"))
        redis_port = re.search(r"127\.0\.0\.1:(\d+)", redis_title)[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("IRONWORKS_")} | {
            "IRONWORKS_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "IRONWORKS_DATA_DIR": str(running.data_dir), "IRONWORKS_RUNNER_ID": "cold",
            "IRONWORKS_RUNNER_METRICS_BIND": "",
        }  # fmt: skip
        started = time.monotonic()
        cold = subprocess.Popen([sys.executable, "-m", "runner", "--concurrency", "1"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            until(lambda: _runner_started(admin, "cold"), "the cold runner", 60)
            cold_s = time.monotonic() - started
        finally:
            cold.terminate()
            cold.wait(60)
    return [
        Row(
            "ironworks dev, runner killed: to the new runner's heartbeat",
            back_s,
            cold_s,
            "s",
            "restarted after a 0.5 s backoff; baseline: a runner's own cold start",
        ),
    ]


def _runners(admin: Client) -> list[dict]:
    headers = {"Authorization": f"OAuth {admin.token}"}
    return requests.get(f"{admin.url}/2/runners", headers=headers, timeout=10).json()["runners"]


def _runner_ids(admin: Client) -> list[str]:
    return [r["id"] for r in _runners(admin)]


def _runner_started(admin: Client, runner_id: str) -> str | None:
    """When the runner of that id last started, as its heartbeat says (None: none)."""
    return next((r["started_at"] for r in _runners(admin) if r["id"] == runner_id), None)


def _child(parent: int, marker: str) -> int:
    """The process of `parent` whose command line contains `marker`."""
    for pid, (ppid, cmdline) in _process_table().items():
        if ppid == parent and marker in cmdline:
            return pid
    raise RuntimeError(f"no child of {parent} runs {marker!r}")


def _cmdline(pid: int) -> str:
    return _process_table()[pid][1]


class Stream(threading.Thread):
    """Queues tasks one after another, recording each answer's time and outcome."""

    def __init__(self, project: Client) -> None:
        super().__init__(daemon=True)
        self.project, self.accepted, self.refused = project, [], []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.accepted.append((time.monotonic(), self.project.queue("work")))
            except (ApiError, OSError):
                self.refused.append(time.monotonic())
                time.sleep(0.05)

    def outage_s(self, since: float) -> float:
        """From `since` to the first task accepted after the last refusal."""
        last_refusal = max([since, *self.refused])
        return next(t for t, _ in self.accepted if t > last_refusal) - since

    def finish(self) -> tuple[list[str], int]:
        self.stop.set()
        self.join()
        return [i for _, i in self.accepted], len(self.refused)


def _under_stream(roles: Roles) -> tuple[Client, Stream]:
    """API, scheduler and a runner of 4 slots, and a client queueing no-op tasks one after
    another, 50 of them accepted already."""
    roles.start("api")
    roles.start("scheduler")
    roles.start("runner", "--concurrency", "4")
    project = roles.up()
    upload_noop(project, "work", "true")
    stream = Stream(project)
    stream.start()
    until(lambda: len(stream.accepted) >= 50, "tasks accepted before the fault")
    return project, stream


def _lost(project: Client, ids: list[str]) -> int:
    lost = 0
    for task_id in ids:
        try:
            project.task(task_id)
        except ApiError:
            lost += 1
    return lost


def redis_process(work: Path) -> list[Row]:
    """Redis (AOF, fsync every second) killed with -9 under a stream of POSTs and started
    again at once; beside Redis's own downtime (kill to PING answered)."""
    nodes = RedisSet(work)
    port = nodes.start("redis", "--appendonly", "yes", "--save", "")
    roles = Roles(f"redis://127.0.0.1:{port}/0", work)
    try:
        project, stream = _under_stream(roles)
        nodes.kill("redis")
        killed_at = time.monotonic()
        nodes.restart("redis")
        until(lambda: _pings(port), "Redis again")
        redis_down_s = time.monotonic() - killed_at
        until(lambda: stream.accepted[-1][0] > killed_at + 1, "tasks accepted again")
        time.sleep(1)
        outage_s = stream.outage_s(killed_at)
        ids, refused = stream.finish()
        lost = _lost(project, ids)
    finally:
        roles.stop()
        nodes.stop()
    return [
        Row("Redis process killed and restarted: POSTs refused for", outage_s, redis_down_s,
            "s", f"AOF everysec; {len(ids)} acknowledged, {refused} refused (503),"
            f" {lost} acknowledged lost; baseline: Redis's own restart"),
    ]  # fmt: skip


def redis_host(work: Path) -> list[Row]:
    """A master, two replicas, three sentinels; the master killed with -9 under a stream of
    POSTs with IRONWORKS_REDIS_MIN_REPLICAS=1; beside Sentinel's own failover (kill to the
    sentinels naming a new master)."""
    nodes = RedisSet(work)
    url = nodes.watched()
    roles = Roles(url, work, redis_min_replicas="1")
    sentinel = Sentinel(SentinelUrl.parse(url).sentinels, socket_timeout=1)
    try:
        project, stream = _under_stream(roles)
        old = sentinel.discover_master("iw")
        nodes.kill("master")
        killed_at = time.monotonic()
        until(lambda: _new_master(sentinel, old), "Sentinel to fail over")
        failover_s = time.monotonic() - killed_at
        until(lambda: stream.accepted[-1][0] > killed_at + failover_s + 1, "accepted again")
        time.sleep(1)
        outage_s = stream.outage_s(killed_at)
        ids, refused = stream.finish()
        lost = _lost(project, ids)
        unended = sum(project.wait(i, timeout_s=120)["status"] not in TERMINAL for i in ids)
    finally:
        roles.stop()
        nodes.stop()
    return [
        Row("Redis host lost (Sentinel): POSTs refused for", outage_s, failover_s, "s",
            f"min replicas 1; {len(ids)} acknowledged, {refused} refused, {lost} acknowledged"
            f" lost, {unended} not ended; baseline: Sentinel's own failover"),
    ]  # fmt: skip


def _new_master(sentinel: Sentinel, old: tuple[str, int]) -> bool:
    try:
        return sentinel.discover_master("iw") != old
    except RedisError:  # no master known during the failover
        return False


def recovery(scale) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="ironworks-recovery-"))
    for name in ("plain", "runner", "redis", "host"):
        (work / name).mkdir()
    nodes = RedisSet(work / "plain")
    try:
        rows = runner_lost(f"redis://127.0.0.1:{nodes.start('redis', '--save', '')}/0",
                           work / "runner")  # fmt: skip
    finally:
        nodes.stop()
    return [*rows, *role_crash(), *redis_process(work / "redis"), *redis_host(work / "host")]


def redis_faults(scale) -> list[Row]:
    """Only the Redis cases of `recovery` (what a change to the write path must not lose)."""
    work = Path(tempfile.mkdtemp(prefix="ironworks-redis-faults-"))
    for name in ("redis", "host"):
        (work / name).mkdir()
    return [*redis_process(work / "redis"), *redis_host(work / "host")]
