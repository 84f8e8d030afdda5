"""Outbound webhooks: who is told of a task's end, how the message is signed, when to retry."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from ironworks.model import TaskStatus

NOTIFIED = frozenset(
    {
        TaskStatus.COMPLETE,
        TaskStatus.ERROR,
        TaskStatus.TIMEOUT,
        TaskStatus.KILLED,
        TaskStatus.CANCELLED,
    }
)
MAX_ATTEMPTS = 8
SIGNATURE_HEADER = "X-Ironworks-Signature"


@dataclass(frozen=True)
class Webhook:
    id: str
    project_id: str
    url: str
    secret: str
    created_at: float
    code_name: str | None = None  # None: every code of the project

    def wants(self, code_name: str) -> bool:
        return self.code_name is None or self.code_name == code_name


@dataclass(frozen=True)
class Delivery:
    id: str
    hook_id: str
    project_id: str
    task_id: str
    status: str  # the task status being announced
    created_at: float
    state: str = "pending"  # pending | delivered | failed
    attempts: int = 0
    last_error: str | None = None


def signature(secret: str, body: bytes) -> str:
    """What the receiver recomputes: sha256=HMAC-SHA256(secret, body) in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_s(attempts: int) -> float:
    """Wait before the next try after `attempts` failed ones: 1, 2, 4 … 300 s."""
    return float(min(2 ** (attempts - 1), 300))
