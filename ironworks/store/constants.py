"""Values the store's Python and its Lua scripts must agree on, defined once.

The Lua side gets them through the prelude `scripts.py` puts before every script (`wake`,
`add_event`, `expiring_member`, `BAND`, `task_key`), so no script writes its own copy.
"""

from __future__ import annotations

from typing import Literal

# The scheduler's wake list is a signal, not a queue: a few entries wake every waiting
# scheduler, so each push trims it to this length.
WAKE_LIST_LEN = 100
# The events stream is trimmed (approximately) to this many entries; its consumers keep well
# ahead of it.
EVENTS_MAXLEN = 1_000_000

ExpiringKind = Literal["task", "batch"]


EXPIRING_SEP = ":"


def expiring_member(kind: ExpiringKind, object_id: str) -> str:
    """The member of the `expiring` zset for an ended task or batch."""
    return f"{kind}{EXPIRING_SEP}{object_id}"


def parse_expiring(member: str) -> tuple[str, str]:
    """(kind, id) of an `expiring` member."""
    kind, _, object_id = member.partition(EXPIRING_SEP)
    return kind, object_id
