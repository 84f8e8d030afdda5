"""Code packages: multipart upload (`data` JSON + `file` zip), listing, details."""

from __future__ import annotations

import dataclasses
import time
from typing import BinaryIO

from flask import Blueprint, jsonify, request

from api import auth, context, parsing
from api.views import code_json
from ironworks import archive
from ironworks.archive import ArchiveLimits
from ironworks.errors import BadRequest
from ironworks.model import MAX_RETRIES, Code, TaskStatus
from ironworks.stacks import STACKS, legacy_runtime

bp = Blueprint("codes", __name__, url_prefix="/2/projects/<project_id>/codes")


@bp.before_request
def authenticate():
    auth.require_project(request.view_args["project_id"])


@bp.post("")
def upload(project_id: str):
    data_part = request.form.get("data") or _file_text("data")
    if data_part is None:
        raise BadRequest("multipart field 'data' (JSON) is required")
    data = parsing.json_field(data_part, "'data'")
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("multipart field 'file' (a zip archive) is required")
    draft = _draft(project_id, data)
    sha, size = _store_checked_archive(upload.stream)
    code = context.store().codes.add_revision(
        dataclasses.replace(draft, archive_sha256=sha, archive_size=size)
    )
    return jsonify(_code_json(code) | {"msg": "Upload successful."})


@bp.get("")
def list_codes(project_id: str):
    page, per_page = parsing.paging()
    codes = context.store().codes.list(project_id)
    window = codes[page * per_page : (page + 1) * per_page]
    return jsonify(codes=[code_json(c) for c in window])


@bp.get("/<code_id>")
def get_code(project_id: str, code_id: str):
    return jsonify(_code_json(context.store().codes.get(project_id, code_id)))


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


def _draft(project_id: str, data: dict) -> Code:
    stack, command = _stack_and_command(data)
    settings = context.settings()
    return Code(
        id="",
        project_id=project_id,
        name=parsing.name(data, "name"),
        rev=0,
        stack=stack,
        command=command,
        archive_sha256="",
        archive_size=0,
        created_at=time.time(),
        max_concurrency=_unlimited_as_none(parsing.optional_int(data, "max_concurrency", low=-1)),
        timeout=parsing.optional_int(data, "timeout", low=1, high=settings.max_timeout_s),
        env_vars=parsing.str_dict(data, "env_vars"),
        retries=parsing.optional_int(data, "retries", low=0, high=MAX_RETRIES) or 0,
        retries_delay=parsing.optional_int(data, "retries_delay", low=0, high=settings.max_delay_s)
        or 0,
    )


def _stack_and_command(data: dict) -> tuple[str, str]:
    """Either `stack` + `command`, or IronWorker's legacy `runtime` + `file_name`."""
    runtime = parsing.optional_str(data, "runtime", max_len=32)
    file_name = parsing.optional_str(data, "file_name", max_len=255)
    stack = parsing.optional_str(data, "stack", max_len=32)
    command = parsing.optional_str(data, "command", max_len=4096)
    if command is None and runtime and file_name:
        stack, command = legacy_runtime(runtime, file_name)
    stack = stack or "sh"
    if stack not in STACKS:
        raise BadRequest(f"unknown stack {stack!r}; known: {', '.join(sorted(STACKS))}")
    if not command:
        raise BadRequest("'command' is required (or the legacy 'runtime' + 'file_name')")
    return stack, command


def _unlimited_as_none(value: int | None) -> int | None:
    """IronWorker sends -1 for 'no limit'; 0 would mean the code can never run, so refuse it."""
    if value == 0:
        raise BadRequest("'max_concurrency' must be >= 1, or -1/null for unlimited")
    return None if value is None or value < 0 else value


def _store_checked_archive(stream: BinaryIO) -> tuple[str, int]:
    """Keep the archive only if it passes the safety checks (invalid content is deleted)."""
    settings, blobs = context.settings(), context.blobs()
    sha, size = blobs.put(stream, settings.max_archive_bytes)
    try:
        archive.check(blobs.path(sha), ArchiveLimits.from_settings(settings))
    except BadRequest:
        blobs.delete(sha)  # checks are deterministic: no valid code can share this content
        raise
    return sha, size
