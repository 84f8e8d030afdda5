"""Code packages: multipart upload (`data` JSON + `file` zip), listing, details."""

from __future__ import annotations

import dataclasses
from typing import IO
from urllib.parse import urlencode

from flask import Blueprint, jsonify, request, send_file, url_for

from api import auth, bodies, code_input, context, parsing, queries
from ironworks import archive
from ironworks.archive import ArchiveLimits
from ironworks.errors import BadRequest, NotFound
from ironworks.model import Code, TaskStatus
from ironworks.views import code_json

bp = Blueprint("codes", __name__, url_prefix="/codes")


@bp.post("")
def upload(project_id: str):
    data_part = request.form.get("data") or _file_text("data")
    if data_part is None:
        raise BadRequest("multipart field 'data' (JSON) is required")
    data = parsing.json_field(data_part, "'data'")
    upload = request.files.get("file")
    draft = code_input.draft(project_id, data, context.settings(), has_archive=upload is not None)
    if upload is not None:
        try:
            sha, size = _store_checked_archive(upload.stream)
        finally:
            upload.close()  # large uploads are spooled to a temporary file
        draft = dataclasses.replace(draft, archive_sha256=sha, archive_size=size)
    store = context.store()
    missing = store.secrets.missing(project_id, draft.secrets)
    if missing:
        raise BadRequest(
            f"the project has no secret named {', '.join(missing)}: set it first"
            f" (PUT /2/projects/{project_id}/secrets/NAME, or `ironworks secret set NAME`)"
        )
    code = store.codes.add_revision(draft)
    unused = store.codes.prune_revision(code, context.settings().revisions_kept)
    if unused:
        context.blobs().delete(unused)
    return jsonify(_code_json(code) | {"msg": "Upload successful."})


@bp.get("")
@queries.takes(*queries.PAGING)
def list_codes(project_id: str):
    page, per_page = queries.paging()
    codes = context.store().codes.list(project_id)
    window = codes[page * per_page : (page + 1) * per_page]
    return jsonify(codes=[_code_json(c) for c in window])


@bp.get("/<code_id>")
def get_code(project_id: str, code_id: str):
    return jsonify(_code_json(context.store().codes.get(project_id, code_id)))


@bp.delete("/<code_id>")
def delete_code(project_id: str, code_id: str):
    store = context.store()
    store.codes.delete(store.codes.get(project_id, code_id))
    return jsonify(msg="Deleted")


@bp.get("/<code_id>/revisions")
@queries.takes(*queries.PAGING)
def list_revisions(project_id: str, code_id: str):
    store = context.store()
    code = store.codes.get(project_id, code_id)
    page, per_page = queries.paging()
    revisions = store.codes.revisions(code.id)[page * per_page : (page + 1) * per_page]
    return jsonify(revisions=[code_json(r) | {"current": r.rev == code.rev} for r in revisions])


@bp.post("/<code_id>/rollback")
def rollback(project_id: str, code_id: str):
    """Make an earlier revision the one newly queued tasks run."""
    store = context.store()
    code = store.codes.get(project_id, code_id)
    revision = bodies.read(bodies.Rollback, parsing.json_body()).revision
    return jsonify(
        msg=f"Rolled back to revision {revision}",
        code=_code_json(store.codes.rollback(code, revision)),
    )


@bp.get("/<code_id>/download")
@queries.takes(queries.REVISION)
def download(project_id: str, code_id: str):
    """The zip archive of a revision (`?revision=N`, default the current one)."""
    store = context.store()
    code = store.codes.get(project_id, code_id)
    revision = queries.REVISION.read() or code.rev
    if revision != code.rev:
        code = store.codes.revision(code.id, revision)
    if not code.has_archive:
        raise NotFound("This code runs a registered image and has no archive")
    return send_file(
        context.blobs().existing_path(code.archive_sha256),
        mimetype="application/zip",
        download_name=f"{code.name}-r{code.rev}.zip",
        as_attachment=True,
    )


@bp.post("/<code_id>/webhook_token")
def new_webhook_token(project_id: str, code_id: str):
    """A token that can only queue tasks of this code through the inbound webhook, for a
    third party's use; a new one revokes the previous one. Shown once."""
    store = context.store()
    code = store.codes.get(project_id, code_id)
    token, token_hash = auth.new_token(auth.HOOK_TOKEN_PREFIX)
    store.projects.set_hook_token(project_id, code.id, token_hash)
    query = urlencode({"code_name": code.name, "oauth": token})
    url = url_for("project.tasks.inbound_webhook", project_id=project_id, _external=True)
    return jsonify(msg="Previous webhook token revoked", token=token, url=f"{url}?{query}")


@bp.post("/<code_id>/pause_task_queue")
def pause(project_id: str, code_id: str):
    return _set_paused(project_id, code_id, True, "Paused")


@bp.post("/<code_id>/resume_task_queue")
def resume(project_id: str, code_id: str):
    return _set_paused(project_id, code_id, False, "Resumed")


@bp.get("/<code_id>/stats")
def stats(project_id: str, code_id: str):
    """Tasks of this code per status, kept by the stats consumer of the events stream."""
    store = context.store()
    code = store.codes.get(project_id, code_id)
    counts = store.codes.stats(code.id)
    return jsonify({status.value: counts.get(status.value, 0) for status in TaskStatus})


def _set_paused(project_id: str, code_id: str, paused: bool, msg: str):
    store = context.store()
    code = store.codes.get(project_id, code_id)
    store.codes.set_paused(code.id, paused)
    return jsonify(msg=msg, code=_code_json(code))


def _code_json(code: Code) -> dict:
    return code_json(code) | {"paused": context.store().codes.is_paused(code.id)}


def _file_text(field: str) -> str | None:
    part = request.files.get(field)
    return part.read().decode("utf-8", "replace") if part else None


def _store_checked_archive(stream: IO[bytes]) -> tuple[str, int]:
    """Keep the archive only if it passes the safety checks (invalid content is deleted)."""
    settings, blobs = context.settings(), context.blobs()
    sha, size = blobs.put(stream, settings.max_archive_bytes)
    try:
        archive.check(blobs.path(sha), ArchiveLimits.from_settings(settings))
    except BadRequest:
        blobs.delete(sha)  # checks are deterministic: no valid code can share this content
        raise
    return sha, size
