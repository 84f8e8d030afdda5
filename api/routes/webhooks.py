"""Outbound webhooks: URLs told of each task's end, per project or per code."""

from __future__ import annotations

import secrets
import time

from flask import Blueprint, jsonify

from api import bodies, context, parsing
from ironworks import outbound
from ironworks.model import new_id
from ironworks.webhooks import SIGNATURE_HEADER, Webhook

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("")
def create(project_id: str):
    body = bodies.read(bodies.NewWebhook, parsing.json_body())
    outbound.check_url(body.url, context.settings().webhook_allow_private)
    if body.code_name is not None:
        context.store().codes.by_name(project_id, body.code_name)
    hook = Webhook(
        new_id(), project_id, body.url, secrets.token_hex(32), time.time(), body.code_name
    )
    context.store().webhooks.create(hook)
    return jsonify(hook_json(hook) | {"msg": f"Deliveries are signed in {SIGNATURE_HEADER}"}), 201


@bp.get("")
def list_hooks(project_id: str):
    return jsonify(webhooks=[hook_json(h) for h in context.store().webhooks.of_project(project_id)])


@bp.delete("/<hook_id>")
def delete(project_id: str, hook_id: str):
    store = context.store()
    store.webhooks.delete(store.webhooks.get(project_id, hook_id))
    return jsonify(msg="Deleted")


@bp.get("/<hook_id>/deliveries")
def deliveries(project_id: str, hook_id: str):
    """Each delivery with every attempt: when, the receiver's status code or the error."""
    store = context.store()
    hook = store.webhooks.get(project_id, hook_id)
    found = store.webhooks.deliveries(hook.id)
    return jsonify(
        deliveries=[
            {"id": d.id, "task_id": d.task_id, "status": d.status, "state": d.state,
             "attempts": attempts}
            for d, attempts in found
        ]
    )  # fmt: skip


def hook_json(hook: Webhook) -> dict:
    return {"id": hook.id, "url": hook.url, "code_name": hook.code_name, "secret": hook.secret}
