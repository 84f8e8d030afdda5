"""An entry of a project's audit trail. Pure, like model.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditEntry:
    """A change to a project's secrets or egress grants (names, never values)."""

    at: float
    project_id: str
    actor: str  # "admin", or "token:<first 12 hex of the token's hash>"
    action: str  # secret.set, secret.delete, egress.set
    detail: dict[str, object]
