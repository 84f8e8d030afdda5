"""Code packages and their revisions. A task pins the revision current when it was queued."""

from __future__ import annotations

import dataclasses

from redis import Redis

from ironworks.codec import from_hash, to_hash
from ironworks.errors import NotFound
from ironworks.model import Code, new_id
from ironworks.store.keys import Keys


class CodeStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def add_revision(self, draft: Code) -> Code:
        """Store `draft` as the next revision of the project's code of that name.

        Id and revision number are assigned here; two concurrent uploads of one name get
        distinct revisions (HINCRBY) and the newer one ends up current.
        """
        names = self._k.code_names(draft.project_id)
        self._r.hsetnx(names, draft.name, new_id())
        code_id = self._r.hget(names, draft.name)
        rev = int(self._r.hincrby(self._k.code(code_id), "revisions", 1))
        code = dataclasses.replace(draft, id=code_id, rev=rev)
        fields = to_hash(code)
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self._k.code_revision(code_id, rev), mapping=fields)
            pipe.hset(self._k.code(code_id), mapping=fields)
            if code.archive_sha256:
                pipe.hincrby(self._k.blob_refs(), code.archive_sha256, 1)
            pipe.execute()
        return code

    def prune_revision(self, code: Code, keep: int) -> str | None:
        """After `code` became revision N, delete revision N - keep (unless a rollback made it
        current again). Returns the archive's sha256 when no kept revision uses it any more,
        for the caller to delete. A task still queued for a pruned revision ends in error."""
        old = code.rev - keep
        current = self._r.hget(self._k.code(code.id), "rev")
        if old < 1 or current == str(old):
            return None
        sha = self._r.hget(self._k.code_revision(code.id, old), "archive_sha256")
        with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(self._k.code_revision(code.id, old))
            if sha:
                pipe.hincrby(self._k.blob_refs(), sha, -1)
            left = pipe.execute()
        if not sha or left[-1] != 0:  # still used, or counted before refs were (keep it)
            return None
        self._r.hdel(self._k.blob_refs(), sha)
        return sha

    def get(self, project_id: str, code_id: str) -> Code:
        return code_of_project(self._r.hgetall(self._k.code(code_id)), project_id)

    def revisions(self, code_id: str) -> list[Code]:
        """Every revision, newest first."""
        count = int(self._r.hget(self._k.code(code_id), "revisions") or 0)
        with self._r.pipeline(transaction=False) as pipe:
            for rev in range(count, 0, -1):
                pipe.hgetall(self._k.code_revision(code_id, rev))
            return [from_hash(Code, raw) for raw in pipe.execute() if raw]

    def rollback(self, code: Code, rev: int) -> Code:
        """Make revision `rev` the one new tasks pin; tasks already queued keep theirs."""
        target = self.revision(code.id, rev)
        self._r.hset(self._k.code(code.id), mapping=to_hash(target))
        return target

    def delete(self, code: Code) -> None:
        """The name is freed and the code disappears from listings; its revisions stay for the
        tasks that pinned them."""
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hdel(self._k.code_names(code.project_id), code.name)
            pipe.hset(self._k.code(code.id), "deleted", "1")
            pipe.execute()

    def by_name(self, project_id: str, name: str) -> Code:
        code_id = self._r.hget(self._k.code_names(project_id), name)
        if code_id is None:
            raise NotFound(f"Code {name!r} not found")
        return self.get(project_id, code_id)

    def current_rev(self, code_id: str) -> int | None:
        """The revision new tasks run; None once the code is deleted."""
        rev, deleted = self._r.hmget(self._k.code(code_id), "rev", "deleted")
        return None if rev is None or deleted else int(rev)

    def set_paused(self, code_id: str, paused: bool) -> None:
        """A paused code admits nothing; what is running goes on. Admission reads the flag."""
        self._r.hset(self._k.code(code_id), "paused", "1" if paused else "0")

    def is_paused(self, code_id: str) -> bool:
        return self._r.hget(self._k.code(code_id), "paused") == "1"

    def stats(self, code_id: str) -> dict[str, int]:
        return {
            status: int(n) for status, n in self._r.hgetall(self._k.code_stats(code_id)).items()
        }

    def revision(self, code_id: str, rev: int) -> Code:
        raw = self._r.hgetall(self._k.code_revision(code_id, rev))
        if not raw:
            raise NotFound(f"Code revision {rev} not found")
        return from_hash(Code, raw)

    def list(self, project_id: str) -> list[Code]:
        ids = sorted(self._r.hvals(self._k.code_names(project_id)))
        with self._r.pipeline(transaction=False) as pipe:
            for code_id in ids:
                pipe.hgetall(self._k.code(code_id))
            raws = pipe.execute()
        codes = [from_hash(Code, raw) for raw in raws if raw.get("rev")]
        return sorted(codes, key=lambda c: c.name)


def code_of_project(raw: dict[str, str], project_id: str) -> Code:
    """A code's current revision as read from its hash: a 404 unless it is the project's and
    not deleted."""
    if not raw.get("rev") or raw.get("project_id") != project_id or raw.get("deleted"):
        raise NotFound("Code not found")
    return from_hash(Code, raw)
