"""The OpenAPI document, written by hand so that a test can hold it to the routes Flask serves
(tests/test_openapi.py): a route added without its description, or the reverse, fails."""

from __future__ import annotations

from typing import Any

P = "/2/projects/{project_id}"

# (method, path, summary, request body schema name or None)
ROUTES: list[tuple[str, str, str, str | None]] = [
    ("get", "/healthz", "200 while the process answers (liveness)", None),
    ("get", "/readyz", "200 when Redis is reachable, noeviction and not full, else 503", None),
    ("get", "/metrics", "Prometheus metrics (admin token): task counts, runners", None),
    ("get", "/2/runners", "Runners and their last heartbeat (admin token)", None),
    ("get", "/openapi.json", "This document", None),
    ("get", "/2/stacks", "The runtime stacks a code may use", None),
    ("post", "/2/projects", "Create a project (admin token); its token is shown once", "Project"),
    ("get", P, "The project", None),
    ("patch", P, "Set max_concurrency, task_retention_s (admin token)", None),
    ("post", f"{P}/token", "A new project token, shown once; the current one is revoked", None),
    ("post", f"{P}/codes", "Upload a code revision (multipart: data + file)", "CodeUpload"),
    ("get", f"{P}/codes", "List codes", None),
    ("get", f"{P}/codes/{{code_id}}", "A code (its current revision)", None),
    ("delete", f"{P}/codes/{{code_id}}", "Delete a code; queued tasks keep their revision", None),
    ("get", f"{P}/codes/{{code_id}}/revisions", "Revisions, newest first", None),
    ("get", f"{P}/codes/{{code_id}}/download", "A revision's zip (?revision=N)", None),
    ("post", f"{P}/codes/{{code_id}}/rollback", "Make a revision current", "Rollback"),
    ("post", f"{P}/codes/{{code_id}}/pause_task_queue", "Stop admitting the code's tasks", None),
    ("post", f"{P}/codes/{{code_id}}/resume_task_queue", "Admit the code's tasks again", None),
    ("get", f"{P}/codes/{{code_id}}/stats", "Tasks per status", None),
    (
        "post",
        f"{P}/codes/{{code_id}}/webhook_token",
        "A token (and URL) that can only queue this code's tasks by webhook; revokes the last",
        None,
    ),  # fmt: skip
    ("post", f"{P}/tasks", "Queue tasks (all or none)", "TaskBatch"),
    ("post", f"{P}/tasks/webhook", "Queue a task whose payload is the raw request body", None),
    ("get", f"{P}/tasks", "List tasks (filters: status flags, code_name, label, times)", None),
    ("get", f"{P}/tasks/{{task_id}}", "A task (?wait=S: held until it ends, S <= 10 s)", None),
    ("get", f"{P}/tasks/{{task_id}}/log", "The task's log so far (text/plain)", None),
    ("get", f"{P}/tasks/{{task_id}}/result", "The JSON the task wrote to $RESULT_FILE", None),
    ("post", f"{P}/tasks/{{task_id}}/progress", "Report progress of a running task", "Progress"),
    ("post", f"{P}/tasks/{{task_id}}/cancel", "Cancel a queued or running task", None),
    ("post", f"{P}/tasks/{{task_id}}/retry", "Queue a finished task again", "Retry"),
    ("post", f"{P}/batches", "Queue a batch: one task per payload, all or none", "Batch"),
    ("get", f"{P}/batches", "List batches, newest first", None),
    ("get", f"{P}/batches/{{batch_id}}", "A batch: counts, and results once finished", None),
    ("get", f"{P}/batches/{{batch_id}}/results", "Every item as JSON lines, in order", None),
    ("post", f"{P}/batches/{{batch_id}}/cancel", "Cancel the items not yet finished", None),
    ("post", f"{P}/schedules", "Create schedules", "ScheduleBatch"),
    ("get", f"{P}/schedules", "List schedules", None),
    ("get", f"{P}/schedules/{{schedule_id}}", "A schedule", None),
    ("post", f"{P}/schedules/{{schedule_id}}/cancel", "Cancel a schedule", None),
    ("post", f"{P}/webhooks", "Tell a URL of every task end (signed)", "Webhook"),
    ("get", f"{P}/webhooks", "List outbound webhooks", None),
    ("delete", f"{P}/webhooks/{{hook_id}}", "Delete an outbound webhook", None),
    ("get", f"{P}/webhooks/{{hook_id}}/deliveries", "Deliveries and their attempts", None),
]

# Routes that answer 201 Created.
CREATED = {("post", "/2/projects"), ("post", f"{P}/webhooks"), ("post", f"{P}/batches")}
BODIES: dict[str, dict[str, Any]] = {
    "Project": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "max_concurrency": {"type": ["integer", "null"]}}},
    "CodeUpload": {"type": "object", "required": ["data", "file"], "properties": {
        "data": {"type": "string", "description": "JSON: name, stack, command, …"},
        "file": {"type": "string", "format": "binary"}}},
    "Rollback": {"type": "object", "required": ["revision"], "properties": {
        "revision": {"type": "integer", "minimum": 1}}},
    "TaskBatch": {"type": "object", "required": ["tasks"], "properties": {
        "tasks": {"type": "array", "items": {"type": "object", "required": ["code_name"]}}}},
    "Progress": {"type": "object", "required": ["percent"], "properties": {
        "percent": {"type": "integer", "minimum": 0, "maximum": 100}, "msg": {"type": "string"}}},
    "Webhook": {"type": "object", "required": ["url"], "properties": {
        "url": {"type": "string"}, "code_name": {"type": ["string", "null"]}}},
    "Batch": {"type": "object", "required": ["code_name", "payloads"], "properties": {
        "code_name": {"type": "string"}, "payloads": {"type": "array", "minItems": 1},
        "max_concurrency": {"type": ["integer", "null"], "minimum": 1},
        "reduce": {"type": ["object", "null"], "required": ["code_name"]},
        "reduce_on_failure": {"type": ["boolean", "null"]}}},
    "Retry": {"type": "object", "properties": {"delay": {"type": ["integer", "null"]}}},
    "ScheduleBatch": {"type": "object", "required": ["schedules"], "properties": {
        "schedules": {"type": "array", "items": {"type": "object", "required": ["code_name"]}}}},
}  # fmt: skip


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, body in ROUTES:
        operation: dict[str, Any] = {
            "summary": summary,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_params(path)
            ],
            "responses": {
                "201" if (method, path) in CREATED else "200": {"description": "OK"},
                "4XX": {
                    "description": "Error",
                    "content": _json({"$ref": "#/components/schemas/Error"}),
                },
                "503": {
                    "description": "Redis unreachable for now; try again",
                    "content": _json({"$ref": "#/components/schemas/Error"}),
                },
            },
        }
        if body is not None:
            media = "multipart/form-data" if body == "CodeUpload" else "application/json"
            operation["requestBody"] = {
                "required": True,
                "content": {media: {"schema": BODIES[body]}},
            }
        paths.setdefault(path, {})[method] = operation
    error = {"type": "object", "required": ["msg"], "properties": {"msg": {"type": "string"}}}
    oauth = {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "OAuth <token> (or Bearer <token>, or ?oauth=<token>)",
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ironworks", "version": "2", "description": "IronWorker v2 API"},
        "paths": paths,
        "components": {"schemas": {"Error": error}, "securitySchemes": {"oauth": oauth}},
        "security": [{"oauth": []}],
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
