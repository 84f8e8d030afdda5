"""The whole platform as a user meets it: real processes, real Redis, real Docker."""

from __future__ import annotations

import http.server
import io
import json
import threading
import time
import zipfile

import pytest

from ironworks.cli.main import zip_directory
from ironworks.client import ApiError
from ironworks.store import Store
from ironworks.webhooks import signature
from runner.spec import CLAIMED_NAME, LABEL_PROJECT, LABEL_RUNNER, LABEL_TASK
from tests.harness import ROOT, wait_until, zip_files
from tests.helpers import events_handled, queue_as_run

SHELL = {"stack": "sh", "command": "sh run.sh"}


def containers(engine, **labels: str) -> list[dict]:
    """Summaries straight from the engine's list call: no per-container inspect to race with."""
    filters = [f"{k}={v}" for k, v in labels.items()]
    return engine.api.containers(all=True, filters={"label": filters})


def upload_script(project, name: str, script: str, **fields) -> dict:
    data = {"name": name, **SHELL, **fields}
    return project.upload_code(zip_files({"run.sh": script}), data)


def test_hello_runs_each_payload_in_its_own_container(platform):
    project = platform.new_project("hello")
    hello = zip_directory(ROOT / "examples" / "hello")
    project.upload_code(hello, {"name": "hello", "stack": "python", "command": "python3 hello.py"})
    names = ["Ada", "Grace", "Linus", "Barbara", "Ken"]
    ids = [project.queue("hello", json.dumps({"name": n})) for n in names]
    for task_id, name in zip(ids, names, strict=True):
        task = project.wait(task_id, timeout_s=120)
        assert (task["status"], task["exit_code"]) == ("complete", 0), task
        assert project.log(task_id) == f"Hello, {name}!\n"
        assert json.loads(task["result"]) == {"greeted": name}
        assert task["start_time"] and task["end_time"] and task["duration"] >= 0


def test_the_container_contract_is_what_the_worker_sees(platform, engine):
    project = platform.new_project("contract")
    script = (
        'echo "args=$*"; echo "id=$TASK_ID"; cat "$PAYLOAD_FILE"; echo;'
        ' echo "dirs=$TASK_DIR $RESULT_FILE $CONFIG_FILE"; echo "greeting=$GREETING";'
        ' echo "uid=$(id -u)"; pwd; touch /mnt/code/x 2>/dev/null || echo "code is read-only";'
        ' echo "config=$(cat "$CONFIG_FILE")"'
    )
    code = upload_script(
        project, "contract", script, env_vars={"GREETING": "hi"}, config={"region": "eu"}
    )
    task_id = queue_as_run(engine, platform, project, code, "the-payload")
    assert project.wait(task_id, timeout_s=60)["status"] == "complete"
    log = project.log(task_id)
    iron_args = "-payload /mnt/task/payload.json -config /mnt/task/config.json"
    assert f"args={iron_args} -id {task_id} -d /mnt/task" in log
    assert f"id={task_id}" in log and "the-payload" in log and "greeting=hi" in log
    assert "dirs=/mnt/task /mnt/task/result.json /mnt/task/config.json" in log
    assert "uid=10001" in log and "/mnt/code" in log and "code is read-only" in log
    assert 'config={"region": "eu"}' in log


def test_non_zero_exit_is_an_error_with_its_exit_code(platform):
    project = platform.new_project("fails")
    upload_script(project, "fails", "echo failing >&2; exit 3")
    task = project.wait(project.queue("fails"), timeout_s=60)
    assert (task["status"], task["exit_code"]) == ("error", 3)
    assert project.log(task["id"]) == "failing\n"


def test_timeout_kills_the_container_and_records_timeout(platform, engine):
    project = platform.new_project("slow")
    upload_script(project, "slow", "echo started; sleep 60")
    task_id = project.queue("slow", timeout=2)
    task = project.wait(task_id, timeout_s=60)
    assert task["status"] == "timeout" and "timed out" in task["msg"]
    assert project.log(task_id) == "started\n"
    # removed once the end is recorded
    gone = lambda: not containers(engine, **{LABEL_TASK: task_id})  # noqa: E731
    wait_until(gone, what="removal")


def test_cancel_stops_a_running_task_and_its_container(platform, engine):
    project = platform.new_project("cancel")
    upload_script(project, "sleeper", "echo up; sleep 60")
    task_id = project.queue("sleeper")
    wait_until(lambda: project.task(task_id)["status"] == "running", what="the task to run")
    wait_until(lambda: containers(engine, **{LABEL_TASK: task_id}), what="its container")
    assert project.cancel(task_id)["task"]["status"] == "cancelled"
    # Gone long before its 60 s sleep could end (how soon is bench/'s question, not a test's).
    gone = lambda: not containers(engine, **{LABEL_TASK: task_id})  # noqa: E731
    wait_until(gone, timeout_s=20, what="removal")
    assert project.task(task_id)["status"] == "cancelled"


def test_project_limit_is_never_exceeded_and_other_projects_still_run(platform, engine):
    limited = platform.new_project("limited", max_concurrency=2)
    other = platform.new_project("other")
    upload_script(limited, "nap", "sleep 2")
    upload_script(other, "quick", "echo quick")
    ids = [limited.queue("nap") for _ in range(6)]
    peak, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            running = containers(engine, **{LABEL_PROJECT: limited.project_id})
            peak[0] = max(peak[0], len([c for c in running if c["State"] == "running"]))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        quick = other.wait(other.queue("quick"), timeout_s=60)
        assert quick["status"] == "complete"
        assert any(limited.task(i)["status"] == "queued" for i in ids), "limit had no effect"
        finished = [limited.wait(i, timeout_s=120) for i in ids]
    finally:
        stop.set()
        sampler.join()
    assert [t["status"] for t in finished] == ["complete"] * 6
    assert 1 <= peak[0] <= 2


