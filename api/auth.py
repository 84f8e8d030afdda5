"""Token authentication: `Authorization: OAuth <token>` (or Bearer, or ?oauth=)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from flask import Response, g, jsonify, request

from api import context
from api.errors import status_of
from ironworks.errors import Forbidden, NotFound, Unauthorized
from ironworks.model import Task, TaskStatus
from ironworks.store import PASSING_ERRORS
from ironworks.store.intake import Intake
from ironworks.store.task_tokens import is_task_token

log = logging.getLogger(__name__)


class _Looked(Protocol):
    @property
    def token_owner(self) -> str | None: ...


Read = TypeVar("Read", bound=_Looked)

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


def require_inbound(project_id: str, code_name: str, look_up_later: bool = False) -> None:
    """The inbound webhook route takes the project's token (as IronWorker's does) or the
    code's own webhook token, which can do nothing else: given to a third party, it lets
    them queue tasks of that one code."""
    token = presented_token()
    if token is None or not token.startswith(HOOK_TOKEN_PREFIX):
        require_project(project_id, look_up_later=look_up_later)
        return
    store = context.store()
    owner = store.projects.hook_token_owner(hash_token(token))
    if owner is None:
        raise Unauthorized("Invalid webhook token")
    if owner != (project_id, store.codes.by_name(project_id, code_name).id):
        raise Unauthorized("This webhook token queues tasks of another code")


def require_project(
    project_id: str, task_may_call: bool = False, look_up_later: bool = False
) -> None:
    """Allow the project's own token or the admin token; another project's token sees 404.
    A running task's credential (its runner sends it for the task's API socket) is taken only
    where `task_may_call` (routes/project_scope.py says which), and stands for that task: the
    request is the task's (context.calling_task).

    `look_up_later`: a project token's lookup is left to the route's first read
    (`first_read`), a round trip fewer for the routes called most; the route writes nothing
    before it (`unsettled` answers a route that failed before it)."""
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
    if look_up_later:
        g.token_lookup = (hash_token(token), project_id)
        return
    _require_owner(context.store().projects.id_for_token(hash_token(token)), project_id)


def _require_owner(owner: str | None, project_id: str) -> None:
    """The token looked up is of this project."""
    if owner is None:
        raise Unauthorized("Invalid token")
    if owner != project_id:
        raise NotFound("Project not found")


def first_read(read: Callable[[str | None], Read]) -> Read:
    """A route's first read, `read(token_hash)`, with the token lookup `require_project` left
    to it (`look_up_later`): the token's owner is checked before the route sees what it read."""
    token_hash, project_id = g.get("token_lookup") or (None, "")
    found = read(token_hash)
    if token_hash is not None:
        g.token_lookup = None
        _require_owner(found.token_owner, project_id)
    return found


def intake(project_id: str, names: Sequence[str], seqs: int) -> Intake:
    """Queueing's first read (store.tasks.intake), with the token lookup left to it."""
    return first_read(lambda token_hash: context.store().tasks.intake(
        project_id, names, seqs, token_hash))  # fmt: skip


def queue(
    project_id: str, names: Sequence[str], make: Callable[[Intake], list[Task]], now: float,
    *, plain: bool,
) -> tuple[list[Task], list[Task]]:  # fmt: skip
    """Make one task per name, of the code of that name (`make(intake)`), and store them,
    with the token lookup left to the first round trip: the tasks made, and those stored
    (where an earlier task holds a task's idempotency key, that task; store.tasks.enqueue).

    `plain` tasks (no idempotency key, no dependency) of codes this process has read lately
    take one round trip: made from the codes as read then, and stored by a script that
    first checks the token and that those codes are unchanged (writing nothing if not: then
    the codes are read again). Those are returned as made, their seqs not the ones stored
    (store.tasks.enqueue_checked). Other tasks take two: the codes read, the tasks stored."""
    store = context.store()
    if plain and (known := store.tasks.known_intake(project_id, names)) is not None:
        made = make(known)
        checked = first_read(lambda token_hash: store.tasks.enqueue_checked(
            made, now, known, token_hash))  # fmt: skip
        if checked.offset is not None:
            return made, made
    made = make(intake(project_id, names, len(names)))
    return made, store.tasks.enqueue(made, now, numbered=True)


def unsettled(response: Response) -> Response:
    """A route whose token lookup was left to its first read, but that failed before it (a
    malformed body): the token is looked up now, and an invalid one answered as such."""
    lookup = g.pop("token_lookup", None)
    if lookup is None:
        return response
    if response.status_code < 400:  # a route that answered without its lookup: a bug
        log.error("%s answered without looking its token up", request.endpoint)
        return _answer(500, "Internal error")
    try:
        _require_owner(context.store().projects.id_for_token(lookup[0]), lookup[1])
    except (Unauthorized, NotFound) as e:
        return _answer(status_of(e), str(e))
    except PASSING_ERRORS:
        pass  # the route's own error stands: nothing was done
    return response


def _answer(status: int, msg: str) -> Response:
    response = jsonify(msg=msg)
    response.status_code = status
    return response
