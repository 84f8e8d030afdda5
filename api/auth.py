"""Token authentication: `Authorization: OAuth <token>` (or Bearer, or ?oauth=)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import g, request

from api import context
from ironworks.errors import Forbidden, NotFound, Unauthorized
from ironworks.model import Task, TaskStatus
from ironworks.store.task_tokens import is_task_token

# Inbound webhook tokens look different, so that one is recognised without a lookup.
HOOK_TOKEN_PREFIX = "iwh_"


def new_token(prefix: str = "") -> tuple[str, str]:
    """A fresh token and the hash we keep of it (the token itself is never stored)."""
    token = prefix + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("oauth", "bearer") and value.strip():
        return value.strip()
    return request.args.get("oauth") or None


def is_admin(token: str) -> bool:
    admin = context.settings().admin_token
    return bool(admin) and hmac.compare_digest(token.encode(), admin.encode())


def _task_of(token: str, project_id: str) -> Task:
    store = context.store()
    ended = Unauthorized("This task's API credential is no longer valid: the task has ended")
    held = store.task_tokens.holder(token)
    if held is None:
        raise ended
    try:
        task = store.tasks.get(held[0])
    except NotFound:
        raise ended from None
    if task.status is not TaskStatus.RUNNING or task.attempt != held[1]:
        raise ended
    if task.project_id != project_id:
        raise NotFound("Project not found")
    return task


def require_admin() -> None:
    token = presented_token()
    if token is None or not is_admin(token):
        raise Unauthorized("Admin token required")


def actor() -> str:
    """Who the request's token is, for the audit trail: never the token itself."""
    token = presented_token() or ""
    return "admin" if is_admin(token) else f"token:{hash_token(token)[:12]}"


def require_inbound(project_id: str, code_name: str) -> None:
    """The inbound webhook route takes the project's token (as IronWorker's does) or the
    code's own webhook token, which can do nothing else: given to a third party, it lets
    them queue tasks of that one code."""
    token = presented_token()
    if token is None or not token.startswith(HOOK_TOKEN_PREFIX):
        require_project(project_id)
        return
    store = context.store()
    owner = store.projects.hook_token_owner(hash_token(token))
    if owner is None:
        raise Unauthorized("Invalid webhook token")
    if owner != (project_id, store.codes.by_name(project_id, code_name).id):
        raise Unauthorized("This webhook token queues tasks of another code")


def require_project(project_id: str, task_may_call: bool = False) -> None:
    """Allow the project's own token or the admin token; another project's token sees 404.
    A running task's credential (its runner sends it for the task's API socket) is taken only
    where `task_may_call` (routes/project_scope.py says which), and stands for that task: the
    request is the task's (context.calling_task)."""
    token = presented_token()
    if token is None:
        raise Unauthorized("Missing token: send 'Authorization: OAuth <token>'")
    if is_task_token(token):
        task = _task_of(token, project_id)
        if not task_may_call:
            raise Forbidden("a task's API socket cannot do this (see docs/worker-contract.md)")
        g.calling_task = task
        return
    if is_admin(token):
        context.store().projects.get(project_id)  # 404 for unknown projects
        return
    owner = context.store().projects.id_for_token(hash_token(token))
    if owner is None:
        raise Unauthorized("Invalid token")
    if owner != project_id:
        raise NotFound("Project not found")
