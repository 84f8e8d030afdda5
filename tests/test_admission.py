"""Admission rules against a real Redis: limits, priority, FIFO, delay, concurrent schedulers."""

from __future__ import annotations

import time

from ironworks.model import TaskStatus
from ironworks.runner_beats import RunnerBeat
from ironworks.store import Store
from ironworks.store.tasks import LogAppend
from scheduler.admission import run_round
from scheduler.dispatch import Dispatcher
from tests.store_helpers import admitted, admitted_concurrently, enqueue, make_code, make_project


def finish(store: Store, task_id: str) -> None:
    task = store.tasks.get(task_id)
    assert store.tasks.start(task, task.attempt, "r", time.time(), 15)
    assert store.tasks.finish(store.tasks.get(task_id), task.attempt, TaskStatus.COMPLETE, now=1)


def test_project_limit_holds_until_a_slot_is_released(store):
    project = make_project(store, limit=2)
    code = make_code(store, project)
    ids = enqueue(store, code, 5)
    assert admitted(store, project.id) == ids[:2]
    assert admitted(store, project.id) == []
    finish(store, ids[0])
    assert admitted(store, project.id) == [ids[2]]


def test_code_limit_does_not_hold_back_the_projects_other_codes(store):
    project = make_project(store)
    slow, fast = make_code(store, project, "slow", limit=1), make_code(store, project, "fast")
    slow_ids = enqueue(store, slow, 3)
    fast_ids = enqueue(store, fast, 2)
    assert sorted(admitted(store, project.id)) == sorted([slow_ids[0], *fast_ids])


def test_higher_priority_first_then_oldest_first(store):
    project = make_project(store, limit=1)
    code = make_code(store, project)
    low = enqueue(store, code, 2, priority=0)
    high = enqueue(store, code, 1, priority=2)
    mid = enqueue(store, code, 1, priority=1)
    order = []
    for _ in range(4):
        (task_id,) = admitted(store, project.id)
        order.append(task_id)
        finish(store, task_id)
    assert order == [*high, *mid, *low]


def test_delayed_task_waits_until_due(store):
    project = make_project(store)
    code = make_code(store, project)
    (task_id,) = enqueue(store, code, delay=2)
    assert store.admission.promote_due(time.time()) == 0
    assert admitted(store, project.id) == []
    assert store.admission.promote_due(time.time() + 2.5) == 1
    assert admitted(store, project.id) == [task_id]


def test_admission_increments_the_attempt_and_start_is_fenced_by_it(store):
    project = make_project(store)
    code = make_code(store, project)
    (task_id,) = enqueue(store, code)
    (admission,) = store.admission.admit(project.id)
    assert admission.attempt == 1 and admission.cluster == "default"
    task = store.tasks.get(task_id)
    assert not store.tasks.start(task, 2, "r", time.time(), 15)  # a stale or forged attempt
    assert store.tasks.start(task, 1, "r", time.time(), 15, claim="first")
    assert not store.tasks.start(task, 1, "r", time.time(), 15)  # a duplicate dispatch
    # The first start sent again (Redis lost its reply in a failover) is answered as before.
    assert store.tasks.start(task, 1, "r", time.time(), 15, claim="first")


def test_late_write_from_another_attempt_is_refused(store):
    project = make_project(store)
    code = make_code(store, project)
    (task_id,) = enqueue(store, code)
    store.admission.admit(project.id)
    task = store.tasks.get(task_id)
    store.tasks.start(task, 1, "r", time.time(), 15)
    assert store.tasks.append_log(task_id, 7, "forged", 1000) is LogAppend.REFUSED
    assert not store.tasks.finish(task, 7, TaskStatus.COMPLETE, now=time.time())
    assert store.tasks.get(task_id).status is TaskStatus.RUNNING
    assert store.tasks.log(task_id) == ""


def test_log_is_capped_with_a_visible_mark(store):
    project = make_project(store)
    code = make_code(store, project)
    (task_id,) = enqueue(store, code)
    store.admission.admit(project.id)
    store.tasks.start(store.tasks.get(task_id), 1, "r", time.time(), 15)
    for _ in range(5):
        store.tasks.append_log(task_id, 1, "x" * 40, max_bytes=100)
    log = store.tasks.log(task_id)
    assert log.startswith("x" * 100) and log.rstrip().endswith(
        "log truncated: the task wrote more than its log cap"
    )


def test_concurrent_schedulers_never_exceed_limits_or_admit_twice(store):
    projects = [make_project(store, limit=limit) for limit in (1, 2, 3)]
    codes = [make_code(store, p) for p in projects]
    for code in codes:
        enqueue(store, code, 30)
    taken = admitted_concurrently(store, [p.id for p in projects])
    assert len(taken) == len(set(taken)) == 1 + 2 + 3


def test_one_projects_backlog_does_not_delay_another(store):
    busy, quiet = make_project(store), make_project(store)
    enqueue(store, make_code(store, busy), 500)
    (quiet_task,) = enqueue(store, make_code(store, quiet))
    # One scheduler round visits every ready project once, taking a bounded bite of each.
    taken = [a.task_id for p in store.admission.ready_projects() for a in store.admission.admit(p)]
    assert quiet_task in taken
    assert len(taken) <= 17


def test_a_cluster_gets_no_more_admitted_and_unstarted_tasks_than_its_bound(store):
    project = make_project(store)
    code = make_code(store, project)
    ids = enqueue(store, code, 5)
    bound = {"default": 2}
    assert [a.task_id for a in store.admission.admit(project.id, ahead=bound)] == ids[:2]
    assert store.admission.admit(project.id, ahead=bound) == []
    first = store.tasks.get(ids[0])
    assert store.tasks.start(first, first.attempt, "r", time.time(), 15)  # a runner took it
    assert [a.task_id for a in store.admission.admit(project.id, ahead=bound)] == [ids[2]]
    store.tasks.cancel(project.id, ids[1], time.time())  # an admitted one ended unstarted
    assert [a.task_id for a in store.admission.admit(project.id, ahead=bound)] == [ids[3]]
    assert [a.task_id for a in store.admission.admit(project.id, ahead={"gpu": 0})] == [ids[4]]


def test_when_runners_are_the_limit_projects_take_turns(store, settings):
    """One runner slot: each round admits one task, for the project least recently served."""
    now = time.time()
    store.runners.beat(RunnerBeat("r", "h", 1, 0, "default", now, now))
    busy, quiet = make_project(store), make_project(store)
    enqueue(store, make_code(store, busy), 10)
    enqueue(store, make_code(store, quiet), 2)
    dispatcher = Dispatcher(settings)
    served = []
    for _ in range(4):
        assert run_round(store, dispatcher, dispatch_lease_s=60, heartbeat_s=5) == 1
        (task_id,) = store.redis.smembers(store.keys.dispatched("default"))
        task = store.tasks.get(task_id)
        served.append(task.project_id)
        assert store.tasks.start(task, task.attempt, "r", time.time(), 15)  # the runner takes it
    alternated = all(a != b for a, b in zip(served, served[1:], strict=False))
    assert served.count(quiet.id) == 2 and alternated, served


def test_one_wait_takes_every_wake_already_announced(store):
    """Fifty tasks queued while the scheduler was busy wake it once, not fifty times."""
    code = make_code(store, make_project(store))
    for _ in range(50):
        enqueue(store, code)
    assert store.redis.llen(store.keys.scheduler_wake()) == 50
    store.admission.wait_for_work(timeout_s=1)
    assert store.redis.llen(store.keys.scheduler_wake()) == 0
