"""What the API, the scheduler and a runner do to tasks, written straight through the store:
for the tests that check the store's rules against a real Redis, with no Docker."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

from ironworks.model import Code, Project, Task, TaskStatus, new_id
from ironworks.store import Store
from scheduler import consumers


def make_project(store: Store, limit: int | None = None) -> Project:
    project = Project(new_id(), "p", limit, time.time())
    store.projects.create(project, token_hash=new_id())
    return project


def make_code(
    store: Store, project: Project, name: str = "w", limit: int | None = None, retries: int = 0,
    **fields: object,
) -> Code:  # fmt: skip
    draft = Code("", project.id, name, 0, "sh", "true", "sha", 1, time.time(), limit)
    return store.codes.add_revision(dataclasses.replace(draft, retries=retries, **fields))


def enqueue(
    store: Store, code: Code, n: int = 1, priority: int = 0, delay: int = 0,
    key: str | None = None,
) -> list[str]:  # fmt: skip
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
            concurrency_key=key,
        )
        for _ in range(n)
    ]
    return [t.id for t in store.tasks.enqueue(tasks, time.time())]


def run(
    store: Store, task_id: str, status: TaskStatus, result: object = None, log: str = "",
    log_cap: int = 10_000,
) -> None:  # fmt: skip
    """What a runner does with an admitted task: start it, write its log, end it."""
    task = store.tasks.get(task_id)
    assert store.tasks.start(task, task.attempt, "runner-a", time.time(), 15)
    store.tasks.append_log(task_id, task.attempt, log, log_cap)
    store.tasks.finish(
        task, task.attempt, status, now=time.time(),
        exit_code=0 if status is TaskStatus.COMPLETE else 3,
        result=None if result is None else json.dumps(result),
    )  # fmt: skip


def admitted(store: Store, project_id: str) -> list[str]:
    return [a.task_id for a in store.admission.admit(project_id)]


def admitted_concurrently(store: Store, project_ids: list[str], schedulers: int = 4) -> list[str]:
    """What several schedulers, each a thread making 20 rounds, admitted in all: half of
    them a project at a time, the others all projects in one step (as run_round does)."""
    taken: list[str] = []
    lock = threading.Lock()

    def scheduler(one_at_a_time: bool):
        for _ in range(20):
            if one_at_a_time:
                got = [t for project_id in project_ids for t in admitted(store, project_id)]
            else:
                step = store.admission.admit_many(project_ids)
                got = [a.task_id for admissions in step.values() for a in admissions]
            with lock:
                taken.extend(got)

    threads = [threading.Thread(target=scheduler, args=(i % 2 == 0,)) for i in range(schedulers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return taken


def drain(store: Store, group: str) -> None:
    store.events.ensure_group(group)
    while consumers.consume_once(store, group, "c1", consumers.CONSUMERS[group], block_ms=None):
        pass
