"""Projects and the hashed tokens that authenticate them."""

from __future__ import annotations

import json

from redis import Redis, WatchError

from ironworks.codec import from_hash, to_hash
from ironworks.errors import NotFound
from ironworks.model import Project
from ironworks.store.keys import Keys


class ProjectStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def create(self, project: Project, token_hash: str) -> None:
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self._k.project(project.id), mapping=to_hash(project))
            pipe.sadd(self._k.projects(), project.id)
            pipe.set(self._k.token(token_hash), project.id)
            pipe.set(self._k.project_token(project.id), token_hash)
            pipe.execute()

    def ids(self) -> list[str]:
        return sorted(self._r.smembers(self._k.projects()))

    def set_egress(self, project_id: str, grants: list[str]) -> None:
        self._r.set(self._k.project_egress(project_id), json.dumps(grants))

    def egress(self, project_id: str) -> list[str]:
        """The project's egress grants ('CIDR:PORT'), as the operator last set them."""
        return json.loads(self._r.get(self._k.project_egress(project_id)) or "[]")

    def get(self, project_id: str) -> Project:
        raw = self._r.hgetall(self._k.project(project_id))
        if not raw:
            raise NotFound("Project not found")
        return from_hash(Project, raw)

    def update(self, project_id: str, changes: dict[str, int | None]) -> None:
        """Set fields of the project; None clears one (its default applies again)."""
        if changes:  # None is stored as the codec stores it, so the record still decodes
            self._r.hset(self._k.project(project_id), mapping={
                name: "" if value is None else value for name, value in changes.items()
            })  # fmt: skip

    def id_for_token(self, token_hash: str) -> str | None:
        return self._r.get(self._k.token(token_hash))

    def rotate_token(self, project_id: str, new_hash: str, presented_hash: str | None) -> None:
        """Make `new_hash` the project's only token: the current one is revoked, and so is
        the one presented, if it is this project's (a project made before tokens were
        tracked has no current one on record)."""
        revoked = [h for h in (presented_hash,) if h and self.id_for_token(h) == project_id]
        self._replace(
            self._k.project_token(project_id), revoked, self._k.token, new_hash, project_id
        )

    def set_hook_token(self, project_id: str, code_id: str, new_hash: str) -> None:
        """The code's inbound webhook token, replacing (and so revoking) any earlier one."""
        owner = f"{project_id} {code_id}"
        self._replace(self._k.code_hook_token(code_id), [], self._k.hook_token, new_hash, owner)

    def hook_token_owner(self, token_hash: str) -> tuple[str, str] | None:
        """(project id, code id) an inbound webhook token may queue tasks for."""
        owner = self._r.get(self._k.hook_token(token_hash))
        if owner is None:
            return None
        project_id, _, code_id = owner.partition(" ")
        return project_id, code_id

    def _replace(self, pointer: str, also_revoked: list[str], key_of, new_hash: str, owner: str):
        """Point `pointer` at `new_hash` (key_of(new_hash) → owner) and delete the token it
        pointed at before, in one WATCHed transaction: two rotations at once leave exactly
        one token valid."""
        while True:
            with self._r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(pointer)
                    current = pipe.get(pointer)
                    pipe.multi()
                    for old in {current, *also_revoked} - {None}:
                        pipe.delete(key_of(old))
                    pipe.set(key_of(new_hash), owner)
                    pipe.set(pointer, new_hash)
                    pipe.execute()
                    return
                except WatchError:
                    continue
