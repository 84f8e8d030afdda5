"""Accessors for the per-app objects create_app() puts in place."""

from __future__ import annotations

from flask import current_app, g

from ironworks.blobs import LocalBlobStore
from ironworks.errors import NotFound
from ironworks.model import Task
from ironworks.settings import Settings
from ironworks.store import Store


def settings() -> Settings:
    return current_app.extensions["ironworks"]["settings"]


def store() -> Store:
    return current_app.extensions["ironworks"]["store"]


def blobs() -> LocalBlobStore:
    return current_app.extensions["ironworks"]["blobs"]


def calling_task() -> Task | None:
    """The running task this request comes from (over its API socket), if one does."""
    return g.get("calling_task")


def task_for_caller(project_id: str, task_id: str) -> Task:
    """A task of the project, as the caller may see it: a task calling from inside sees
    only the tasks it queued itself; another's id is a 404, as across projects."""
    return seen_by_caller(store().tasks.get_in_project(project_id, task_id))


def seen_by_caller(task: Task) -> Task:
    """The task, if the caller may see it (see task_for_caller); else a 404."""
    caller = calling_task()
    if caller is not None and task.parent_id != caller.id:
        raise NotFound("Task not found")
    return task
