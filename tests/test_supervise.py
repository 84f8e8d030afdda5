"""What the runner decides while a task runs — its end on exit, timeout, cancel, lease loss,
out of memory, and the log cap — on a real Redis with the engine in memory (runner/
fake_engine.py): no Docker, so each case takes milliseconds (the timeout's, one second)."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ironworks.model import TaskStatus
from ironworks.store import Store
from runner.cache import CodeCache
from runner.execute import RunnerContext, execute
from runner.fake_engine import KILLED, FakeEngine, Script
from runner.spec import Placement
from tests.harness import wait_until
from tests.helpers import create_project, queue, upload
from tests.relay import Relay

LOG_CAP = 4096
ENDS_WITHIN_S = 5
FOREVER = Script(runs_s=None)


@pytest.fixture
def project(api):
    project = create_project(api)
    data = {"name": "w", "stack": "sh", "command": "sh run.sh", "log_max_bytes": LOG_CAP}
    assert upload(api, project, data).status_code == 200
    return project


def admitted(api, store, project, **fields) -> tuple[str, int]:
    assert queue(api, project, {"code_name": "w", "payload": "{}", **fields}).status_code == 200
    (admission,) = store.admission.admit(project["id"], 60)
    return admission.task_id, admission.attempt


class Slot(threading.Thread):
    """A slot's thread; `failure` is what the attempt raised, if anything."""

    failure: BaseException | None = None


def start(settings, store, engine: FakeEngine, task_id: str, attempt: int) -> Slot:
    """Runs the attempt as a slot would, on a thread of its own."""
    ctx = RunnerContext(
        settings,
        store,
        engine,
        CodeCache.from_settings(settings),
        Placement(store.instance_id(), "r1"),
        settings.runner_dir / "tasks",
    )

    def slot() -> None:
        try:
            execute(ctx, task_id, attempt)
        except BaseException as e:
            thread.failure = e
        ctx.letting_go.settle()

    thread = Slot(target=slot, daemon=True)
    thread.start()
    return thread


def ended(thread: Slot) -> None:
    thread.join(ENDS_WITHIN_S)
    assert not thread.is_alive(), "the runner never ended the task"
    assert thread.failure is None, f"the attempt raised {thread.failure!r}"


def run(settings, store, engine: FakeEngine, task_id: str, attempt: int):
    """Runs the attempt to its end and returns the task as recorded."""
    ended(start(settings, store, engine, task_id, attempt))
    return store.tasks.get(task_id)


def test_exit_codes_become_complete_or_error_and_nothing_is_left(api, store, settings, project):
    engine = FakeEngine(lambda spec: Script(output=b"hello\n"))
    done = run(settings, store, engine, *admitted(api, store, project))
    assert (done.status, done.exit_code, store.tasks.log(done.id)) == (
        TaskStatus.COMPLETE, 0, "hello\n",
    )  # fmt: skip
    engine.script = lambda spec: Script(exit_code=3)
    failed = run(settings, store, engine, *admitted(api, store, project))
    assert (failed.status, failed.exit_code, failed.msg) == (TaskStatus.ERROR, 3, "exit code 3")
    assert engine.present() == [], "every container was removed"
    assert list((settings.runner_dir / "tasks").iterdir()) == [], "and every task directory"


def test_a_task_past_its_timeout_is_killed_and_ends_timeout(api, store, settings, project):
    engine = FakeEngine(lambda spec: FOREVER)
    task = run(settings, store, engine, *admitted(api, store, project, timeout=1))
    assert (task.status, task.msg) == (TaskStatus.TIMEOUT, "timed out after 1 s")
    assert engine.made[0].killed


def test_out_of_memory_ends_killed(api, store, settings, project):
    engine = FakeEngine(lambda spec: Script(exit_code=KILLED, oom_killed=True))
    task = run(settings, store, engine, *admitted(api, store, project))
    assert (task.status, task.msg) == (TaskStatus.KILLED, "killed: out of memory")


