"""Delivery guarantees against a real Redis (and RQ): leases, the reaper, retries, the outbox."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import redis
from prometheus_client import REGISTRY
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue as RQQueue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from ironworks.errors import ConfigError
from ironworks.model import TaskStatus
from ironworks.preflight import check_redis
from ironworks.store import Store
from ironworks.store.admission import Admission
from ironworks.store.events import Event
from scheduler.consumers import CONSUMERS, Consumer
from scheduler.dispatch import BACKSTOP_MARGIN_S, RUN_TASK, Dispatcher, job_id
from scheduler.reaper import reap
from tests.store_helpers import admitted, drain, enqueue, make_code, make_project, run


def start(store: Store, task_id: str, lease_s: float = 15) -> int:
    task = store.tasks.get(task_id)
    assert store.tasks.start(task, task.attempt, "runner-a", time.time(), lease_s)
    return task.attempt


def end(store: Store, task_id: str, status: TaskStatus) -> None:
    task = store.tasks.get(task_id)
    assert store.tasks.finish(task, task.attempt, status, now=time.time(), exit_code=1)


def test_reaper_kills_a_task_whose_runner_stopped_renewing_and_frees_its_slot(store, settings):
    project = make_project(store, limit=1)
    first, second = enqueue(store, make_code(store, project), 2)
    assert admitted(store, project.id) == [first]
    start(store, first, lease_s=0.05)

    assert reap(store, Dispatcher(settings), time.time() + 1, dispatch_lease_s=60) == 1
    task = store.tasks.get(first)
    assert (task.status, task.msg) == (TaskStatus.KILLED, "runner lost")
    assert admitted(store, project.id) == [second]


def test_a_renewed_lease_is_not_reaped(store, settings):
    project = make_project(store)
    (task_id,) = enqueue(store, make_code(store, project))
    admitted(store, project.id)
    attempt = start(store, task_id, lease_s=0.05)
    assert store.tasks.renew(task_id, attempt, time.time(), 60)
    assert reap(store, Dispatcher(settings), time.time() + 1, dispatch_lease_s=60) == 0
    assert store.tasks.get(task_id).status is TaskStatus.RUNNING


def test_renewal_is_refused_once_the_task_is_no_longer_the_runners(store):
    project = make_project(store)
    (task_id,) = enqueue(store, make_code(store, project))
    admitted(store, project.id)
    attempt = start(store, task_id)
    store.tasks.cancel(project.id, task_id, time.time())
    assert not store.tasks.renew(task_id, attempt, time.time(), 60)


def test_a_lost_dispatch_is_requeued_and_its_late_start_refused(store, settings):
    project = make_project(store, limit=1)
    (task_id,) = enqueue(store, make_code(store, project))
    (lost,) = store.admission.admit(project.id, dispatch_lease_s=0.01)  # never sent to RQ

    assert reap(store, Dispatcher(settings), time.time() + 1, dispatch_lease_s=60) == 1
    (again,) = store.admission.admit(project.id)
    assert (again.task_id, again.attempt) == (task_id, lost.attempt + 1)
    task = store.tasks.get(task_id)
    assert not store.tasks.start(task, lost.attempt, "late", time.time(), 15)
    assert store.tasks.start(task, again.attempt, "runner-b", time.time(), 15)


def test_a_task_a_runner_took_is_requeued_when_that_runners_lease_runs_out(store, settings):
    """The runner died between taking the job and starting the task: RQ still says the job
    started a moment ago, but the task waits out only the runner's lease, and a start that
    comes after the hand-back is refused even before the task is admitted again."""
    project = make_project(store, limit=1)
    (task_id,) = enqueue(store, make_code(store, project))
    dispatcher = Dispatcher(settings)
    (admission,) = store.admission.admit(project.id)  # a 60 s dispatch lease
    dispatcher.dispatch(admission)
    rq = redis.Redis.from_url(settings.redis_url)
    job_id_ = RQQueue(admission.run_queue, connection=rq).pop_job_id()
    job = Job.fetch(job_id_, connection=rq, serializer=JSONSerializer)
    job.started_at = datetime.now(UTC)  # as RQ marks it when a worker begins it
    job.set_status(JobStatus.STARTED)
    job.save()
    assert dispatcher.is_waiting(task_id, admission.attempt, admission.run_queue)  # RQ's word
    assert store.tasks.take(task_id, admission.attempt, "runner-a", time.time(), lease_s=0.01)

    assert reap(store, dispatcher, time.time() + 1, dispatch_lease_s=60) == 1
    task = store.tasks.get(task_id)
    assert not store.tasks.start(task, admission.attempt, "runner-a", time.time(), 15)
    (again,) = store.admission.admit(project.id)
    assert (again.task_id, again.attempt) == (task_id, admission.attempt + 1)
    assert store.tasks.get(task_id).taken_by is None


def test_a_dispatch_waiting_for_a_free_runner_is_left_alone(store, settings):
    project = make_project(store)
    (task_id,) = enqueue(store, make_code(store, project))
    dispatcher = Dispatcher(settings)
    for admission in store.admission.admit(project.id, dispatch_lease_s=0.01):
        dispatcher.dispatch(admission)

    assert reap(store, dispatcher, time.time() + 1, dispatch_lease_s=60) == 0
    assert admitted(store, project.id) == []
    assert store.tasks.get(task_id).attempt == 1


def test_failed_task_is_retried_once_per_allowed_retry_even_if_events_repeat(store):
    project = make_project(store)
    code = make_code(store, project, retries=1)
    (task_id,) = enqueue(store, code)
    admitted(store, project.id)
    start(store, task_id)
    end(store, task_id, TaskStatus.ERROR)

    drain(store, "retries")
    store.redis.xgroup_setid(store.keys.events(), "retries", "0")  # replay everything
    drain(store, "retries")

    retries = [t for t in store.tasks.list(project.id) if t.retry_of == task_id]
    assert len(retries) == 1
    (retry,) = retries
    assert (retry.status, retry.retry_count, retry.payload) == (TaskStatus.QUEUED, 1, "")
    admitted(store, project.id)
    start(store, retry.id)
    end(store, retry.id, TaskStatus.ERROR)
    drain(store, "retries")
    assert len(store.tasks.list(project.id)) == 2  # retries exhausted: no third task


def test_stats_consumer_restarted_mid_stream_counts_every_task_once(store):
    project = make_project(store)
    code = make_code(store, project)
    ids = enqueue(store, code, 6)
    admitted(store, project.id)
    for task_id in ids[:4]:
        start(store, task_id)
    end(store, ids[0], TaskStatus.COMPLETE)
    end(store, ids[1], TaskStatus.ERROR)
    store.tasks.cancel(project.id, ids[4], time.time())

    store.events.ensure_group("stats")
    store.events.read(
        "stats", "c1", count=5, block_ms=None
    )  # read, then "crash" before acknowledging
    drain(store, "stats")  # the restarted consumer handles its pending entries, then the rest
    store.redis.xgroup_setid(store.keys.events(), "stats", "0")
    drain(store, "stats")  # and a full replay changes nothing

    truth: dict[str, int] = {}
    for task in store.tasks.list(project.id):
        truth[task.status] = truth.get(task.status, 0) + 1
    counts = {s: n for s, n in store.codes.stats(code.id).items() if n}
    assert counts == truth == {"complete": 1, "error": 1, "running": 2, "cancelled": 1, "queued": 1}


def completed_three(store: Store) -> tuple[str, str, Consumer]:
    """A code whose three tasks completed, and a stats consumer that has not read them."""
    project = make_project(store)
    code = make_code(store, project)
    ids = enqueue(store, code, 3)
    admitted(store, project.id)
    for task_id in ids:
        run(store, task_id, TaskStatus.COMPLETE)
    store.events.ensure_group("stats")
    return project.id, code.id, Consumer(store, "stats", "c1", CONSUMERS["stats"])


def handled_after_a_failure(consumer: Consumer, monkeypatch, owner, name: str, failing) -> None:
    """The consumer's first read fails in `owner.name` (replaced by `failing`, which raises
    redis.ConnectionError); then, the method restored, it handles everything there is."""
    monkeypatch.setattr(owner, name, failing)
    with pytest.raises(redis.ConnectionError):
        consumer.step(block_ms=None)
    monkeypatch.undo()
    while consumer.step(block_ms=None):
        pass


def test_a_stats_read_whose_handling_failed_observes_each_event_once(store, monkeypatch):
    """The stats handler reads the tasks, then counts the events, observes their timings and
    records the ends for the dashboard. A read whose handling failed on Redis is handled
    again, and each event is observed once in all, as /metrics' histograms promise."""
    _, code_id, consumer = completed_three(store)
    completed = {"status": "complete"}
    before = REGISTRY.get_sample_value("ironworks_task_run_seconds_count", completed) or 0

    def unreachable(*_args):
        raise redis.ConnectionError()

    handled_after_a_failure(consumer, monkeypatch, store.tasks, "get_many", unreachable)
    after = REGISTRY.get_sample_value("ironworks_task_run_seconds_count", completed) or 0
    assert after - before == 3
    assert store.codes.stats(code_id)["complete"] == 3


