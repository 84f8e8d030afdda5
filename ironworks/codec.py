"""Flat encoding of frozen dataclasses to Redis hashes (str -> str) and back.

Fields are int, float, str, bool, dict/list (stored as JSON) or Optional of those;
None is stored as the empty string. Decoding failures raise DecodeError.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from typing import Any, TypeVar

from ironworks.errors import DecodeError

T = TypeVar("T")


def to_hash(obj: object, *, omit_none: bool = False) -> dict[str, str]:
    """Every field as text. `omit_none` leaves out fields that are None, for a new record
    whose absent fields read back as None (from_hash): fewer arguments to send."""
    encoded = {}
    for name in _field_names(type(obj)):  # type: ignore[arg-type]
        value = getattr(obj, name)
        if type(value) is str:  # most fields: as they are
            encoded[name] = value
        elif value is not None or not omit_none:
            encoded[name] = _encode(value)
    return encoded


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def from_hash(cls: type[T], raw: dict[str, str]) -> T:
    hints = _field_types(typing.cast(type, cls))
    try:
        values = {name: _decode(kind, raw[name]) for name, kind in hints.items() if name in raw}
        return cls(**values)
    except (ValueError, TypeError) as e:
        raise DecodeError(f"cannot decode {cls.__name__}: {e}") from e


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _encode(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _decode(kind: Any, raw: str) -> object:
    args = typing.get_args(kind)
    if isinstance(kind, types.UnionType) and type(None) in args:
        if raw == "":
            return None
        kind = next(a for a in args if a is not type(None))
    origin = typing.get_origin(kind) or kind
    if origin is bool:
        return raw == "1"
    if origin in (int, float):
        return origin(raw)
    if origin in (dict, list):
        return json.loads(raw)
    if isinstance(kind, type) and issubclass(kind, str):
        return kind(raw)
    return raw
