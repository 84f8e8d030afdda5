"""Whoever can write to Redis can at worst queue a task: RQ jobs are JSON, and the runner runs
only Ironworks' task function. Jobs are written here the way an intruder would, with RQ."""

from __future__ import annotations

import pickle
import uuid
import zlib
from pathlib import Path

import pytest
import requests
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import DefaultSerializer, JSONSerializer

from tests.harness import wait_until


@pytest.fixture
def runner_only(fresh_platform):
    fresh_platform.start("runner", "runner", "--concurrency", "1")
    wait_until(lambda: _runner_listening(fresh_platform), what="the runner's worker")
    return fresh_platform


def _runner_listening(platform) -> bool:
    assert platform.processes["runner"].poll() is None, platform.log_text()[-2000:]
    try:
        return requests.get(f"{platform.health_urls['runner']}/readyz", timeout=1).ok
    except (requests.ConnectionError, requests.Timeout):
        return False


def hostile_job(redis_url: str, serializer, marker: Path, **options) -> Job:
    queue = Queue("default", connection=Redis.from_url(redis_url), serializer=serializer)
    return queue.enqueue_call("os.system", args=(f"touch {marker}",), **options)


def ended(job: Job) -> bool:
    try:
        return job.get_status(refresh=True) in (JobStatus.FAILED, JobStatus.FINISHED)
    except Exception:
        return True


@pytest.mark.parametrize("serializer", [JSONSerializer, DefaultSerializer], ids=["json", "pickle"])
def test_a_job_naming_another_function_never_runs_it(runner_only, tmp_path, serializer):
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    job = hostile_job(runner_only.settings.redis_url, serializer, marker)
    wait_until(lambda: ended(job), timeout_s=30, what="the runner to take the job")
    assert not marker.exists()
    assert runner_only.processes["runner"].poll() is None  # and it goes on serving


def test_a_pickled_payload_is_never_unpickled(runner_only, tmp_path):
    """Pickle runs code while it loads: a job whose data is a pickle must not be loaded."""
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"

    class Exploit:
        def __reduce__(self):
            import os

            return os.system, (f"touch {marker}",)

    connection = Redis.from_url(runner_only.settings.redis_url)
    job = hostile_job(runner_only.settings.redis_url, JSONSerializer, marker)
    connection.hset(job.key, "data", zlib.compress(pickle.dumps(Exploit())))  # as RQ stores it
    wait_until(lambda: ended(job), timeout_s=30, what="the runner to take the job")
    assert not marker.exists()