def test_an_end_counted_is_on_the_dashboard_though_the_reply_was_lost(store, monkeypatch):
    """Redis counts a read's ends and the reply is lost (a failover): the read is handled
    again and finds them counted. The dashboard's activity was written with the counts, so
    it still has each end once (written after them, it used to be lost with the reply)."""
    project_id, code_id, consumer = completed_three(store)
    count = store.events.count_statuses

    def counted_then_lost(*args):
        count(*args)
        raise redis.ConnectionError()

    handled_after_a_failure(consumer, monkeypatch, store.events, "count_statuses",
                            counted_then_lost)  # fmt: skip
    minutes = store.activity.ended_per_minute(project_id, time.time(), minutes=2)
    assert sum(m.get("complete", 0) for m in minutes) == 3
    assert len(store.activity.run_times([code_id])[code_id]) == 3
    assert store.codes.stats(code_id)["complete"] == 3


def cancelled(store: Store, project, n: int) -> list[str]:
    """n tasks, cancelled: an event each (a queued one is announced only in a batch)."""
    ids = enqueue(store, make_code(store, project), n)
    for task_id in ids:
        store.tasks.cancel(project.id, task_id, time.time())
    return ids


def test_a_consumer_handles_again_at_once_what_its_handler_failed_on(store):
    """Between sweeps a consumer reads new entries only; an entry its handler failed on is
    the next step's, not left to the next sweep."""
    project = make_project(store)
    first, second = cancelled(store, project, 2)
    store.events.ensure_group("test")
    seen: list[list[str]] = []

    def handle(_store: Store, events: list[Event]) -> None:
        seen.append([event.task_id for event in events])
        if len(seen) == 1:
            raise RuntimeError("the handler failed")

    consumer = Consumer(store, "test", "c1", handle)
    with pytest.raises(RuntimeError):
        consumer.step(block_ms=None)
    assert consumer.step(block_ms=None) == 2  # read again at once, well within SWEEP_S
    assert consumer.step(block_ms=None) == 0
    assert seen == [[first, second], [first, second]]
    assert store.redis.xpending(store.keys.events(), "test")["pending"] == 0


