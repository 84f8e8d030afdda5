"""Every process's way to its Redis: one URL, a plain server or a Sentinel-watched service.

`redis://`, `rediss://` and `unix://` URLs are read by redis-py as they always were. A URL
`redis+sentinel://[[USER]:PASSWORD@]HOST:PORT,HOST:PORT,.../SERVICE[/DB]` names the
sentinels that watch SERVICE: each connection asks them for the service's current master, so
after a failover the platform writes to the new master (the calls in flight meanwhile fail
as a Redis restart's do, and are answered with a 503 or retried). The password is the data
nodes'; sentinels are asked without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from redis import Redis
from redis.sentinel import Sentinel

from ironworks.errors import ConfigError

SENTINEL_SCHEME = "redis+sentinel"
# How long a sentinel may take to answer, and a node to accept a connection. A node's reads
# have no timeout (held reads block for as long as asked); a dead host's connections are
# found by TCP keepalive.
SOCKET_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: list[tuple[str, int]]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SentinelUrl:
        parts = urlsplit(url)
        userinfo, _, hostlist = parts.netloc.rpartition("@")
        username, _, password = userinfo.partition(":")
        path = [p for p in parts.path.split("/") if p]
        if not hostlist or not 1 <= len(path) <= 2:
            raise ConfigError(
                f"a Sentinel URL is {SENTINEL_SCHEME}://HOST:PORT,HOST:PORT/SERVICE[/DB]: {url!r}"
            )
        try:
            sentinels = [_host_port(hp) for hp in hostlist.split(",")]
            db = int(path[1]) if len(path) == 2 else 0
        except ValueError as e:
            raise ConfigError(f"bad Sentinel URL {url!r}: {e}") from e
        return cls(sentinels, unquote(path[0]), db, unquote(username) or None,
                   unquote(password) or None)  # fmt: skip


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def connect(url: str, *, decode_responses: bool = False) -> Redis:
    """A client for `url` (see the module's docstring)."""
    # redis-py 8 reads with a 5 s timeout unless told otherwise: a large write (a 100,000-item
    # batch's MULTI) or a slow fsync then fails as if Redis were gone. Our reads have none.
    if urlsplit(url).scheme != SENTINEL_SCHEME:
        return Redis.from_url(url, decode_responses=decode_responses, socket_timeout=None,
                              socket_keepalive=True)  # fmt: skip
    parsed = SentinelUrl.parse(url)
    sentinel = Sentinel(parsed.sentinels, socket_timeout=SOCKET_TIMEOUT_S)
    return sentinel.master_for(
        parsed.service,
        db=parsed.db,
        username=parsed.username,
        password=parsed.password,
        decode_responses=decode_responses,
        socket_timeout=None,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        socket_keepalive=True,
    )
