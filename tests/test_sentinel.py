"""Losing the Redis host: a master, two replicas and three sentinels on loopback; the master
is killed with SIGKILL while a client queues tasks. The platform follows the sentinels to the
new master, accepts again within 15 s, and, acknowledging only what a replica has
(IRONWORKS_REDIS_MIN_REPLICAS=1), loses nothing it acknowledged."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest
import redis
from redis.sentinel import Sentinel

from bench.recovery import RedisSet, online_replicas
from ironworks.client import ApiError
from ironworks.errors import IronworksError
from ironworks.redisconn import SentinelUrl
from ironworks.store import Store
from ironworks.store.keys import Keys
from tests.harness import Platform, wait_until, zip_files

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
SERVICE = "iw"


@pytest.fixture
def watched_redis(tmp_path):
    nodes = RedisSet(tmp_path)
    yield nodes, nodes.watched(SERVICE, replicas=2)
    nodes.stop()


def test_the_platform_survives_losing_its_redis_master_and_loses_nothing_acknowledged(
    watched_redis, tmp_path
):
    nodes, url = watched_redis
    # A runner records a task's end after an outage only within its lease; past it the task
    # is reaped as "runner lost", by design (docs/architecture.md). This test accepts a
    # failover of up to 15 s, as long as the default lease: in one CI run on a loaded machine
    # two tasks running through the failover were reaped so. Leases twice that long give the
    # runners the time the test gives the API.
    platform = Platform(url, tmp_path, redis_min_replicas="1", lease_ttl_s="30")
    try:
        platform.start_all(runner_concurrency=4)
        project = platform.new_project("failover")
        project.upload_code(zip_files({"run.sh": "echo ok"}),
                            {"name": "w", "stack": "sh", "command": "sh run.sh"})  # fmt: skip
        accepted: list[tuple[float, str]] = []
        refused: list[float] = []
        stop = threading.Event()

        def queue_steadily() -> None:
            while not stop.is_set():
                try:
                    accepted.append((time.monotonic(), project.queue("w")))
                except (ApiError, OSError):
                    refused.append(time.monotonic())
                    time.sleep(0.05)

        client = threading.Thread(target=queue_steadily)
        client.start()
        try:
            wait_until(lambda: len(accepted) >= 20, what="tasks accepted before the loss")
            nodes.kill("master")
            killed_at = time.monotonic()
            wait_until(lambda: accepted[-1][0] > killed_at + 0.5 and len(refused) > 0,
                       timeout_s=60, what="tasks accepted after the failover")  # fmt: skip
            back_at = next(t for t, _ in accepted if t > killed_at and t > max(refused))
            time.sleep(1)
        finally:
            stop.set()
            client.join()
        assert back_at - killed_at <= 15, f"accepting again {back_at - killed_at:.1f} s after"
        # Every role rode the failover out (a scheduler that stopped would leave every task
        # after it queued: the waits below would say only that).
        stopped = [name for name, p in platform.processes.items() if p.poll() is not None]
        assert stopped == [], platform.log_text()[-3000:]

        ids = [task_id for _, task_id in accepted]
        ended = [_waited(platform, project, task_id) for task_id in ids]  # 404 if lost
        not_complete = [
            (t["id"], t["status"], t["msg"]) for t in ended if t["status"] != "complete"
        ]
        assert not_complete == [], f"of {len(ids)} acknowledged"
        parsed = SentinelUrl.parse(url)
        master = Sentinel(parsed.sentinels).discover_master(SERVICE)
        assert master[1] != 0 and nodes.processes["master"].poll() is not None
        print(
            f"{len(ids)} acknowledged, {len(refused)} refused meanwhile,"
            f" accepting again {back_at - killed_at:.1f} s after the kill"
        )
    finally:
        platform.stop()


def _waited(platform: Platform, project, task_id: str) -> dict:
    """The task once ended; if it does not end, what held it, in the failure's message."""
    try:
        return project.wait(task_id, timeout_s=120)
    except IronworksError as e:
        raise AssertionError(f"{e}\n{_where_it_stands(platform, task_id)}") from e


def _where_it_stands(platform: Platform, task_id: str) -> str:
    """A stuck task's record, lease and job, the runners' beats, the scheduler's bound and the
    engine's containers: what to read when a task stays queued after the failover."""
    store = Store.connect(platform.settings)
    k, r = store.keys, store.redis
    task = r.hgetall(k.task(task_id))
    job_key = f"rq:job:{task_id}-{task.get('attempt')}"
    fields = ("status", "enqueued_at", "started_at", "worker_name", "origin")
    job = dict(zip(fields, r.hmget(job_key, fields), strict=True))
    queues = {q: r.lpos(q, job_key.removeprefix("rq:job:")) for q in r.smembers("rq:queues")}
    ours = f"label=io.ironworks.instance={platform.instance_id}"
    containers = subprocess.run(["docker", "ps", "-a", "--filter", ours, "--format",
                                 "{{.Names}} {{.Status}} {{.Labels}}"],
                                capture_output=True, text=True).stdout  # fmt: skip
    return "\n".join([
        f"task: {task}",
        f"lease: {r.zscore(k.leases(), task_id)} (now {time.time():.1f})",
        f"dispatched: {r.smembers(k.dispatched(task.get('cluster', 'default')))}",
        f"job: {job}, in queues: {queues}",
        f"runners: {store.runners.list()}",
        f"containers: {containers}",
        "log (its requests left out):",
        *[line for line in platform.log_text().splitlines() if 'HTTP/1.1"' not in line][-60:],
    ])  # fmt: skip


@pytest.mark.timeout(120)
def test_a_write_no_replica_has_is_refused_so_a_failover_loses_nothing_acknowledged(tmp_path):
    """The replica is stopped (SIGSTOP) when a task is queued, then the master's host is lost
    and the replica takes over: the task it never got must not have been acknowledged."""
    nodes = RedisSet(tmp_path)
    try:
        master = nodes.start("master", "--save", "")
        replica = nodes.start("replica", "--save", "", "--replicaof", "127.0.0.1", str(master))
        primary = redis.Redis(port=master)
        wait_until(lambda: online_replicas(primary) == 1, what="the replica to be in sync")
        platform = Platform(f"redis://127.0.0.1:{master}/0", tmp_path,
                            redis_min_replicas="1", redis_replica_wait_ms="300")  # fmt: skip
        try:
            platform.start("api")
            platform.wait_healthy()
            project = platform.new_project("durable")
            project.upload_code(zip_files({"run.sh": "echo ok"}),
                                {"name": "w", "stack": "sh", "command": "sh run.sh"})  # fmt: skip
            kept = project.queue("w")
            nodes.processes["replica"].send_signal(signal.SIGSTOP)
            with pytest.raises(ApiError) as refused:
                project.queue("w")
            assert refused.value.status == 503 and "replica" in refused.value.msg
        finally:
            platform.stop()
        nodes.kill("master")
        nodes.processes["replica"].send_signal(signal.SIGCONT)
        promoted = redis.Redis(port=replica, decode_responses=True)
        promoted.replicaof("NO", "ONE")
        assert promoted.hget(Keys().task(kept), "status") == "queued"
    finally:
        nodes.processes.get("replica") and nodes.processes["replica"].send_signal(signal.SIGCONT)
        nodes.stop()
