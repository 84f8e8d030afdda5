"""Query parameters, each declared once: a route names the ones it takes (`@takes`), reads
them through the declaration, and /openapi.json describes them from the same declaration.

A route cannot read a parameter it has not declared (`Query.read` refuses), so the document
cannot fall behind what the API accepts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, cast

from flask import current_app, request
from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from api import bodies, parsing
from ironworks.errors import BadRequest
from ironworks.model import LONGEST_WAIT_S, TaskStatus


@dataclasses.dataclass(frozen=True)
class Query:
    name: str
    description: str
    schema: dict[str, Any]
    # Raw text (None when absent or empty) → the value the route uses; raises BadRequest.
    convert: Callable[[str | None], Any] = lambda raw: raw
    required: bool = False

    def read(self) -> Any:
        return read_all((self,))[self.name]

    def _value(self) -> Any:
        given = request.args.getlist(self.name)
        if len(given) > 1:
            raise BadRequest(f"'{self.name}' is given more than once")
        return self.convert(given[0] if given and given[0] else None)

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "description": self.description,
            "schema": self.schema,
        }


def read_all(queries: tuple[Query, ...]) -> dict[str, Any]:
    """Each of these parameters' value by name (the route's declaration looked at once)."""
    view = current_app.view_functions.get(request.endpoint or "")
    declared = getattr(view, "queries", ())
    for query in queries:
        if not any(q is query for q in declared):
            raise LookupError(f"{request.endpoint} reads '{query.name}' without declaring it")
    return {query.name: query._value() for query in queries}


def takes(*queries: Query) -> Callable:
    """Declares the query parameters a view reads."""

    def declare(view: Callable) -> Callable:
        view.queries = queries  # type: ignore[attr-defined]
        return view

    return declare


def typed(
    name: str, description: str, annotation: Any, field: FieldInfo | None = None,
    required: bool = False,
) -> Query:  # fmt: skip
    """A parameter checked as a body's field is (bodies.text_field: the same pydantic types,
    bounds and messages), its schema the field's own."""
    model = bodies.text_field(name, annotation, field)
    schema = bodies.field_schema(model, name)
    if field is not None and field.default not in (None, PydanticUndefined):
        schema["default"] = field.default
    absent = _absent(model, name)

    def convert(raw: str | None) -> Any:
        if raw is None and absent is not _REFUSED:
            return absent  # what pydantic makes of an absent field, found once
        return bodies.read_text(model, name, raw)

    return Query(name, description, schema, convert, required)


_REFUSED = object()


def _absent(model: type[bodies.Text], name: str) -> Any:
    """What an absent parameter reads as, when that is a plain value (its default) to hand
    every request alike; _REFUSED when it must be checked each time (a required one)."""
    try:
        value = bodies.read_text(model, name, None)
    except BadRequest:
        return _REFUSED
    return value if value is None or isinstance(value, str | int | float) else _REFUSED


def integer(name: str, description: str, default: int | None, low: int, high: int) -> Query:
    bounds = Field(default=default, ge=low, le=high)
    return typed(name, description, int | None, cast(FieldInfo, bounds))


def text(name: str, description: str, max_len: int = 1000) -> Query:
    return typed(
        name, description, str | None, cast(FieldInfo, Field(default=None, max_length=max_len))
    )


FLAG_VALUES = ("1", "true", "0", "false")


def flag(name: str, description: str) -> Query:
    """IronWorker's `name=1` (or `true`): on; `0`, `false` or absent: off."""

    def convert(raw: str | None) -> bool:
        if raw is not None and raw not in FLAG_VALUES:
            raise BadRequest(f"'{name}' must be one of {', '.join(FLAG_VALUES)}")
        return raw in ("1", "true")

    return Query(name, description, {"type": "string", "enum": list(FLAG_VALUES)}, convert)


def _time(name: str) -> Query:
    return Query(
        name, "Unix seconds or an ISO 8601 time (empty: any)",
        {"anyOf": [*bodies.TIME_SCHEMA["anyOf"], {"const": ""}]},
        lambda raw: parsing.time_value(raw, name),
    )  # fmt: skip


def _status(raw: str | None) -> TaskStatus | None:
    if raw is None:
        return None
    try:
        return TaskStatus(raw)
    except ValueError as e:
        known = ", ".join(s.value for s in TaskStatus)
        raise BadRequest(f"unknown status {raw!r}; known: {known}") from e


def _wait(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        wait_s = float(raw)
    except ValueError:
        wait_s = -1.0
    if not 0 < wait_s <= LONGEST_WAIT_S:  # also NaN
        raise BadRequest(f"'wait' must be a number of seconds above 0, at most {LONGEST_WAIT_S:g}")
    return wait_s


# IronWorker paging: `page` from 0, `per_page` default 30, at most 100.
PAGE = integer("page", "Page number, from 0", 0, 0, parsing.MAX_PAGE)
PER_PAGE = integer("per_page", "Items per page", 30, 1, 100)
PAGING = (PAGE, PER_PAGE)

CODE_NAME = text("code_name", "Only this code's tasks", max_len=bodies.CODE_NAME_MAX)
LABEL = text("label", "Only tasks with this label", max_len=bodies.LABEL_MAX)
STATUS = Query("status", "Only tasks in this status",
               {"type": "string", "enum": [s.value for s in TaskStatus]}, _status)  # fmt: skip
STATUS_FLAGS = tuple(flag(s.value, f"Include {s.value} tasks (OR-ed)") for s in TaskStatus)
FROM_TIME, TO_TIME = _time("from_time"), _time("to_time")
WAIT = Query(
    "wait", f"Hold the answer until the task ends, at most this many seconds ({LONGEST_WAIT_S:g})",
    {"type": "number", "exclusiveMinimum": 0, "maximum": LONGEST_WAIT_S}, _wait,
)  # fmt: skip
REVISION = integer("revision", "Which revision (default: the current one)", None, 1, 2**31)


def task_option(name: str, description: str, required: bool = False) -> Query:
    """A field of a task (bodies.TaskItem) given in the query, as the field itself."""
    field = bodies.TaskItem.model_fields[name]
    return typed(name, description, field.annotation, field, required)


# Options of the inbound webhook, whose body is the payload.
WEBHOOK_OPTIONS = (
    task_option("code_name", "The code to run", required=True),
    task_option("cluster", "Run on this cluster's runners"),
    task_option("label", "The task's label"),
    *(task_option(n, f"The task's {n}") for n in ("priority", "delay", "timeout")),
)


def paging() -> tuple[int, int]:
    return PAGE.read(), PER_PAGE.read()
