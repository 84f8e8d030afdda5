"""Operating the platform: metrics equal to what ran, health and readiness of every process,
runner heartbeats, JSON logs, and a runner that drains on SIGTERM without losing a task."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import docker
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ironworks.store import Store
from runner.spec import LABEL_ATTEMPT, LABEL_INSTANCE, LABEL_TASK
from tests.harness import ADMIN_TOKEN, wait_until, zip_files
from tests.helpers import events_handled

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def upload_script(project, name: str, script: str, **fields) -> None:
    data = {"name": name, "stack": "sh", "command": "sh run.sh", **fields}
    project.upload_code(zip_files({"run.sh": script}), data)


def scheduler_counts(platform) -> dict[str, float]:
    """The scheduler's histogram counts, summed over their labels."""
    found = samples(requests.get(f"{platform.health_urls['scheduler']}/metrics", timeout=5).text)
    counts: dict[str, float] = collections.Counter()
    for (name, labels), value in found.items():
        if name.endswith("_count"):
            counts[name] += value
            if name == "ironworks_task_run_seconds_count" and ("status", "complete") in labels:
                counts["ironworks_task_run_seconds_count{complete}"] += value
    return counts


def test_metrics_count_exactly_the_tasks_that_ran_per_project(platform):
    before = scheduler_counts(platform)  # other tests of the module ran tasks too
    first, second = platform.new_project("m1"), platform.new_project("m2")
    upload_script(first, "job", 'read -r p < "$PAYLOAD_FILE"; [ "$p" != fail ]')
    upload_script(second, "job", "true")
    ids = [first.queue("job", p) for p in ("ok", "ok", "ok", "fail")]
    ids += [second.queue("job") for _ in range(2)]
    for project, task_id in zip([first] * 4 + [second] * 2, ids, strict=True):
        project.wait(task_id, timeout_s=60)

    def finished(project_id: str, status: str) -> float:
        found = samples(requests.get(f"{platform.url}/metrics", headers=ADMIN, timeout=5).text)
        labels = frozenset({"project": project_id, "code": "job", "status": status}.items())
        return found.get(("ironworks_tasks_finished_total", labels), 0)

    # The stats consumer follows the events stream: wait for it to catch up, then compare.
    wait_until(lambda: finished(second.project_id, "complete") == 2, what="counts")
    assert finished(first.project_id, "complete") == 3
    assert finished(first.project_id, "error") == 1
    assert finished(second.project_id, "error") == 0
    found = samples(requests.get(f"{platform.url}/metrics", headers=ADMIN, timeout=5).text)
    queued = frozenset({"project": first.project_id, "code": "job"}.items())
    assert found[("ironworks_tasks_queued_total", queued)] == 4
    assert found[("ironworks_queue_depth", frozenset({"project": first.project_id}.items()))] == 0
    assert requests.get(f"{platform.url}/metrics", timeout=5).status_code == 401

    store = Store.connect(platform.settings)
    wait_until(lambda: events_handled(store, "stats"), what="the scheduler to observe them all")
    after = scheduler_counts(platform)
    ran = {name: after[name] - before[name] for name in after}
    assert ran["ironworks_task_run_seconds_count{complete}"] == 5, ran
    assert ran["ironworks_task_run_seconds_count"] == 6
    assert ran["ironworks_container_start_seconds_count"] == 6
    assert ran["ironworks_task_wait_seconds_count"] == 6


def test_every_process_answers_health_and_readiness(platform):
    for url in (platform.url, platform.health_urls["scheduler"], platform.health_urls["runner"]):
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200, url
        wait_until(lambda url=url: requests.get(f"{url}/readyz", timeout=5).ok, what=f"{url} ready")
    runner = samples(requests.get(f"{platform.health_urls['runner']}/metrics", timeout=5).text)
    assert runner[("ironworks_runner_slots", frozenset({"state": "free"}.items()))] <= 4


def test_each_api_worker_listens_on_a_socket_of_its_own(platform):
    """What spreads a client's few keep-alive connections over every worker (the kernel's
    SO_REUSEPORT balancing), where a shared socket lets one worker take them all."""
    port = f":{int(platform.url.rsplit(':', 1)[1]):04X}"

    def listening() -> int:
        return sum(
            fields[1].endswith(port) and fields[3] == "0A"  # local address, state LISTEN
            for table in ("/proc/net/tcp", "/proc/net/tcp6")
            for fields in (line.split() for line in Path(table).read_text().splitlines()[1:])
        )

    # IRONWORKS_API_WORKERS (tests/harness.py); the API answers once its first worker is up
    wait_until(lambda: listening() == 2, timeout_s=20, what="a listening socket per API worker")


def test_runners_report_their_heartbeat_to_the_admin(platform):
    def ours() -> dict | None:
        response = requests.get(f"{platform.url}/2/runners", headers=ADMIN, timeout=5)
        return next((r for r in response.json()["runners"] if r["id"] == platform.runner_id), None)

    wait_until(lambda: ours() is not None, timeout_s=15, what="a heartbeat")
    runner = ours()
    assert (runner["slots"], runner["alive"], runner["draining"]) == (4, True, False)
    assert runner["host"] and runner["clusters"] == ["default"] and 0 <= runner["busy"] <= 4
    assert requests.get(f"{platform.url}/2/runners", timeout=5).status_code == 401


