"""Batches on the whole platform: real containers, failures, cancel, a crash mid-count."""

from __future__ import annotations

import collections
import time

import docker
import pytest

from ironworks.client import Batch, BatchFailed
from ironworks.model import TaskStatus
from ironworks.store import Store
from ironworks.store.tasks import TaskFilter
from runner.spec import LABEL_PROJECT
from tests.harness import wait_until, zip_files

ECHO_OR_FAIL = """
read -r p < "$PAYLOAD_FILE"
case "$p" in bad*) echo "cannot use $p" >&2; exit 3;; esac
printf '"%s!"' "$p" > "$RESULT_FILE"
"""
KEEP_PAYLOAD = 'cat "$PAYLOAD_FILE" > "$RESULT_FILE"'


def upload_sh(project, name: str, script: str) -> None:
    project.upload_code(
        zip_files({"run.sh": script}), {"name": name, "stack": "sh", "command": "sh run.sh"}
    )


def test_failed_items_say_why_and_the_reduce_runs_on_failure_when_asked(platform):
    project = platform.new_project("partial")
    upload_sh(project, "echo", ECHO_OR_FAIL)
    upload_sh(project, "keep", KEEP_PAYLOAD)

    strict = Batch("echo", ["a", "bad1", "c"], reduce="keep", client=project)
    with pytest.raises(BatchFailed) as failure:
        strict.run(timeout_s=120)
    assert [(f["index"], f["status"], f["exit_code"]) for f in failure.value.failed] == [
        (1, "error", 3)
    ]
    assert "cannot use bad1" in failure.value.failed[0]["log_tail"]
    assert "cannot use bad1" in str(failure.value)
    assert project.batch(strict.id)["reduce"]["task_id"] is None

    lenient = Batch(
        "echo", ["a", "bad2", "c"], reduce="keep", reduce_on_failure=True, client=project
    )
    # Asked to reduce despite failures: the batch completes with the reduce's result,
    # and still counts the failed item.
    assert lenient.run(timeout_s=120) == ["a!", None, "c!"]
    batch = project.batch(lenient.id)
    assert (batch["status"], batch["failed"]) == ("complete", 1)
    assert project.task(batch["reduce"]["task_id"])["status"] == "complete"


def test_cancelling_a_batch_stops_its_running_tasks_and_leaves_no_container(platform):
    project = platform.new_project("cancel")
    upload_sh(project, "sleepy", "sleep 60")
    batch_id = project.create_batch("sleepy", ["1", "2", "3", "4"], max_concurrency=2)["id"]
    wait_until(
        lambda: project.batch(batch_id)["counts"].get("running") == 2,
        timeout_s=60,
        what="2 running",
    )

    assert project.cancel_batch(batch_id)["batch"]["status"] == "cancelled"
    statuses = [item["status"] for item in project.batch_results(batch_id)]
    assert statuses == ["cancelled"] * 4
    engine = docker.from_env()
    try:
        label = {"label": [f"{LABEL_PROJECT}={project.project_id}"]}
        wait_until(
            lambda: not engine.api.containers(all=True, filters=label),
            what="no container",
        )
    finally:
        engine.close()
    wait_until(
        lambda: project.batch(batch_id)["counts"] == {"cancelled": 4}, timeout_s=10, what="counts"
    )


def run_admitted(store: Store, project_id: str, outcome) -> int:
    """Play a runner at the store level (no containers: this is about counting): start and
    end every admitted task. Returns how many it ran."""
    queued = store.tasks.list(
        project_id, TaskFilter(statuses=frozenset({TaskStatus.QUEUED})), limit=2000
    )
    ran = 0
    for task in queued:
        if task.attempt and store.tasks.start(task, task.attempt, "fake", time.time(), 60):
            store.tasks.finish(task, task.attempt, outcome(task), now=time.time(), exit_code=0)
            ran += 1
    return ran


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_10000_items_are_counted_exactly_across_a_scheduler_crash(fresh_platform):
    platform = fresh_platform  # no runner: a store-level one below plays it
    platform.start("api")
    platform.start("scheduler")
    platform.wait_healthy()
    project = platform.new_project("big")
    project.upload_code(
        zip_files({"run.sh": "true"}),
        {"name": "noop", "stack": "sh", "command": "sh run.sh", "retries": 1},
    )
    batch_id = project.create_batch("noop", [str(i) for i in range(10_000)])["id"]
    store = Store.connect(platform.settings)

    def outcome(task):  # every 10th item fails once, every 50th for good
        index = task.batch_index
        if index % 50 == 7 or (index % 10 == 3 and task.retry_count == 0):
            return TaskStatus.ERROR
        return TaskStatus.COMPLETE

    crashed = False
    while project.batch(batch_id)["status"] == "running":
        if not run_admitted(store, project.project_id, outcome):
            time.sleep(0.2)
        if not crashed and project.batch(batch_id)["done"] >= 5000:
            platform.kill("scheduler")  # mid-batch, with events read but not acknowledged
            platform.start("scheduler")
            crashed = True

    batch = project.batch(batch_id)
    tasks = store.tasks.list(project.project_id, limit=20_000)
    latest = {t.batch_index: t for t in sorted(tasks, key=lambda t: t.retry_count)}
    truth = collections.Counter(str(t.status) for t in latest.values())
    assert crashed and len(latest) == 10_000
    assert batch["counts"] == dict(truth) == {"complete": 9800, "error": 200}
    assert (batch["status"], batch["done"], batch["failed"]) == ("failed", 10_000, 200)