def test_a_cancelled_task_is_killed_and_the_runner_records_nothing(api, store, settings, project):
    engine = FakeEngine(lambda spec: FOREVER)
    task_id, attempt = admitted(api, store, project)
    running = start(settings, store, engine, task_id, attempt)
    wait_until(lambda: engine.made and store.tasks.status(task_id) is TaskStatus.RUNNING)
    cancelled = store.tasks.cancel(project["id"], task_id, time.time())
    ended(running)
    assert engine.made[0].killed
    assert store.tasks.get(task_id) == cancelled, "the end stays the cancel's"


def test_a_runner_that_lost_its_lease_kills_the_container_and_writes_nothing(
    api, store, settings, project
):
    engine = FakeEngine(lambda spec: FOREVER)
    task_id, attempt = admitted(api, store, project)
    running = start(settings, store, engine, task_id, attempt)
    wait_until(lambda: engine.made and store.tasks.status(task_id) is TaskStatus.RUNNING)
    reaped = store.tasks.get(task_id)
    assert store.tasks.reap(reaped, time.time(), lease_expired=False)
    ended(running)
    assert engine.made[0].killed
    assert store.tasks.get(task_id).msg == "runner lost"


def test_a_task_handed_back_and_its_container_removed_ends_quietly(api, store, settings, project):
    """What a stopping runner does to what outlasts its drain (runner/__main__.py): the task
    goes back to admission, then its container is removed under the slot watching it."""
    engine = FakeEngine(lambda spec: FOREVER)
    task_id, attempt = admitted(api, store, project)
    running = start(settings, store, engine, task_id, attempt)
    wait_until(lambda: engine.made and store.tasks.status(task_id) is TaskStatus.RUNNING)
    assert store.tasks.hand_back(store.tasks.get(task_id), attempt)
    engine.made[0].remove()
    ended(running)
    task = store.tasks.get(task_id)
    assert (task.status, task.msg) == (TaskStatus.QUEUED, "handed back by a stopping runner")


def test_the_log_stops_at_its_cap_with_the_mark_and_keeps_what_came_before(
    api, store, settings, project
):
    lines = b"".join(b"line %05d\n" % n for n in range(1000))  # 11 000 bytes, the cap 4 096
    engine = FakeEngine(lambda spec: Script(output=lines))
    task = run(settings, store, engine, *admitted(api, store, project))
    log = store.tasks.log(task.id)
    kept, mark = log[:LOG_CAP], log[LOG_CAP:]
    assert lines.decode().startswith(kept) and "truncated" in mark


def test_output_the_live_stream_missed_is_read_back_after_the_exit(api, store, settings, project):
    lines = b"".join(b"line %03d\n" % n for n in range(300))
    engine = FakeEngine(lambda spec: Script(output=lines, live_output_lost=True))
    task = run(settings, store, engine, *admitted(api, store, project))
    assert store.tasks.log(task.id) == lines.decode()


def test_a_task_redis_failed_before_its_container_started_is_handed_back_to_run_again(
    api, store, settings, project
):
    """Redis goes away (a failover) after the start and before the container: nothing of the
    task ran, so it is not its error; it goes back to admission, not counted as a retry."""
    engine = FakeEngine(lambda spec: Script(output=b"ok\n"))
    task_id, attempt = admitted(api, store, project)
    port = int(settings.redis_url.rsplit(":", 1)[1].split("/")[0])
    relay = Relay(port)
    try:
        client = redis.Redis(port=relay.port, db=1, decode_responses=True,
                             retry=Retry(NoBackoff(), 0))  # fmt: skip
        failing = Store.for_redis(client, settings.key_prefix, settings.task_retention_s)
        relay.cut_at(b":rev:")  # reading the code's revision, after the start
        running = start(settings, failing, engine, task_id, attempt)
        assert relay.cut.wait(ENDS_WITHIN_S)
        time.sleep(0.5)  # down for longer than a read's retries
        relay.restore()
        ended(running)
    finally:
        relay.close()
    task = store.tasks.get(task_id)
    assert (task.status, task.attempt, task.retry_count) == (TaskStatus.QUEUED, attempt, 0)
    assert task.msg.startswith("handed back: Redis failed before it started")
    assert engine.made == [], "no container was made"
    (again,) = store.admission.admit(project["id"], 60)
    assert run(settings, store, engine, task_id, again.attempt).status is TaskStatus.COMPLETE
