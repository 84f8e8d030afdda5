"""The one rule every way of queueing work shares: a payload is text within the
installation's size limit (`max_payload_bytes`)."""

from __future__ import annotations

import json

from ironworks.errors import BadRequest, TooLarge


def checked(payload: str, max_bytes: int, what: str = "payload") -> str:
    """The payload, if it fits."""
    if len(payload.encode()) > max_bytes:
        raise TooLarge(f"{what} is larger than {max_bytes} bytes")
    return payload


def from_bytes(body: bytes, max_bytes: int) -> str:
    """A raw request body as a payload (the inbound webhook's): checked before decoding."""
    if len(body) > max_bytes:
        raise TooLarge(f"payload is larger than {max_bytes} bytes")
    try:
        return body.decode()
    except UnicodeDecodeError as e:
        raise BadRequest("the request body must be UTF-8 text") from e


def listed(raw: list, max_bytes: int) -> list[str]:
    """A batch's payloads: strings as they are; any other JSON value is encoded, as a
    convenience."""
    payloads = [p if isinstance(p, str) else json.dumps(p) for p in raw]
    return [checked(p, max_bytes, f"payloads[{i}]") for i, p in enumerate(payloads)]
