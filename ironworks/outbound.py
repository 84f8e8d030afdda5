"""HTTP to addresses a tenant chose (outbound webhooks), kept off the platform's own network.

A tenant picks the URL, so without care the platform's deliverer would POST into its own Redis,
a cloud's metadata service or any private host, and the deliveries API would report back what
answered: a port scanner. Two checks stop it. When a hook is created, a URL whose host is a
literal forbidden address (or `localhost`) is refused with a clear message. When a delivery is
made, the host's name is resolved and the connection is made to an address that passed the
check — not resolved a second time — so a name that resolves (or rebinds) to 127.0.0.1 is
refused too. Redirects are never followed: they are only another way to name a target.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ironworks.errors import BadRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOCAL_NAMES = ("localhost", "localhost.localdomain")


class ForbiddenTarget(BadRequest):
    """A URL whose host is (or resolves only to) an address tenants may not reach."""


def is_forbidden(address: Address) -> bool:
    """Loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved and
    documentation ranges: everything that is not a public unicast address, for IPv4 and IPv6,
    including an IPv4 address carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_ipv4(address)
        if carried is not None:
            return is_forbidden(carried)
    return not address.is_global or address.is_multicast


def check_url(url: str, allow_private: bool) -> None:
    """What can be told from the URL alone, when a hook is created (names resolve later)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("'url' must be an http(s) URL")
    if allow_private:
        return
    host = parts.hostname.rstrip(".").lower()
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        raise ForbiddenTarget(f"'url' may not point at this host ({parts.hostname})")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: checked on the addresses it resolves to, at each delivery
    if is_forbidden(address):
        raise ForbiddenTarget(f"'url' may not point at a private or reserved address ({host})")


def session(allow_private: bool) -> requests.Session:
    """A requests session whose every connection goes to a checked address only, and which
    ignores proxy variables (a proxy would connect on our behalf, unchecked)."""
    guarded = requests.Session()
    guarded.trust_env = False
    adapter = _GuardedAdapter(allow_private)
    guarded.mount("http://", adapter)
    guarded.mount("https://", adapter)
    return guarded


def connect(host: str, port: int, timeout: float | None, allow_private: bool) -> socket.socket:
    """A TCP connection to the first allowed address `host` resolves to."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise OSError(f"cannot resolve {host}: {e}") from e
    allowed = [info for info in found if allow_private or not is_forbidden(_address(info[4][0]))]
    if not allowed:
        raise ForbiddenTarget(f"{host} resolves to no public address; refused")
    last_error: OSError | None = None
    for family, kind, proto, _, sockaddr in allowed:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as e:
            sock.close()
            last_error = e
    assert last_error is not None
    raise last_error


def _address(text: str) -> Address:
    return ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone index is no part of it


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        allow_private = self._allow_private

        class Guarded:
            timeout: Any
            host: str
            port: int

            def _new_conn(self) -> socket.socket:
                timeout = self.timeout if isinstance(self.timeout, int | float) else None
                return connect(self.host, self.port, timeout, allow_private)

        class Http(Guarded, HTTPConnection):
            pass

        class Https(Guarded, HTTPSConnection):
            pass

        class HttpPool(HTTPConnectionPool):
            ConnectionCls = Http

        class HttpsPool(HTTPSConnectionPool):
            ConnectionCls = Https

        self.poolmanager.pool_classes_by_scheme = {"http": HttpPool, "https": HttpsPool}
