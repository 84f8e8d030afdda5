"""The OpenAPI document. Routes are listed here, and a test holds them to the routes Flask
serves (tests/test_openapi.py): a route added without its description, or the reverse,
fails. Request bodies come from the models the views read them with (api/bodies.py), query
parameters from the views' own declarations (api/queries.py)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from api import bodies
from ironworks import secrets
from ironworks.settings import Settings

P = "/2/projects/{project_id}"
SCHEMAS = "#/components/schemas/"

# (method, path, summary, the request body's model or None)
ROUTES: list[tuple[str, str, str, type[bodies.Body] | None]] = [
    ("get", "/healthz", "200 while the process answers (liveness)", None),
    ("get", "/readyz", "200 when Redis is reachable, noeviction and not full, else 503", None),
    ("get", "/metrics", "Prometheus metrics (admin token): task counts, runners", None),
    ("get", "/2/runners", "Runners and their last heartbeat (admin token)", None),
    ("get", "/2/audit", "Every project's secret and egress changes, newest first (admin)", None),
    ("get", "/openapi.json", "This document", None),
    ("get", "/2/stacks", "The runtime stacks a code may use", None),
    (
        "post",
        "/2/projects",
        "Create a project (admin token); its token is shown once",
        bodies.NewProject,
    ),
    ("get", P, "The project", None),
    ("patch", P, "Set max_concurrency, task_retention_s (admin token)", bodies.ProjectChanges),
    ("post", f"{P}/token", "A new project token, shown once; the current one is revoked", None),
    ("post", f"{P}/codes", "Upload a code revision (multipart: data + file)", bodies.CodeData),
    ("get", f"{P}/codes", "List codes", None),
    ("get", f"{P}/codes/{{code_id}}", "A code (its current revision)", None),
    ("delete", f"{P}/codes/{{code_id}}", "Delete a code; queued tasks keep their revision", None),
    ("get", f"{P}/codes/{{code_id}}/revisions", "Revisions, newest first", None),
    ("get", f"{P}/codes/{{code_id}}/download", "A revision's zip (?revision=N)", None),
    ("post", f"{P}/codes/{{code_id}}/rollback", "Make a revision current", bodies.Rollback),
    ("post", f"{P}/codes/{{code_id}}/pause_task_queue", "Stop admitting the code's tasks", None),
    ("post", f"{P}/codes/{{code_id}}/resume_task_queue", "Admit the code's tasks again", None),
    ("get", f"{P}/codes/{{code_id}}/stats", "Tasks per status", None),
    (
        "post",
        f"{P}/codes/{{code_id}}/webhook_token",
        "A token (and URL) that can only queue this code's tasks by webhook; revokes the last",
        None,
    ),  # fmt: skip
    ("post", f"{P}/tasks", "Queue tasks (all or none)", bodies.NewTasks),
    ("post", f"{P}/tasks/webhook", "Queue a task whose payload is the raw request body", None),
    ("get", f"{P}/tasks", "List tasks (filters: status flags, code_name, label, times)", None),
    ("get", f"{P}/tasks/{{task_id}}", "A task (?wait=S: held until it ends, S <= 10 s)", None),
    ("get", f"{P}/tasks/{{task_id}}/log", "The task's log so far (text/plain)", None),
    ("get", f"{P}/tasks/{{task_id}}/result", "The JSON the task wrote to $RESULT_FILE", None),
    (
        "post",
        f"{P}/tasks/{{task_id}}/progress",
        "Report progress of a running task",
        bodies.Progress,
    ),
    ("post", f"{P}/tasks/{{task_id}}/cancel", "Cancel a queued or running task", None),
    ("post", f"{P}/tasks/{{task_id}}/retry", "Queue a finished task again", bodies.Retry),
    (
        "post",
        f"{P}/tasks/{{task_id}}/replay",
        "Queue a copy on the code's current revision (replay_of), optionally with a new payload",
        bodies.Replay,
    ),  # fmt: skip
    ("post", f"{P}/tasks/replay", "Replay every task a filter matches (bulk)", bodies.ReplayMany),
    ("post", f"{P}/batches", "Queue a batch: one task per payload, all or none", bodies.NewBatch),
    ("get", f"{P}/batches", "List batches, newest first", None),
    ("get", f"{P}/batches/{{batch_id}}", "A batch: counts, and results once finished", None),
    ("get", f"{P}/batches/{{batch_id}}/results", "Every item as JSON lines, in order", None),
    ("post", f"{P}/batches/{{batch_id}}/cancel", "Cancel the items not yet finished", None),
    ("post", f"{P}/schedules", "Create schedules", bodies.NewSchedules),
    ("get", f"{P}/schedules", "List schedules", None),
    ("get", f"{P}/schedules/{{schedule_id}}", "A schedule", None),
    ("post", f"{P}/schedules/{{schedule_id}}/cancel", "Cancel a schedule", None),
    ("post", f"{P}/webhooks", "Tell a URL of every task end (signed)", bodies.NewWebhook),
    ("get", f"{P}/webhooks", "List outbound webhooks", None),
    ("delete", f"{P}/webhooks/{{hook_id}}", "Delete an outbound webhook", None),
    ("get", f"{P}/webhooks/{{hook_id}}/deliveries", "Deliveries and their attempts", None),
    (
        "put",
        f"{P}/secrets/{{name}}",
        "Set a secret (write-only; its tasks get it as $NAME if their code names it)",
        bodies.SecretValue,
    ),  # fmt: skip
    ("get", f"{P}/secrets", "Secret names and when each was set (never values)", None),
    ("delete", f"{P}/secrets/{{name}}", "Delete a secret", None),
    ("get", f"{P}/audit", "The project's secret and egress changes, newest first", None),
    (
        "put",
        f"{P}/egress",
        "Grant private destinations to the project's networked tasks (admin token)",
        bodies.Egress,
    ),  # fmt: skip
    ("get", f"{P}/egress", "The project's egress grants", None),
]

# Routes anyone may call: no token (tests/test_openapi.py holds the rest to needing one).
PUBLIC = {("get", "/healthz"), ("get", "/readyz"), ("get", "/openapi.json"), ("get", "/2/stacks")}
# Bodies a route may go without: it then takes every field's default.
OPTIONAL_BODIES = {
    ("post", f"{P}/tasks/{{task_id}}/retry"),
    ("post", f"{P}/tasks/{{task_id}}/replay"),
}

# Path parameters with a form of their own (any other is a string).
PATH_SCHEMAS = {"name": {"type": "string", "pattern": f"^{secrets.NAME.pattern}$"}}

# Routes that answer 201 Created.
CREATED = {("post", "/2/projects"), ("post", f"{P}/webhooks"), ("post", f"{P}/batches")}


def document(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    queries = _queries_by_route(app)
    settings = app.extensions["ironworks"]["settings"]
    for method, path, summary, body in ROUTES:
        operation: dict[str, Any] = {
            "summary": summary,
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": PATH_SCHEMAS.get(name, {"type": "string"}),
                }
                for name in _path_params(path)
            ]
            + [_bounded(query.openapi(), settings) for query in queries.get((method, path), ())],
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
            operation["requestBody"] = _request_body(body, (method, path) not in OPTIONAL_BODIES)
        if (method, path) in PUBLIC:
            operation["security"] = []
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
        "components": {
            "schemas": {"Error": error, **_schemas(settings)},
            "securitySchemes": {"oauth": oauth},
        },
        "security": [{"oauth": []}],
    }


def _request_body(model: type[bodies.Body], required: bool = True) -> dict[str, Any]:
    schema = {"$ref": f"{SCHEMAS}{model.__name__}"}
    if model is not bodies.CodeData:
        return {"required": required, "content": _json(schema)}
    upload = {"type": "object", "required": ["data"], "properties": {
        "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": schema},
        "file": {"type": "string", "format": "binary", "description": "zip; or 'image' in data"},
    }}  # fmt: skip
    return {"required": True, "content": {"multipart/form-data": {"schema": upload}}}


def _schemas(settings: Settings) -> dict[str, Any]:
    """Every body's JSON schema from its model, and the models they hold, with this
    installation's bounds on the fields an operator bounds."""
    schemas: dict[str, Any] = {}
    for model in {body for *_, body in ROUTES if body is not None}:
        schema = model.model_json_schema(ref_template=SCHEMAS + "{model}")
        schemas |= schema.pop("$defs", {})
        schemas[model.__name__] = schema
    for schema in schemas.values():
        for name, prop in schema.get("properties", {}).items():
            _bounded({"name": name, "schema": prop}, settings)
    return schemas


def _bounded(field: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A field (a query parameter, a body's property) with the operator's bound, if it has one."""
    if field["name"] in bodies.OPERATOR_BOUNDS:
        for option in field["schema"].get("anyOf", [field["schema"]]):
            if option.get("type") in ("integer", "number"):
                option["maximum"] = getattr(settings, bodies.OPERATOR_BOUNDS[field["name"]])
    return field


def _queries_by_route(app: Flask) -> dict[tuple[str, str], tuple]:
    """(method, OpenAPI path) → the query parameters its view declares."""
    found = {}
    for rule in app.url_map.iter_rules():
        declared = getattr(app.view_functions[rule.endpoint], "queries", ())
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            found[(method.lower(), path)] = declared
    return found


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
