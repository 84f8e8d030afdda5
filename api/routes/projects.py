from __future__ import annotations

import time

from flask import Blueprint, jsonify

from api import auth, bodies, context
from api.parsing import json_body
from ironworks.model import Project, new_id
from ironworks.views import project_json

bp = Blueprint("projects", __name__, url_prefix="/2/projects")


@bp.post("")
def create_project():
    auth.require_admin()
    body = bodies.read(bodies.NewProject, json_body())
    project = Project(
        id=new_id(),
        name=body.name,
        max_concurrency=body.max_concurrency,
        created_at=time.time(),
        task_retention_s=body.task_retention_s,
    )
    token, token_hash = auth.new_token()
    context.store().projects.create(project, token_hash)
    return jsonify(project_json(project) | {"token": token}), 201


@bp.patch("/<project_id>")
def update_project(project_id: str):
    """The admin sets a project's limits: max_concurrency, task_retention_s (null: defaults)."""
    auth.require_admin()
    store, body = context.store(), bodies.read(bodies.ProjectChanges, json_body())
    store.projects.get(project_id)  # 404 for an unknown project
    store.projects.update(project_id, body.model_dump(include=body.model_fields_set))
    return jsonify(project_json(store.projects.get(project_id)))


@bp.post("/<project_id>/token")
def rotate_token(project_id: str):
    """A new token for the project, shown once; the current one stops working at once."""
    auth.require_project(project_id)
    token, token_hash = auth.new_token()
    presented = auth.presented_token()
    assert presented is not None  # require_project let the request through
    context.store().projects.rotate_token(project_id, token_hash, auth.hash_token(presented))
    return jsonify(msg="Token rotated: the previous one no longer works", token=token)


@bp.get("/<project_id>")
def get_project(project_id: str):
    auth.require_project(project_id)
    return jsonify(project_json(context.store().projects.get(project_id)))
