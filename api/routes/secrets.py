"""A project's two openings and their audit trail: its secrets (write-only: names and times
come back, never values; the project's token or the admin's) and its egress grants (set by
the admin only, read by the project too). Every change is recorded (names, never values)."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify

from api import auth, bodies, context, queries
from api.parsing import json_body
from ironworks import egress, secrets
from ironworks.audit_entry import AuditEntry
from ironworks.errors import NotFound
from ironworks.views import audit_json, iso

bp = Blueprint("secrets", __name__)

AUDIT_LIMIT = queries.integer("limit", "How many entries, newest first", 100, 1, 1000)


@bp.put("/secrets/<name>")
def set_secret(project_id: str, name: str):
    secrets.check_name(name)
    value = secrets.check_value(bodies.read(bodies.SecretValue, json_body()).value)
    store, now = context.store(), time.time()
    sealed = secrets.vault_for(context.settings().secrets_key).seal(project_id, name, value)
    created = store.secrets.put(project_id, name, sealed, now)
    record(project_id, "secret.set", {"name": name, "created": created}, now)
    return jsonify(name=name, created=created, updated_at=iso(now))


@bp.get("/secrets")
def list_secrets(project_id: str):
    names = context.store().secrets.names(project_id)
    return jsonify(secrets=[{"name": n, "updated_at": iso(at)} for n, at in names.items()])


@bp.delete("/secrets/<name>")
def delete_secret(project_id: str, name: str):
    if not context.store().secrets.delete(project_id, name):
        raise NotFound(f"Secret {name[:130]!r} not found")
    record(project_id, "secret.delete", {"name": name}, time.time())
    return jsonify(msg=f"Deleted secret {name}")


@bp.get("/audit")
@queries.takes(AUDIT_LIMIT)
def project_audit(project_id: str):
    entries = context.store().audit.list(project_id, AUDIT_LIMIT.read())
    return jsonify(entries=[audit_json(e) for e in entries])


def record(project_id: str, action: str, detail: dict[str, object], now: float) -> None:
    store, settings = context.store(), context.settings()
    retention_s = store.projects.get(project_id).task_retention_s or settings.task_retention_s
    entry = AuditEntry(now, project_id, auth.actor(), action, detail)
    store.audit.record(entry, retention_s, settings.task_retention_s)


@bp.put("/egress")
def set_egress(project_id: str):
    """The operator's grants of private destinations to the project's networked tasks."""
    auth.require_admin()
    grants = [str(g) for g in egress.parse_all(bodies.read(bodies.Egress, json_body()).allow)]
    store, now = context.store(), time.time()
    before = store.projects.egress(project_id)
    store.projects.set_egress(project_id, grants)
    record(project_id, "egress.set", {"allow": grants, "before": before}, now)
    return jsonify(allow=grants)


@bp.get("/egress")
def get_egress(project_id: str):
    return jsonify(allow=context.store().projects.egress(project_id))