def test_paused_code_admits_nothing_until_resumed(store):
    project = make_project(store)
    code = make_code(store, project)
    (task_id,) = enqueue(store, code)
    store.codes.set_paused(code.id, True)
    assert admitted(store, project.id) == []
    store.codes.set_paused(code.id, False)
    assert admitted(store, project.id) == [task_id]


def test_processes_refuse_a_redis_that_may_evict_keys(store):
    store.redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with pytest.raises(ConfigError, match="noeviction"):
            check_redis(store)
    finally:
        store.redis.config_set("maxmemory-policy", "noeviction")
    check_redis(store)


def test_unreachable_redis_is_a_clear_error(settings):
    with pytest.raises(ConfigError, match="cannot reach Redis"):
        check_redis(Store.for_redis(redis.Redis(port=1, retry=Retry(NoBackoff(), 0))))


def test_a_dispatch_taken_by_a_worker_that_died_is_requeued(store, settings):
    project = make_project(store)
    (task_id,) = enqueue(store, make_code(store, project))
    dispatcher = Dispatcher(settings)
    (admission,) = store.admission.admit(project.id, dispatch_lease_s=0.01)
    dispatcher.dispatch(admission)
    # A worker took the job off the queue and died before starting it: RQ still says queued.
    RQQueue("default", connection=redis.Redis.from_url(settings.redis_url)).remove(
        job_id(task_id, admission.attempt)
    )

    assert reap(store, dispatcher, time.time() + 1, dispatch_lease_s=60) == 1
    assert admitted(store, project.id) == [task_id]


