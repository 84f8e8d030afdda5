"""Fan-out: tasks queued from inside a running task (its API socket, runner/task_api.py).

The rules, once: a child records its parent and sits one level deeper; a tree is at most
`max_task_depth` deep and a task queues at most `max_task_children` (the project's own
limits, else the installation's); past either the request is refused whole. Children
otherwise are tasks like any other: they count against every limit of their project.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ironworks.errors import BadRequest, TooMany
from ironworks.model import Project, Task
from ironworks.settings import Settings


def depth_limit(project: Project, settings: Settings) -> int:
    return settings.max_task_depth if project.max_task_depth is None else project.max_task_depth


def children_limit(project: Project, settings: Settings) -> int:
    if project.max_task_children is None:
        return settings.max_task_children
    return project.max_task_children


def as_children(
    parent: Task, tasks: Sequence[Task], project: Project, settings: Settings,
    cascade: Sequence[bool] | None = None,
) -> list[Task]:  # fmt: skip
    """`tasks` as children of `parent`, or the error that refuses them all."""
    depth = parent.depth + 1
    if depth > (most := depth_limit(project, settings)):
        raise BadRequest(
            f"tasks may queue tasks at most {most} deep: this task is {parent.depth} deep"
        )
    if parent.children + len(tasks) > (most := children_limit(project, settings)):
        raise TooMany(
            f"a task may queue at most {most} tasks; this one has queued {parent.children}"
        )
    flags = cascade or [False] * len(tasks)
    return [
        dataclasses.replace(t, parent_id=parent.id, depth=depth, cascade=bool(c))
        for t, c in zip(tasks, flags, strict=True)
    ]