@pytest.fixture
def started(fresh_platform):
    fresh_platform.start("api")
    fresh_platform.start("scheduler")
    fresh_platform.wait_healthy()
    return fresh_platform


def running(project, task_ids: list[str]) -> bool:
    return all(project.task(t)["status"] == "running" for t in task_ids)


def test_sigterm_lets_running_tasks_finish_and_takes_no_new_ones(started):
    started.start("runner", "runner", "--concurrency", "2", runner_drain_s="60")
    project = started.new_project("drain")
    upload_script(project, "nap", "sleep 4; echo rested")
    naps = [project.queue("nap") for _ in range(2)]
    wait_until(lambda: running(project, naps), timeout_s=60, what="both running")
    later = project.queue("nap")

    assert started.terminate("runner") == 0
    for task_id in naps:
        task = project.task(task_id)
        assert (task["status"], project.log(task_id)) == ("complete", "rested\n")
    assert project.task(later)["status"] == "queued"  # not taken by a stopping runner


def test_what_outlasts_the_drain_is_handed_back_and_runs_elsewhere(started):
    started.start("runner", "runner", "--concurrency", "2", runner_drain_s="1")
    project = started.new_project("handback")
    upload_script(project, "long", "sleep 6; echo done")  # retries: 0, so nothing to retry
    tasks = [project.queue("long") for _ in range(2)]
    wait_until(lambda: running(project, tasks), timeout_s=60, what="both running")

    started.terminate("runner")
    for task_id in tasks:
        task = project.task(task_id)
        assert (task["status"], task["msg"]) == ("queued", "handed back by a stopping runner")
    # The stop removed the containers it handed back: nothing may fail reading them after.
    log = started.log_text()
    assert "Traceback" not in log, log[max(log.index("Traceback") - 500, 0) :][:3000]

    started.start("runner-2", "runner", "--concurrency", "2", runner_id="second-runner")
    for task_id in tasks:
        task = project.wait(task_id, timeout_s=90)
        assert (task["status"], task["attempt"], task["retry_count"]) == ("complete", 2, 0)
        assert project.log(task_id) == "done\n"


def test_a_task_whose_container_is_still_being_made_is_handed_back_too(started):
    """A loaded engine can take seconds to make a container after the task is recorded
    running (a CI run saw it): a stop in between must hand that task back as well, not leave
    it `running` until its lease runs out (and then `killed`, as no runner holds it)."""
    started.start("runner", "runner", "--concurrency", "1", runner_drain_s="1",
                  failpoint="slow-start")  # fmt: skip
    project = started.new_project("slow-start")
    upload_script(project, "quick", "echo done")
    task_id = project.queue("quick")
    wait_until(lambda: running(project, [task_id]), timeout_s=60, what="the task running")

    started.terminate("runner")  # within the 3 s the failpoint adds before the container
    task = project.task(task_id)
    assert (task["status"], task["msg"]) == ("queued", "handed back by a stopping runner")

    started.start("runner-2", "runner", "--concurrency", "1", runner_id="second-runner")
    task = project.wait(task_id, timeout_s=90)
    assert (task["status"], task["attempt"]) == ("complete", 2)


def test_json_logs_carry_the_task_and_project_ids(fresh_platform):
    fresh_platform.env["IRONWORKS_LOG_FORMAT"] = "json"
    platform = fresh_platform.start_all()
    project = platform.new_project("logs")
    upload_script(project, "hello", "echo hi")
    task_id = project.queue("hello")
    assert project.wait(task_id, timeout_s=60)["status"] == "complete"
    # A container of the ended task that nobody removed: the runner's janitor thread says so
    # as it removes it, in the runner's JSON too.
    engine = docker.from_env()
    labels = {LABEL_INSTANCE: platform.instance_id, LABEL_TASK: task_id, LABEL_ATTEMPT: "1"}
    orphan = engine.containers.run("ironworks/stack-sh", ["sleep", "60"], detach=True,
                                   labels=labels)  # fmt: skip
    wait_until(lambda: "removed orphaned container" in platform.log_text(), timeout_s=20,
               what="the janitor to remove the orphan")  # fmt: skip
    assert not engine.containers.list(all=True, filters={"id": orphan.id})

    lines = [json.loads(line) for line in platform.log_text().splitlines() if line.startswith("{")]
    about_task = [line for line in lines if line.get("task_id") == task_id]
    assert {line["role"] for line in lines} >= {"api", "scheduler", "runner"}
    removal = [line for line in lines if "removed orphaned container" in line["msg"]]
    assert [line["role"] for line in removal] == ["runner"]
    assert about_task and all(line["project_id"] == project.project_id for line in about_task)
    assert any("ended complete" in line["msg"] for line in about_task)
    assert not [line for line in platform.log_text().splitlines() if not line.startswith("{")]