def test_a_task_no_runner_can_start_is_given_up_with_a_reason(store, settings):
    project = make_project(store)
    (task_id,) = enqueue(store, make_code(store, project))
    for _ in range(5):
        store.admission.admit(project.id, dispatch_lease_s=0.01)  # never reaches a runner
        reap(store, Dispatcher(settings), time.time() + 1, dispatch_lease_s=60)
    task = store.tasks.get(task_id)
    assert task.status is TaskStatus.KILLED and "no runner could start it" in task.msg
    assert admitted(store, project.id) == []


def test_a_stopping_consumer_acknowledges_what_it_handled(store):
    """A consumer acknowledges a read's events with its next read; `flush` (the scheduler
    stopping) acknowledges the last ones, which a restarted scheduler does not handle again."""
    project = make_project(store)
    ids = cancelled(store, project, 3)
    store.events.ensure_group("test")
    seen: list[str] = []
    consumer = Consumer(
        store, "test", "c1", lambda _s, events: seen.extend(e.task_id for e in events)
    )
    assert consumer.step(block_ms=None) == 3
    consumer.flush()
    restarted = Consumer(
        store, "test", "c1", lambda _s, events: seen.extend(e.task_id for e in events)
    )
    assert restarted.step(block_ms=None) == 0
    assert seen == ids
    assert store.redis.xpending(store.keys.events(), "test")["pending"] == 0


def test_jobs_are_written_as_rqs_own_enqueue_writes_them(settings):
    """The dispatcher writes RQ's jobs without RQ's per-job objects: what it writes must be
    what RQ's enqueue_many writes for the same jobs (its timestamps aside), or RQ's workers
    would read something else. Red when an RQ upgrade changes its job format."""
    client = redis.Redis.from_url(settings.redis_url)
    admissions = [
        Admission("a" * 24, 1, "default"),
        Admission("b" * 24, 3, "default"),
        Admission("c" * 24, 1, "gpu", priority=2),
    ]

    def written() -> dict:
        keys = sorted(client.keys("rq:*"))
        kinds = {key: client.type(key) for key in keys}
        return {
            key: client.hgetall(key) if kind == b"hash"
            else client.lrange(key, 0, -1) if kind == b"list"
            else client.smembers(key)
            for key, kind in kinds.items()
        }  # fmt: skip

    Dispatcher(settings).dispatch_many(admissions)
    ours = written()
    client.flushdb()
    for a in admissions:
        RQQueue(a.run_queue, connection=client, serializer=JSONSerializer).enqueue_many([
            RQQueue.prepare_data(
                RUN_TASK, args=(a.task_id, a.attempt), job_id=job_id(a.task_id, a.attempt),
                timeout=settings.max_timeout_s + BACKSTOP_MARGIN_S, result_ttl=0,
                failure_ttl=24 * 3600,
            )
        ])  # fmt: skip
    rqs = written()

    times = (b"created_at", b"enqueued_at")
    for key, value in rqs.items():
        if isinstance(value, dict):
            assert all(datetime.fromisoformat(ours[key].pop(t).decode()) for t in times)
            for t in times:
                value.pop(t)
    assert ours == rqs
    assert len(ours) == 3 + 2 + 1  # the jobs, their two queues, RQ's set of queues
    job = Job.fetch(job_id("c" * 24, 1), connection=client, serializer=JSONSerializer)
    assert (job.func_name, job.args, job.origin) == (RUN_TASK, ["c" * 24, 1],
                                                     admissions[2].run_queue)  # fmt: skip
