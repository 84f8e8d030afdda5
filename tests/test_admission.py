"""Admission rules against a real Redis: limits, priority, FIFO, delay, concurrent schedulers."""

from __future__ import annotations

import dataclasses
import threading
import time

from ironworks.model import Code, Project, Task, TaskStatus, new_id
from ironworks.store import Store
from ironworks.store.tasks import LogAppend


def make_project(store: Store, limit: int | None = None) -> Project:
    project = Project(new_id(), "p", limit, time.time())
    store.projects.create(project, token_hash=new_id())
    return project


def make_code(
    store: Store, project: Project, name: str = "w", limit: int | None = None, retries: int = 0
) -> Code:
    draft = Code("", project.id, name, 0, "sh", "true", "sha", 1, time.time(), limit)
    return store.codes.add_revision(dataclasses.replace(draft, retries=retries))


def queue(store: Store, code: Code, n: int = 1, priority: int = 0, delay: int = 0) -> list[str]:
    tasks = [
        Task(
            id=new_id(),
            project_id=code.project_id,
            code_id=code.id,
            code_name=code.name,
            code_rev=code.rev,
            status=TaskStatus.QUEUED,
            payload="",
            priority=priority,
            timeout=60,
            created_at=time.time(),
            delay=delay,
            max_retries=code.retries,
        )
        for _ in range(n)
    ]
    return [t.id for t in store.tasks.enqueue(tasks, time.time())]


def admit_ids(store: Store, project: Project) -> list[str]:
    return [a.task_id for a in store.admission.admit(project.id)]


def finish(store: Store, task_id: str) -> None:
    task = store.tasks.get(task_id)
    assert store.tasks.start(task, task.attempt, "r", time.time(), 15)
    assert store.tasks.finish(store.tasks.get(task_id), task.attempt, TaskStatus.COMPLETE, now=1)


def test_project_limit_holds_until_a_slot_is_released(store):
    project = make_project(store, limit=2)
    code = make_code(store, project)
    ids = queue(store, code, 5)
    assert admit_ids(store, project) == ids[:2]
    assert admit_ids(store, project) == []
    finish(store, ids[0])
    assert admit_ids(store, project) == [ids[2]]


def test_code_limit_does_not_hold_back_the_projects_other_codes(store):
    project = make_project(store)
    slow, fast = make_code(store, project, "slow", limit=1), make_code(store, project, "fast")
    slow_ids = queue(store, slow, 3)
    fast_ids = queue(store, fast, 2)
    assert sorted(admit_ids(store, project)) == sorted([slow_ids[0], *fast_ids])


def test_higher_priority_first_then_oldest_first(store):
    project = make_project(store, limit=1)
    code = make_code(store, project)
    low = queue(store, code, 2, priority=0)
    high = queue(store, code, 1, priority=2)
    mid = queue(store, code, 1, priority=1)
    order = []
    for _ in range(4):
        (admitted,) = admit_ids(store, project)
        order.append(admitted)
        finish(store, admitted)
    assert order == [*high, *mid, *low]


def test_delayed_task_waits_until_due(store):
    project = make_project(store)
    code = make_code(store, project)
    (task_id,) = queue(store, code, delay=2)
    assert store.admission.promote_due(time.time()) == 0
    assert admit_ids(store, project) == []
    assert store.admission.promote_due(time.time() + 2.5) == 1
    assert admit_ids(store, project) == [task_id]


def test_admission_increments_the_attempt_and_start_is_fenced_by_it(store):
    project = make_project(store)
    code = make_code(store, project)
    (task_id,) = queue(store, code)
    (admission,) = store.admission.admit(project.id)
    assert admission.attempt == 1 and admission.cluster == "default"
    task = store.tasks.get(task_id)
    assert not store.tasks.start(task, 2, "r", time.time(), 15)  # a stale or forged attempt
    assert store.tasks.start(task, 1, "r", time.time(), 15)
    assert not store.tasks.start(task, 1, "r", time.time(), 15)  # a duplicate dispatch


def test_late_write_from_another_attempt_is_refused(store):
    project = make_project(store)
    code = make_code(store, project)
    (task_id,) = queue(store, code)
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
    (task_id,) = queue(store, code)
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
        queue(store, code, 30)
    admitted: list[str] = []
    lock = threading.Lock()

    def scheduler():
        for _ in range(20):
            for project in projects:
                got = admit_ids(store, project)
                with lock:
                    admitted.extend(got)

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == len(set(admitted)) == 1 + 2 + 3


def test_one_projects_backlog_does_not_delay_another(store):
    busy, quiet = make_project(store), make_project(store)
    queue(store, make_code(store, busy), 500)
    (quiet_task,) = queue(store, make_code(store, quiet))
    # One scheduler round visits every ready project once, taking a bounded bite of each.
    admitted = [
        a.task_id for p in store.admission.ready_projects() for a in store.admission.admit(p)
    ]
    assert quiet_task in admitted
    assert len(admitted) <= 17
