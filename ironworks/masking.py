"""Hide the values of secret-looking keys (token, password, secret, key, …) in payloads shown
to people, at any depth of the JSON."""

from __future__ import annotations

import json
import re

MASK = "••••••"
# Any of these inside a key marks it secret ("db_password", "githubToken", "clientSecret").
SECRET_PARTS = ("password", "passwd", "secret", "token", "apikey", "credential", "privatekey")
# These must be a whole word of the key ("api_key", "key", "AUTH"; not "monkey", "author").
SECRET_WORDS = frozenset({"key", "pwd", "pass", "auth", "authorization", "cookie", "session"})


def is_secret_key(key: str) -> bool:
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()
    squashed = re.sub(r"[^a-z0-9]", "", words)
    return any(part in squashed for part in SECRET_PARTS) or bool(
        SECRET_WORDS & set(re.split(r"[^a-z0-9]+", words))
    )


def masked(value: object) -> object:
    if isinstance(value, dict):
        return {k: MASK if is_secret_key(str(k)) else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def masked_payload(payload: str) -> str:
    """A JSON payload pretty-printed with secrets masked; any other text as it is."""
    try:
        return json.dumps(masked(json.loads(payload)), indent=2, ensure_ascii=False)
    except ValueError:
        return payload
