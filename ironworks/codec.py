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
from collections.abc import Sequence
from typing import Any, TypeVar

from ironworks.errors import DecodeError

T = TypeVar("T")


def to_hash(obj: object, *, omit_none: bool = False) -> dict[str, str]:
    """Every field as text. `omit_none` leaves out fields that are None, for a new record
    whose absent fields read back as None (from_hash): fewer arguments to send."""
    return _encoded(obj, _field_names(type(obj)), omit_none)  # type: ignore[arg-type]


def _encoded(obj: object, names: Sequence[str], omit_none: bool) -> dict[str, str]:
    encoded = {}
    for name in names:
        value = getattr(obj, name)
        if type(value) is str:  # most fields: as they are
            encoded[name] = value
        elif value is not None or not omit_none:
            encoded[name] = _encode(value)
    return encoded


def to_hashes(
    objs: Sequence[object], *, omit_none: bool = False, apart: tuple[str, ...] = ()
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Records of one class encoded as `to_hash` would, in two parts: the fields every record
    has alike, encoded once, and each record's own other fields
    (the `apart` ones are never shared). A request's tasks share most of their fields: this
    compares values rather than encoding each record whole."""
    if len(objs) < 2:  # nothing to share
        return {}, [to_hash(obj, omit_none=omit_none) for obj in objs]
    first = objs[0]
    names = [name for name in _field_names(type(first)) if name not in apart]  # type: ignore[arg-type]
    alike = {name for name in names if _all_alike(objs, name, getattr(first, name))}
    shared = _encoded(first, [name for name in names if name in alike], omit_none)
    own_names = [name for name in names if name not in alike] + list(apart)
    return shared, [_encoded(obj, own_names, omit_none) for obj in objs]


def _all_alike(objs: Sequence[object], name: str, value: object) -> bool:
    """Whether the field encodes alike in every record: compared by value where equal values
    of one type encode alike (text, integers, None, empty containers), else by their text
    (0.0 == -0.0, and [1] == [1.0])."""
    kind = type(value)
    if kind is float or (kind in (dict, list) and value):
        text = _encode(value)
        return all(
            type(other := getattr(obj, name)) is kind and _encode(other) == text for obj in objs
        )
    return all(
        (other := getattr(obj, name)) is value or (type(other) is kind and other == value)
        for obj in objs
    )


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
