"""Concurrency keys and the admission lanes they make. Pure: no Redis here.

A code's tasks wait in one lane, the code's own, unless they carry a concurrency key: then
each key is a lane of its own, with its own limit (`max_concurrency_per_key`), and admission
serves a code's keyed lanes in turn, so one key's backlog does not hold back another key.

A code's `concurrency_key` is a template over the task's JSON payload: `{customer_id}`, or
several fields and text, `{org}/{region.name}` (a dotted name reaches into objects). A task
may also give its key itself.

Which lanes one admission call passes to admit.lua (`choose_lanes`) is decided here too, on
what the store read of them; the script decides again, atomically.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from ironworks.errors import BadRequest

# One priority's span of admission scores (model.admission_score): band * BAND + seq.
BAND = 10**15
FIELD = re.compile(r"\{([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\}")
MAX_KEY_LENGTH = 256


class KeyTemplateError(BadRequest):
    """A template that names no field, or a payload that does not fill it."""


def template_fields(template: str) -> list[str]:
    """The payload fields a key template names; a template must name at least one."""
    fields = FIELD.findall(template)
    if not fields:
        raise KeyTemplateError(f"concurrency_key {template!r} names no payload field, e.g. {{id}}")
    return fields


def render(template: str, payload: str) -> str:
    """The key a task with this payload has under the template."""
    template_fields(template)
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise KeyTemplateError(f"concurrency_key {template!r} needs a JSON object payload")

    def value_of(match: re.Match) -> str:
        value: object = document
        for part in match[1].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None or isinstance(value, dict | list):
            raise KeyTemplateError(
                f"concurrency_key {template!r}: the payload has no text or number at {match[1]!r}"
            )
        return json.dumps(value) if isinstance(value, bool) else str(value)

    return FIELD.sub(value_of, template)[:MAX_KEY_LENGTH]


def key_for(template: str | None, own: str | None, payload: str) -> str | None:
    """A task's concurrency key: the one it gives itself, else its code's template filled."""
    if own is not None or template is None:
        return own or None
    return render(template, payload)


# Between a code's id and a key's hash in a keyed lane's id (the scripts' prelude has it too).
LANE_SEP = "@"


def lane_of(code_id: str, key: str | None) -> str:
    """The lane a task waits in: its code's, or its key's lane of that code."""
    if key is None:
        return code_id
    return f"{code_id}{LANE_SEP}{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def code_of(lane: str) -> str:
    return lane.partition(LANE_SEP)[0]


def is_keyed(lane: str) -> bool:
    return LANE_SEP in lane


# How many candidates of a lane one admission call looks at, and how many lanes.
HEADS_PER_LANE = 16
LANES_PER_CALL = 512


@dataclass(frozen=True)
class CodeLimits:
    """What of a code's current revision admission needs, and its running count."""

    paused: bool = False
    max_concurrency: int | None = None
    max_concurrency_per_key: int | None = None
    rate_limit_count: int | None = None
    rate_limit_period_s: int | None = None
    rate_limit_per_key: bool = False
    active: int = 0

    FIELDS = (
        "paused", "max_concurrency", "max_concurrency_per_key", "rate_limit_count",
        "rate_limit_period_s", "rate_limit_per_key",
    )  # fmt: skip

    @classmethod
    def read(cls, fields: list[str | None], active: int) -> CodeLimits:
        paused, limit, per_key, count, period, rate_per_key = fields
        return cls(paused == "1", _int(limit), _int(per_key), _int(count), _int(period),
                   rate_per_key == "1", active)  # fmt: skip


@dataclass(frozen=True)
class LaneView:
    """A waiting lane as one read saw it: the script decides, this only picks the lanes
    worth passing to it, and how many of each lane's head."""

    id: str
    heads: list[tuple[str, float]]  # task id, admission score
    turn: int
    code: CodeLimits
    active: int  # tasks of the lane holding a slot (the code's for a code's own lane)
    admitted_in_window: int = 0

    @property
    def effective_score(self) -> float:
        """admit.lua's order: priority band, then arrival, a keyed lane no earlier than
        its last turn."""
        score = self.heads[0][1]
        if not is_keyed(self.id):
            return score
        band = score // BAND * BAND
        return band + max(score - band, self.turn)

    @property
    def room(self) -> int:
        """How many of its tasks the lane's limits would let in now."""
        code = self.code
        if code.paused:
            return 0
        room = HEADS_PER_LANE
        if code.max_concurrency is not None:
            room = min(room, code.max_concurrency - code.active)
        if is_keyed(self.id) and code.max_concurrency_per_key is not None:
            room = min(room, code.max_concurrency_per_key - self.active)
        if code.rate_limit_count is not None:
            room = min(room, code.rate_limit_count - self.admitted_in_window)
        return max(room, 0)

    @property
    def candidates(self) -> list[tuple[str, float]]:
        return self.heads[: self.room]


def choose_lanes(views: list[LaneView]) -> list[LaneView]:
    """The lanes one admission call looks at: those with room, most due first,
    LANES_PER_CALL at most; and the empty ones, for the script to drop."""
    open_ = sorted((v for v in views if v.candidates), key=lambda v: v.effective_score)
    return open_[:LANES_PER_CALL] + [v for v in views if not v.heads]


def _int(raw: str | None) -> int | None:
    return int(raw) if raw else None
