"""Reading what a request carries before its model (api/bodies.py) or its query
declaration (api/queries.py) checks it: JSON, integers and times sent as text.

Each helper raises BadRequest naming the field, so a client learns exactly what to fix.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from flask import request

from ironworks.errors import BadRequest

# Beyond these an offset overflows what Redis takes as a range (a signed 64-bit integer).
MAX_PAGE = 1_000_000
QUERY_INT_LIMIT = 2**53
# Unix seconds written as text: digits, a point, a sign; no "nan", "inf" or "1_000".
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


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


def query_int(
    name: str, default: int | None, *, low: int = -QUERY_INT_LIMIT, high: int = QUERY_INT_LIMIT
) -> int | None:
    return int_value(request.args.get(name), name, default, low=low, high=high)


def int_value(
    raw: str | None, name: str, default: int | None, *, low: int = -QUERY_INT_LIMIT,
    high: int = QUERY_INT_LIMIT,
) -> int | None:  # fmt: skip
    """An integer sent as text (a query parameter, a header), within [low, high]."""
    if raw is None or raw == "":
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
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    if isinstance(raw, str) and NUMBER.fullmatch(raw):
        return float(raw)
    try:  # RFC 3339 allows a lower-case 't' and 'z'
        return datetime.fromisoformat(str(raw).upper().replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError) as e:  # OverflowError: a year 1 time west of UTC
        raise BadRequest(f"'{name}' must be unix seconds or an ISO 8601 time") from e
