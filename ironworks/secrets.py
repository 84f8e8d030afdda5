"""Project secrets: what a secret may be called and hold, how it is sealed at rest, and how its
value is kept out of what the platform stores and shows.

Sealing is AES-256-GCM from `cryptography` (no crypto of our own). The operator's key is
`IRONWORKS_SECRETS_KEY`: one or more base64 keys of 32 bytes, comma-separated; the first
seals, any of them opens, so a key is rotated by putting the new one first and running
`ironworks secrets rotate-key`, then dropping the old one. Each sealed value names its key
(the first 8 hex digits of the key's SHA-256) and is bound to its project and name (the
associated data), so a sealed value copied to another project's secret does not open.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ironworks.errors import BadRequest, ConfigError, Unavailable

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_VALUE_BYTES = 64 * 1024
# Set by the platform in every task's environment (docs/worker-contract.md): not a secret's.
RESERVED = frozenset({
    "TASK_ID", "REPLAY_OF", "PAYLOAD_FILE", "CONFIG_FILE", "TASK_DIR", "RESULT_FILE",
    "PROGRESS_FILE", "HOME", "PATH",
})  # fmt: skip
MASK = "***"
# Values shorter than this are not masked in logs: "1" or "ok" would hide half the output
# and reveal, by the holes, what the value is. Such a value is not much of a secret.
MIN_MASKED_CHARS = 4
VERSION = "v1"


class SecretsUnavailable(Unavailable):
    """This process has no key to seal or open secrets with."""


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise BadRequest(
            f"secret name {name[:130]!r} must be an environment variable name:"
            " letters, digits and _, not starting with a digit, at most 128 characters"
        )
    if name in RESERVED:
        raise BadRequest(f"{name} is set by the platform in every task; choose another name")
    return name


def check_value(value: str) -> str:
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise BadRequest(f"a secret's value is at most {MAX_VALUE_BYTES} bytes")
    if "\0" in value:
        raise BadRequest("a secret's value cannot hold a NUL character (environment variables)")
    return value


def new_key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


class Vault:
    def __init__(self, keys: str) -> None:
        self._keys: dict[str, AESGCM] = {}
        self._first = ""
        for text in (k.strip() for k in keys.split(",")):
            if not text:
                continue
            try:
                raw = base64.b64decode(text, validate=True)
            except ValueError as e:
                raise ConfigError(f"IRONWORKS_SECRETS_KEY: a key is not base64: {e}") from e
            if len(raw) != 32:
                raise ConfigError("IRONWORKS_SECRETS_KEY: each key is 32 bytes, base64-encoded")
            key_id = hashlib.sha256(raw).hexdigest()[:8]
            self._keys[key_id] = AESGCM(raw)
            self._first = self._first or key_id

    def seal(self, project_id: str, name: str, value: str) -> str:
        if not self._keys:
            raise SecretsUnavailable("no IRONWORKS_SECRETS_KEY is set: secrets cannot be stored")
        nonce = os.urandom(12)
        sealed = self._keys[self._first].encrypt(nonce, value.encode(), _aad(project_id, name))
        return f"{VERSION}:{self._first}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, project_id: str, name: str, sealed: str) -> str:
        try:
            version, key_id, body = sealed.split(":", 2)
            raw = base64.b64decode(body)
            key = self._keys[key_id]
            if version != VERSION:
                raise ValueError(version)
            return key.decrypt(raw[:12], raw[12:], _aad(project_id, name)).decode()
        except KeyError:
            raise SecretsUnavailable(
                f"secret {name} is sealed with key {key_id}, which IRONWORKS_SECRETS_KEY lacks"
            ) from None
        except (ValueError, InvalidTag) as e:
            raise SecretsUnavailable(f"secret {name} cannot be opened: {e!r}") from None

    def is_current(self, sealed: str) -> bool:
        return sealed.split(":", 2)[1:2] == [self._first]


@functools.cache
def vault_for(keys: str) -> Vault:
    """One vault per key setting, made once per process."""
    return Vault(keys)


def masker_for(values: Iterable[str], json_text: bool = False) -> Masker:
    """A masker of these values; for JSON text, also of their JSON-escaped forms."""
    values = list(values)
    if json_text:
        values += [json.dumps(v)[1:-1] for v in values]
    return Masker(values)


def rotate(store, vault: Vault) -> int:
    """Seal every secret not sealed with the vault's first key again with it; returns how
    many. A secret set meanwhile is left as it was set (it has the current key already)."""
    resealed = 0
    for project_id, name, sealed in store.secrets.every_sealed(store.projects.ids()):
        if vault.is_current(sealed):
            continue
        value = vault.open(project_id, name, sealed)
        resealed += store.secrets.reseal(project_id, name, sealed,
                                         vault.seal(project_id, name, value))  # fmt: skip
    return resealed


def _aad(project_id: str, name: str) -> bytes:
    return f"ironworks-secret:{project_id}:{name}".encode()


class Masker:
    """Replaces secret values in a stream of text with `***`, also across chunk boundaries:
    the last few characters (one less than the longest value) are held back until the next
    chunk or the end, so a value written in two parts is still caught whole."""

    def __init__(self, values: Iterable[str]) -> None:
        # Longest first: a value that contains another is masked whole.
        wanted = sorted({v for v in values if len(v) >= MIN_MASKED_CHARS}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, wanted))) if wanted else None
        self._hold = max(map(len, wanted), default=1) - 1
        self._pending = ""

    def feed(self, chunk: str) -> str:
        """What can be passed on now, masked."""
        if self._pattern is None:
            return chunk
        text = self._pending + chunk
        masked, cut = self._mask_upto(text, len(text) - self._hold)
        self._pending = text[cut:]
        return masked

    def flush(self) -> str:
        """The rest, at the end of the stream."""
        text, self._pending = self._pending, ""
        return self.mask(text)

    def mask(self, text: str) -> str:
        """Masks a whole text at once (no state)."""
        return self._pattern.sub(MASK, text) if self._pattern else text

    def _mask_upto(self, text: str, limit: int) -> tuple[str, int]:
        """Masks `text` up to `limit` (or past it, to the end of a match that starts before
        it); returns the masked part and where it ends in `text`."""
        assert self._pattern is not None  # feed passes text through when nothing is masked
        out, pos = [], 0
        for match in self._pattern.finditer(text):
            if match.start() >= limit:
                break
            out += [text[pos : match.start()], MASK]
            pos = match.end()
        end = max(limit, pos)
        out.append(text[pos:end])
        return "".join(out), end
