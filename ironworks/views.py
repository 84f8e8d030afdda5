"""JSON shapes of the platform's objects (IronWorker v2 field names, ISO 8601 times), shared
by the API and the outbound webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ironworks.audit_entry import AuditEntry
from ironworks.batch import Batch
from ironworks.model import Code, Project, Task, TaskStatus


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def project_json(project: Project) -> dict:
    return {
        "id": project.id,
        "name": project.name,
        "max_concurrency": project.max_concurrency,
        "task_retention_s": project.task_retention_s,
        "max_task_depth": project.max_task_depth,
        "max_task_children": project.max_task_children,
        "created_at": iso(project.created_at),
    }


def code_json(code: Code) -> dict:
    return {
        "id": code.id,
        "project_id": code.project_id,
        "name": code.name,
        "rev": code.rev,
        "stack": code.stack,
        "command": code.command,
        "max_concurrency": code.max_concurrency,
        "timeout": code.timeout,
        "env_vars": code.env_vars,
        "secrets": code.secrets,
        "retries": code.retries,
        "retries_delay": code.retries_delay,
        "memory": code.memory_mb,
        "cpus": code.cpus,
        "disk": code.disk_mb,
        "log_max_bytes": code.log_max_bytes,
        "network": code.network,
        "warm": code.warm,
        "image": code.image,
        "config": code.config,
        "default_priority": code.default_priority,
        "concurrency_key": code.concurrency_key,
        "max_concurrency_per_key": code.max_concurrency_per_key,
        "rate_limit": {
            "count": code.rate_limit_count,
            "period_s": code.rate_limit_period_s,
            "per_key": code.rate_limit_per_key,
        }
        if code.rate_limit_count
        else None,
        "archive_size": code.archive_size,
        "archive_sha256": code.archive_sha256,
        "created_at": iso(code.created_at),
    }


def task_json(task: Task) -> dict:
    return {
        "id": task.id,
        "project_id": task.project_id,
        "code_id": task.code_id,
        "code_name": task.code_name,
        "code_rev": task.code_rev,
        "status": str(task.status),
        "msg": task.msg or None,
        "exit_code": task.exit_code,
        "priority": task.priority,
        "timeout": task.timeout,
        "delay": task.delay,
        "label": task.label,
        "cluster": task.cluster,
        "runner": task.runner or None,
        "attempt": task.attempt,
        "retry_of": task.retry_of,
        "retry_count": task.retry_count,
        "replay_of": task.replay_of,
        "depends_on": task.depends_on,
        "concurrency_key": task.concurrency_key,
        "idempotency_key": task.idempotency_key,
        "batch_id": task.batch_id,
        "parent_id": task.parent_id,
        "children": task.children,
        "depth": task.depth,
        "cascade": task.cascade,
        "payload": task.payload,
        "result": task.result,
        "percent": task.percent,
        "usage": task.usage,
        "created_at": iso(task.created_at),
        "admitted_at": iso(task.admitted_at),
        "start_time": iso(task.start_time),
        "end_time": iso(task.end_time),
        "duration": task.duration_ms,
    }


def audit_json(entry: AuditEntry) -> dict:
    return {
        "at": iso(entry.at),
        "project_id": entry.project_id,
        "actor": entry.actor,
        "action": entry.action,
        **entry.detail,
    }


def result_value(raw: str | None) -> object:
    """A task's result as JSON when it is JSON (what RESULT_FILE should hold), else the text."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def batch_json(batch: Batch, counts: dict[str, int]) -> dict:
    return {
        "id": batch.id,
        "project_id": batch.project_id,
        "code_name": batch.code_name,
        "status": str(batch.status),
        "msg": batch.msg,
        "size": batch.size,
        "counts": counts,
        "done": batch.done,
        "failed": batch.failed,
        "percent": batch.percent,
        "max_concurrency": batch.max_concurrency,
        "reduce": {"code_name": batch.reduce_code_name, "task_id": batch.reduce_task_id}
        if batch.reduce_code_id
        else None,
        "reduce_on_failure": batch.reduce_on_failure,
        "parent_id": batch.parent_id,
        "result": result_value(batch.result),
        "created_at": iso(batch.created_at),
        "finished_at": iso(batch.finished_at),
    }


def item_json(task: Task, log_tail: str | None = None) -> dict:
    """One batch item: its result, or for a failed one why it failed."""
    item: dict = {"task_id": task.id, "status": str(task.status)}
    if task.status is TaskStatus.COMPLETE:
        item["result"] = result_value(task.result)
    elif task.status.is_terminal:
        item |= {"exit_code": task.exit_code, "msg": task.msg or None, "log_tail": log_tail}
    return item
