"""Who changed a project's secrets or egress grants, when, and what (names and destinations,
never values): a stream per project and one for the admin, trimmed by time to the project's
retention (Redis's XADD MINID, on each write)."""

from __future__ import annotations

import json

from redis import Redis

from ironworks.audit_entry import AuditEntry
from ironworks.store.keys import Keys


class AuditStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def record(self, entry: AuditEntry, retention_s: int, installation_retention_s: int) -> None:
        """Kept for the project's retention in its stream, for the installation's in the
        admin's."""
        fields = {"project_id": entry.project_id, "actor": entry.actor, "action": entry.action,
                  "detail": json.dumps(entry.detail, sort_keys=True)}  # fmt: skip
        with self._r.pipeline(transaction=True) as pipe:
            for key, kept_s in ((self._k.project_audit(entry.project_id), retention_s),
                                (self._k.audit(), installation_retention_s)):  # fmt: skip
                pipe.xadd(key, fields, minid=int((entry.at - kept_s) * 1000), approximate=True)
            pipe.execute()

    def list(self, project_id: str | None, limit: int) -> list[AuditEntry]:
        """Newest first; every project's when `project_id` is None."""
        key = self._k.audit() if project_id is None else self._k.project_audit(project_id)
        return [
            AuditEntry(
                int(entry_id.split("-")[0]) / 1000,
                f["project_id"],
                f["actor"],
                f["action"],
                json.loads(f["detail"]),
            )  # fmt: skip
            for entry_id, f in self._r.xrevrange(key, count=limit)
        ]