def test_no_containers_are_left_behind(platform, engine):
    project = platform.new_project("tidy")
    upload_script(project, "tidy", "echo done")
    assert project.wait(project.queue("tidy"), timeout_s=60)["status"] == "complete"

    # The container goes right after the end is recorded. With warm start on, prestarted
    # containers waiting for a next task may be there: they belong to no task (no task
    # label, not renamed after one).
    def left() -> list[dict]:
        return [
            c for c in containers(engine, **{LABEL_RUNNER: platform.runner_id})
            if LABEL_TASK in c["Labels"] or CLAIMED_NAME.fullmatch(c["Names"][0].lstrip("/"))
        ]  # fmt: skip

    wait_until(lambda: not left(), what="no task container left")


def test_api_errors_reach_the_client_as_messages(platform):
    project = platform.new_project("errors")
    with pytest.raises(ApiError) as unknown:
        project.queue("missing")
    assert unknown.value.status == 404 and "missing" in unknown.value.msg


def test_failed_task_is_retried_as_configured_and_stats_count_both(platform):
    project = platform.new_project("retrying")
    code = upload_script(project, "flaky", "echo nope; exit 2", retries=1)
    first = project.wait(project.queue("flaky"), timeout_s=60)
    retry = wait_until(
        lambda: [t for t in project.tasks() if t["retry_of"] == first["id"]], what="the retry"
    )[0]
    retry = project.wait(retry["id"], timeout_s=60)
    assert (first["status"], retry["status"], retry["retry_count"]) == ("error", "error", 1)
    store = Store.connect(platform.settings)
    wait_until(lambda: events_handled(store, "retries"), what="the retries consumer to catch up")
    assert len(project.tasks()) == 2  # no third attempt: retries: 1
    counts = wait_until(
        lambda: (c := project.code_stats(code["id"]))["error"] == 2 and c, what="the stats"
    )
    assert {s: n for s, n in counts.items() if n} == {"error": 2}


def test_manual_retry_and_pause_resume(platform):
    project = platform.new_project("manual")
    code = upload_script(project, "once", "echo ran")
    done = project.wait(project.queue("once"), timeout_s=60)

    project.pause(code["id"])
    again = project.retry(done["id"], delay=0)
    assert again["retry_of"] == done["id"] and again["status"] == "queued"
    # Admission is FIFO within a project: a task queued after the paused one that has run
    # shows the paused one was passed over, not merely not reached yet.
    upload_script(project, "later", "echo later")
    assert project.wait(project.queue("later"), timeout_s=60)["status"] == "complete"
    assert project.task(again["id"])["status"] == "queued"  # paused: not admitted
    project.resume(code["id"])
    assert project.wait(again["id"], timeout_s=60)["status"] == "complete"
    assert project.log(again["id"]) == "ran\n"


def test_a_runner_on_another_host_needs_only_the_api(platform, tmp_path):
    """A runner with a data directory of its own fetches code through the API."""
    platform.start(
        "remote-runner", "runner", "--concurrency", "1", runner_id="remote",
        data_dir=str(tmp_path), api_url=platform.url, runner_clusters="remote",
    )  # fmt: skip
    project = platform.new_project("far")
    upload_script(project, "far", "echo from afar")
    task = project.wait(project.queue("far", cluster="remote"), timeout_s=60)
    assert task["status"] == "complete" and project.log(task["id"]) == "from afar\n"
    assert list((tmp_path / "runner" / "code").glob("*.size"))
    archive = project.download(task["code_id"])
    assert zipfile.ZipFile(io.BytesIO(archive)).read("run.sh") == b"echo from afar"


class FlakyReceiver(http.server.BaseHTTPRequestHandler):
    """Answers 500 to its first two requests, then 200; keeps what it was sent."""

    received: list[tuple[dict, bytes, int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 500 if len(self.received) < 2 else 200
        self.received.append((dict(self.headers), body, status))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_outbound_webhook_is_delivered_once_despite_failures_and_signed(platform):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        project = platform.new_project("hooked")
        upload_script(project, "hooked", "echo hi")
        hook = project._request(
            "POST", f"/2/projects/{project.project_id}/webhooks",
            json={"url": f"http://127.0.0.1:{server.server_port}/hook"},
        ).json()  # fmt: skip
        task = project.wait(project.queue("hooked"), timeout_s=60)
        wait_until(lambda: len(FlakyReceiver.received) >= 3, timeout_s=30, what="3 attempts")
        store = Store.connect(platform.settings)
        wait_until(lambda: events_handled(store, "webhooks"), what="every delivery planned")
        wait_until(
            lambda: all(d["state"] == "delivered" for d in deliveries(project, hook["id"])),
            what="every delivery settled",
        )
    finally:
        server.shutdown()
        server.server_close()
    assert [status for _, _, status in FlakyReceiver.received] == [500, 500, 200]
    headers, body, _ = FlakyReceiver.received[-1]
    assert headers["X-Ironworks-Signature"] == signature(hook["secret"], body)
    sent = json.loads(body)
    assert (sent["event"], sent["task"]["id"], sent["task"]["status"]) == (
        "task.complete",
        task["id"],
        "complete",
    )
    listed = deliveries(project, hook["id"])
    assert [(d["state"], [a.get("status_code") for a in d["attempts"]]) for d in listed] == [
        ("delivered", [500, 500, 200])
    ]


def deliveries(project, hook_id: str) -> list[dict]:
    path = f"/2/projects/{project.project_id}/webhooks/{hook_id}/deliveries"
    return project._request("GET", path).json()["deliveries"]
