"""Reading request bodies: every field checked, absent and null treated alike.

Each helper raises BadRequest naming the field, so a client learns exactly what to fix.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from flask import request

from ironworks.errors import BadRequest

# Beyond these an offset overflows what Redis takes as a range (a signed 64-bit integer).
MAX_PAGE = 1_000_000
QUERY_INT_LIMIT = 2**53
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def json_body() -> dict[str, Any]:
    return json_field(request.get_data(cache=True) or b"null", "Request body")


def json_field(raw: str | bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    # RecursionError: nesting deeper than the parser's stack (a few thousand brackets).
    except (ValueError, RecursionError) as e:
        raise BadRequest(f"{what} is not valid JSON") from e
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return value


def required_str(body: dict, name: str, *, max_len: int = 1000) -> str:
    value = optional_str(body, name, max_len=max_len)
    if not value:
        raise BadRequest(f"'{name}' is required")
    return value


def optional_str(body: dict, name: str, *, max_len: int = 1000) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string")
    if len(value) > max_len:
        raise BadRequest(f"'{name}' is longer than {max_len} characters")
    return value


def name(body: dict, field: str) -> str:
    value = required_str(body, field, max_len=64)
    if not NAME_RE.match(value):
        raise BadRequest(f"'{field}' may hold letters, digits, '_', '.', '-' (max 64)")
    return value


def optional_int(
    body: dict, name: str, *, low: int | None = None, high: int | None = None
) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"'{name}' must be an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadRequest(f"'{name}' must be between {low} and {high}")
    return value


def optional_float(
    body: dict, name: str, *, low: float | None = None, high: float | None = None
) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"'{name}' must be a number")
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadRequest(f"'{name}' must be between {low} and {high}")
    return float(value)


def optional_bool(body: dict, name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be true or false")
    return value


def str_dict(body: dict, name: str) -> dict[str, str]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadRequest(f"'{name}' must be an object of strings")
    return value


def paging(max_per_page: int = 100) -> tuple[int, int]:
    """IronWorker paging: `page` from 0, `per_page` default 30, at most 100."""
    page = query_int("page", 0, low=0, high=MAX_PAGE)
    per_page = query_int("per_page", 30, low=1, high=max_per_page)
    return page, per_page


def query_int(
    name: str, default: int | None, *, low: int = -QUERY_INT_LIMIT, high: int = QUERY_INT_LIMIT
) -> int | None:
    return int_value(request.args.get(name), name, default, low=low, high=high)


def int_value(
    raw: str | None, name: str, default: int | None, *, low: int = -QUERY_INT_LIMIT,
    high: int = QUERY_INT_LIMIT,
) -> int | None:  # fmt: skip
    """An integer sent as text (a query parameter, a header), within [low, high]."""
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise BadRequest(f"'{name}' must be an integer") from e
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be between {low} and {high}")
    return value


def time_value(raw: object, name: str) -> float | None:
    """Unix seconds, as IronWorker clients send them, or ISO 8601."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    try:
        return float(str(raw))
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp()
    except ValueError as e:
        raise BadRequest(f"'{name}' must be unix seconds or an ISO 8601 time") from e
